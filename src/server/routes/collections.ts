// /api/dataverses/*: collections, their contents, publishing and role
// assignments on collections (dataverse-api-notes.md §1.4, §2.1, §2.2).
import { apiError, created, ok, okMessage, readJson, type Ctx, type Router } from '../http.js';
import { hasPermission, identifier, notPermitted, requireAuthenticated } from '../auth.js';
import { collectionJson, datasetJson, isoSeconds } from '../json.js';
import type { CollectionRec } from '../model.js';
import { canSeeCollection, findCollection, findVisibleCollection, ownersJson } from '../collections.js';
import { assignRole } from '../roles.js';
import { isReleased } from '../versions.js';
import { activeLocks } from '../locks.js';
import { createDatasetIn } from '../dataset-create.js';
import { registerAssignmentRoutes } from './assignments.js';

interface NewCollectionBody {
  alias?: unknown;
  name?: unknown;
  affiliation?: unknown;
  description?: unknown;
  dataverseType?: unknown;
  dataverseContacts?: { contactEmail?: unknown }[];
}

const DATAVERSE_TYPES = [
  'DEPARTMENT',
  'JOURNALS',
  'LABORATORY',
  'ORGANIZATIONS_INSTITUTIONS',
  'RESEARCHERS',
  'RESEARCH_GROUP',
  'RESEARCH_PROJECTS',
  'TEACHING_COURSES',
  'UNCATEGORIZED',
];

function collectionView(ctx: Ctx, c: CollectionRec): Record<string, unknown> {
  const out = collectionJson(c);
  if (ctx.query.get('returnOwners') === 'true') {
    const owners = ownersJson(ctx.store, c.ownerId);
    if (owners) return insertAfter(out, 'dataverseContacts', 'isPartOf', owners);
  }
  return out;
}

/** Copy of `o` with `key: value` placed right after `after` (key order as the real printer). */
function insertAfter(o: Record<string, unknown>, after: string, key: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [k, v] of Object.entries(o)) {
    out[k] = v;
    if (k === after) {
      out[key] = value;
      placed = true;
    }
  }
  if (!placed) out[key] = value;
  return out;
}

async function createCollection(ctx: Ctx): Promise<void> {
  const parent = findCollection(ctx, ctx.params.parent);
  const user = requireAuthenticated(ctx);
  const body = await readJson<NewCollectionBody>(ctx, 'Error parsing Json: invalid JSON');
  if (!hasPermission(ctx.store, user, 'AddDataverse', parent.id)) throw notPermitted(user);
  const alias = typeof body.alias === 'string' ? body.alias : '';
  const name = typeof body.name === 'string' ? body.name : '';
  if (!alias) throw apiError(400, 'Validation error: Please enter an alias.');
  if (!/^[\w-]+$/.test(alias)) {
    throw apiError(400, "Validation error: Found an illegal character(s). Valid characters are a-Z, 0-9, '_', and '-'.");
  }
  if (!name) throw apiError(400, 'Validation error: Please enter a name.');
  const contacts = (Array.isArray(body.dataverseContacts) ? body.dataverseContacts : [])
    .map((x) => x?.contactEmail)
    .filter((e): e is string => typeof e === 'string');
  if (contacts.length === 0) throw apiError(400, 'Validation error: Please enter a contact email.');
  const type = typeof body.dataverseType === 'string' ? body.dataverseType : 'UNCATEGORIZED';
  if (!DATAVERSE_TYPES.includes(type)) throw apiError(400, `Invalid dataverse type: ${type}`);
  // CreateDataverseCommand: an IllegalCommandException, hence 403.
  if (ctx.store.collectionByAlias(alias)) throw apiError(403, `A dataverse with alias ${alias} already exists`);
  const c: CollectionRec = {
    id: ctx.store.nextId('dvObject'),
    alias,
    name,
    ownerId: parent.id,
    affiliation: typeof body.affiliation === 'string' ? body.affiliation : undefined,
    description: typeof body.description === 'string' ? body.description : undefined,
    dataverseType: type,
    contactEmails: contacts,
    creationDate: isoSeconds(),
    released: false,
    creatorId: user.id,
  };
  ctx.store.addCollection(c);
  assignRole(ctx.store, identifier(user), 'admin', c.id);
  await ctx.store.commit();
  created(ctx, `${ctx.config.publicUrl}/api/v1/dataverses/${c.alias}`, collectionJson(c));
}

function listContents(ctx: Ctx): void {
  const c = findVisibleCollection(ctx, ctx.params.id);
  const { store, user } = ctx;
  const out: Record<string, unknown>[] = [];
  for (const child of store.childCollections(c.id)) {
    if (!canSeeCollection(ctx, child)) continue;
    out.push({ type: 'dataverse', id: child.id, title: child.name });
  }
  for (const ds of store.childDatasets(c.id)) {
    if (!isReleased(ds) && !hasPermission(store, user, 'ViewUnpublishedDataset', ds.id)) continue;
    activeLocks(ds);
    out.push({ ...datasetJson(store, ctx.config, ds), type: 'dataset' });
  }
  ok(ctx, out);
}

async function deleteCollection(ctx: Ctx): Promise<void> {
  const c = findCollection(ctx, ctx.params.id);
  if (!hasPermission(ctx.store, ctx.user, 'DeleteDataverse', c.id)) throw notPermitted(ctx.user);
  // DeleteDataverseCommand's checks (IllegalCommandException: 403).
  if (c.ownerId === undefined) throw apiError(403, 'Cannot delete the root dataverse');
  if (ctx.store.childCollections(c.id).length || ctx.store.childDatasets(c.id).length) {
    throw apiError(403, 'Cannot delete non-empty dataverses');
  }
  ctx.store.removeCollection(c.id);
  ctx.store.state.roleAssignments = ctx.store.state.roleAssignments.filter((r) => r.definitionPointId !== c.id);
  await ctx.store.commit();
  okMessage(ctx, `Dataverse ${ctx.params.id} deleted`);
}

async function publishCollection(ctx: Ctx): Promise<void> {
  const c = findCollection(ctx, ctx.params.id);
  const user = requireAuthenticated(ctx);
  if (!hasPermission(ctx.store, user, 'PublishDataverse', c.id)) throw notPermitted(user);
  // PublishDataverseCommand checks "already published" before the host.
  if (c.released) throw apiError(403, `Dataverse ${c.alias} has already been published.`);
  const owner = c.ownerId === undefined ? undefined : ctx.store.collection(c.ownerId);
  if (owner && !owner.released) {
    throw apiError(
      403,
      `Dataverse ${c.alias} may not be published because its host dataverse (${owner.alias}) has not been published.`,
    );
  }
  c.released = true;
  c.publicationDate = isoSeconds();
  await ctx.store.commit();
  ok(ctx, collectionJson(c));
}

async function createDataset(ctx: Ctx): Promise<void> {
  const c = findCollection(ctx, ctx.params.id);
  const ds = await createDatasetIn(ctx, c);
  created(ctx, `${ctx.config.publicUrl}/api/v1/datasets/${ds.id}`, {
    id: ds.id,
    persistentId: `${ds.protocol}:${ds.authority}${ds.separator}${ds.identifier}`,
  });
}

export function registerCollectionRoutes(router: Router): void {
  router.get('dataverses/:id', (ctx) => ok(ctx, collectionView(ctx, findVisibleCollection(ctx, ctx.params.id))));
  router.post('dataverses/:parent', createCollection);
  router.delete('dataverses/:id', deleteCollection);
  router.get('dataverses/:id/contents', listContents);
  router.post('dataverses/:id/actions/=:publish', publishCollection);
  router.post('dataverses/:id/datasets', createDataset);
  registerAssignmentRoutes(router);
}
