// /api/datasets/*: viewing datasets and versions, the file listing of a
// version, publishing, locks, the draft's metadata and deletion
// (dataverse-api-notes.md §2.3–§2.5, §3, §9, §10).
import { apiError, jaxrsError, ok, okMessage, readJson, type Ctx, type Router } from '../http.js';
import { canEdit, canViewUnpublished, hasPermission, notPermitted, requireAuthenticated } from '../auth.js';
import { datasetJson, fileMetadataJson, lockJson, versionJson } from '../json.js';
import { LOCK_TYPES, type DatasetRec, type LockType, type MetadataField, type VersionRec } from '../model.js';
import { activeLocks, addLock, editBlockingLocks, removeLocks } from '../locks.js';
import { draftOf, findDataset, getOrCreateDraft, isReleased, latestReleased, resolveVersion, touch } from '../versions.js';
import { ownersJson } from '../collections.js';
import { parseReleaseType, publishDataset } from '../publish.js';
import { deleteDraft, destroyDataset } from '../draft-delete.js';
import { parseCitationFields, parseLicense } from '../dataset-create.js';
import { fileCounts, filterFiles, page, parseFileQuery, parseOrder, parsePaging, sortFiles } from '../version-files.js';

/** A dataset the caller may see: an unpublished one needs ViewUnpublishedDataset (401, GetDatasetCommand). */
function findVisibleDataset(ctx: Ctx): DatasetRec {
  const ds = findDataset(ctx, ctx.params.id);
  if (!isReleased(ds) && !canViewUnpublished(ctx.store, ctx.user, ds)) throw notPermitted(ctx.user);
  return ds;
}

/** json(Dataset) with isPartOf when ?returnOwners=true. */
function datasetView(ctx: Ctx, ds: DatasetRec): Record<string, unknown> {
  activeLocks(ds);
  const out = datasetJson(ctx.store, ctx.config, ds);
  if (ctx.query.get('returnOwners') === 'true') {
    const owners = ownersJson(ctx.store, ds.ownerId);
    if (owners) out.isPartOf = owners;
  }
  return out;
}

function versionOptions(ctx: Ctx) {
  return {
    includeFiles: ctx.query.get('excludeFiles') !== 'true',
    includeMetadataBlocks: ctx.query.get('excludeMetadataBlocks') !== 'true',
  };
}

function getDataset(ctx: Ctx): void {
  const ds = findVisibleDataset(ctx);
  const out = datasetView(ctx, ds);
  // GetLatestAccessibleDatasetVersionCommand: the draft for those who may see it.
  const draft = canViewUnpublished(ctx.store, ctx.user, ds) ? draftOf(ds) : undefined;
  const latest = draft ?? latestReleased(ds) ?? latestReleased(ds, true);
  if (latest) out.latestVersion = versionJson(ctx.store, ds, latest);
  ok(ctx, out);
}

function listVersions(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const editor = canEdit(ctx.store, ctx.user, ds);
  // Newest first; the draft (null versionNumber) sorts first.
  const visible = [...ds.versions].reverse().filter((v) => editor || v.versionState === 'RELEASED');
  const paging = parsePaging(ctx.query);
  const opts = versionOptions(ctx);
  ok(ctx, page(visible, paging).map((v) => versionJson(ctx.store, ds, v, opts)));
}

function getVersion(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const v = resolveVersion(ctx, ds, ctx.params.v);
  const out = versionJson(ctx.store, ds, v, versionOptions(ctx));
  if (ctx.query.get('returnOwners') === 'true') {
    const owners = ownersJson(ctx.store, ds.ownerId);
    if (owners) out.isPartOf = owners;
  }
  ok(ctx, out);
}

function listVersionFiles(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const v = resolveVersion(ctx, ds, ctx.params.v);
  const query = parseFileQuery(ctx.query);
  const order = parseOrder(ctx.query);
  const paging = parsePaging(ctx.query);
  const files = sortFiles(ctx.store, filterFiles(ctx.store, v, query), order);
  ok(
    ctx,
    page(files, paging).map((fm) => fileMetadataJson(ctx.store, ds, v, fm)),
    { totalCount: files.length },
  );
}

function countVersionFiles(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const v = resolveVersion(ctx, ds, ctx.params.v);
  ok(ctx, fileCounts(ctx.store, filterFiles(ctx.store, v, parseFileQuery(ctx.query))));
}

// --- publishing ---

async function publish(ctx: Ctx): Promise<void> {
  const type = parseReleaseType(ctx.query.get('type'));
  const user = requireAuthenticated(ctx);
  const ds = findDataset(ctx, ctx.params.id);
  if (!hasPermission(ctx.store, user, 'PublishDataset', ds.id)) throw notPermitted(user);
  publishDataset(ctx.store, ctx.config, ds, user, type);
  await ctx.store.commit();
  ok(ctx, datasetJson(ctx.store, ctx.config, ds));
}

// --- locks ---

function parseLockType(value: string): LockType | undefined {
  return (LOCK_TYPES as readonly string[]).includes(value) ? (value as LockType) : undefined;
}

function getLocks(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const t = ctx.query.get('type');
  let type: LockType | undefined;
  if (t !== null) {
    type = parseLockType(t);
    if (!type) throw apiError(400, `Invalid lock type value: ${t}`);
  }
  const locks = activeLocks(ds).filter((l) => type === undefined || l.lockType === type);
  ok(ctx, locks.map((l) => lockJson(ds, l)));
}

function requireSuperuser(ctx: Ctx): void {
  const user = requireAuthenticated(ctx);
  if (!user.superuser) throw apiError(403, 'This API end point can be used by superusers only.');
}

async function lock(ctx: Ctx): Promise<void> {
  // {type} is an enum path parameter: JAX-RS answers 404 when it does not convert.
  const type = parseLockType(ctx.params.type);
  if (!type) throw jaxrsError(ctx, 404);
  requireSuperuser(ctx);
  const ds = findDataset(ctx, ctx.params.id);
  if (activeLocks(ds).some((l) => l.lockType === type)) {
    throw apiError(403, `dataset already locked with lock type ${type}`);
  }
  addLock(ds, type, ctx.user!.username);
  await ctx.store.commit();
  okMessage(ctx, `dataset locked with lock type ${type}`);
}

async function unlock(ctx: Ctx): Promise<void> {
  const t = ctx.query.get('type');
  const type = t === null ? undefined : parseLockType(t);
  if (t !== null && !type) throw jaxrsError(ctx, 404);
  requireSuperuser(ctx);
  const ds = findDataset(ctx, ctx.params.id);
  const locks = activeLocks(ds);
  if (type === undefined) {
    if (locks.length === 0) return okMessage(ctx, 'dataset not locked');
    removeLocks(ds);
    await ctx.store.commit();
    return okMessage(ctx, 'locks removed');
  }
  if (!locks.some((l) => l.lockType === type)) return okMessage(ctx, `no lock type ${type} on the dataset`);
  removeLocks(ds, type);
  await ctx.store.commit();
  okMessage(ctx, `lock type ${type} removed`);
}

// --- the draft ---

function checkEditLocks(ds: DatasetRec): void {
  if (editBlockingLocks(ds).length) {
    const inReview = ds.locks.some((l) => l.lockType === 'InReview');
    throw apiError(403, `Dataset cannot be edited due to ${inReview ? 'In Review ' : ''}dataset lock.`);
  }
}

function editableDraft(ctx: Ctx, ds: DatasetRec): VersionRec {
  if (!canEdit(ctx.store, ctx.user, ds)) throw notPermitted(ctx.user);
  checkEditLocks(ds);
  return getOrCreateDraft(ctx.store, ds);
}

/** PUT /versions/:draft with a datasetVersion body: replaces the citation metadata (and license). */
async function updateDraft(ctx: Ctx): Promise<void> {
  const ds = findDataset(ctx, ctx.params.id);
  if (ctx.params.v !== ':draft') throw apiError(400, 'Only the :draft version can be updated');
  const body = await readJson<{ metadataBlocks?: { citation?: { fields?: unknown } }; license?: unknown; termsOfUse?: unknown }>(ctx);
  const fields = parseCitationFields(body.metadataBlocks?.citation?.fields);
  const draft = editableDraft(ctx, ds);
  draft.fields = fields;
  if (body.license !== undefined || body.termsOfUse !== undefined) {
    const terms = typeof body.termsOfUse === 'string' && body.termsOfUse ? body.termsOfUse : undefined;
    draft.license = parseLicense(body.license, terms);
    draft.termsOfUse = draft.license ? undefined : terms;
  }
  touch(draft);
  await ctx.store.commit();
  ok(ctx, versionJson(ctx.store, ds, draft));
}

/** PUT /editMetadata {"fields":[...]}: add to empty or multiple fields, or replace with ?replace=true. */
async function editMetadata(ctx: Ctx): Promise<void> {
  const ds = findDataset(ctx, ctx.params.id);
  const body = await readJson<{ fields?: unknown }>(ctx);
  const raw = Array.isArray(body.fields) ? body.fields : [];
  const incoming: MetadataField[] = raw.length ? parseFieldsNoTitle(raw) : [];
  const replace = ctx.query.get('replace') === 'true';
  const draft = editableDraft(ctx, ds);
  for (const f of incoming) {
    const cur = draft.fields.find((x) => x.typeName === f.typeName);
    if (!cur) draft.fields.push(f);
    else if (replace) cur.value = f.value;
    else if (cur.multiple && Array.isArray(cur.value) && Array.isArray(f.value)) cur.value = [...cur.value, ...f.value];
    else {
      throw apiError(
        400,
        `You may not add data to a field that already has data and does not allow multiples. Use replace=true to replace existing data (${f.typeName})`,
      );
    }
  }
  touch(draft);
  await ctx.store.commit();
  ok(ctx, versionJson(ctx.store, ds, draft));
}

function parseFieldsNoTitle(raw: unknown[]): MetadataField[] {
  // parseCitationFields insists on a title; an edit may carry only some fields.
  const hasTitle = raw.some((x) => (x as MetadataField)?.typeName === 'title');
  const probe = hasTitle ? raw : [...raw, { typeName: 'title', multiple: false, typeClass: 'primitive', value: 'x' }];
  const parsed = parseCitationFields(probe);
  return hasTitle ? parsed : parsed.slice(0, -1);
}

async function deleteDraftVersion(ctx: Ctx): Promise<void> {
  const ds = findDataset(ctx, ctx.params.id);
  if (ctx.params.v !== ':draft') throw apiError(400, 'Only the :draft version can be deleted');
  if (!hasPermission(ctx.store, ctx.user, 'DeleteDatasetDraft', ds.id)) throw notPermitted(ctx.user);
  if (!draftOf(ds)) throw apiError(401, 'This is NOT a DRAFT version');
  // DeleteDatasetVersionCommand → checkEditDatasetLock: every lock blocks, Ingest too.
  if (activeLocks(ds).length) throw apiError(403, 'Dataset cannot be edited due to dataset lock.');
  await deleteDraft(ctx.store, ds);
  okMessage(ctx, `Draft version of dataset ${ds.id} deleted`);
}

/** DELETE /api/datasets/{id}: the draft (or a never-published dataset); a published single version for superusers. */
async function deleteDataset(ctx: Ctx): Promise<void> {
  const ds = findDataset(ctx, ctx.params.id);
  const superuser = ctx.user?.superuser === true;
  if (ds.versions.length === 1) {
    if (isReleased(ds) && !superuser) throw apiError(401, 'Only superusers can delete published datasets');
  } else if (!draftOf(ds)) {
    throw apiError(
      401,
      'This is a published dataset with multiple versions. This API can only delete the latest version if it is a DRAFT',
    );
  }
  if (!hasPermission(ctx.store, ctx.user, 'DeleteDatasetDraft', ds.id)) throw notPermitted(ctx.user);
  if (activeLocks(ds).length) throw apiError(403, 'Dataset cannot be edited due to dataset lock.');
  // A superuser may delete a published single-version dataset: it is destroyed.
  if (draftOf(ds)) await deleteDraft(ctx.store, ds);
  else await destroyDataset(ctx.store, ds);
  okMessage(ctx, `Dataset ${ctx.params.id} deleted`);
}

function userPermissions(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const has = (p: Parameters<typeof hasPermission>[2]) => hasPermission(ctx.store, ctx.user, p, ds.id);
  ok(ctx, {
    canViewUnpublishedDataset: has('ViewUnpublishedDataset'),
    canEditDataset: has('EditDataset'),
    canPublishDataset: has('PublishDataset'),
    canManageDatasetPermissions: has('ManageDatasetPermissions'),
    canDeleteDatasetDraft: has('DeleteDatasetDraft'),
  });
}

export function registerDatasetRoutes(router: Router): void {
  router.get('datasets/:id', getDataset);
  router.delete('datasets/:id', deleteDataset);
  router.get('datasets/:id/versions', listVersions);
  router.get('datasets/:id/versions/:v', getVersion);
  router.put('datasets/:id/versions/:v', updateDraft);
  router.delete('datasets/:id/versions/:v', deleteDraftVersion);
  router.get('datasets/:id/versions/:v/files', listVersionFiles);
  router.get('datasets/:id/versions/:v/files/counts', countVersionFiles);
  router.put('datasets/:id/editMetadata', editMetadata);
  router.post('datasets/:id/actions/=:publish', publish);
  router.get('datasets/:id/locks', getLocks);
  router.delete('datasets/:id/locks', unlock);
  router.post('datasets/:id/lock/:type', lock);
  router.get('datasets/:id/userPermissions', userPermissions);
}
