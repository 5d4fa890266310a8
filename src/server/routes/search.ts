// GET /api/search (dataverse-api-notes.md §12): q as a case-insensitive
// substring over names, titles and descriptions (`*` = everything), type and
// subtree filters, paging, sort by name or date. Guests see published objects only.
import { apiError, ok, type Ctx, type Router } from '../http.js';
import { hasPermission } from '../auth.js';
import { findCollection } from '../collections.js';
import { collectionDoc, datasetDoc, fileDoc, type SearchDoc, type SearchType } from '../search-items.js';
import { draftOf, latestReleased } from '../versions.js';

const TYPES: SearchType[] = ['dataverse', 'dataset', 'file'];
const MAX_PER_PAGE = 1000;

/** Every document the caller may see: published ones, plus drafts/unpublished where permitted. */
function visibleDocs(ctx: Ctx): SearchDoc[] {
  const { store, config, user } = ctx;
  const docs: SearchDoc[] = [];
  for (const c of store.state.collections) {
    if (c.ownerId === undefined) continue; // the root collection is not indexed as a card
    if (c.released || hasPermission(store, user, 'ViewUnpublishedDataverse', c.id)) docs.push(collectionDoc(store, config, c));
  }
  for (const ds of store.state.datasets) {
    const versions = [];
    const released = latestReleased(ds);
    if (released) versions.push(released);
    const draft = draftOf(ds);
    if (draft && hasPermission(store, user, 'ViewUnpublishedDataset', ds.id)) versions.push(draft);
    for (const v of versions) {
      docs.push(datasetDoc(store, config, ds, v));
      for (const fm of v.files) {
        const d = fileDoc(store, config, ds, v, fm);
        if (d) docs.push(d);
      }
    }
  }
  return docs;
}

function intParam(ctx: Ctx, name: string, dflt: number): number {
  const v = ctx.query.get(name);
  if (v === null || v === '') return dflt;
  if (!/^-?\d+$/.test(v)) throw apiError(400, `Invalid value for '${name}': ${v}`);
  return Number(v);
}

/** The ids of a collection and every collection below it. */
function subtreeIds(ctx: Ctx, rootId: number): Set<number> {
  const ids = new Set<number>([rootId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of ctx.store.state.collections) {
      if (c.ownerId !== undefined && ids.has(c.ownerId) && !ids.has(c.id)) {
        ids.add(c.id);
        grew = true;
      }
    }
  }
  return ids;
}

function search(ctx: Ctx): void {
  const q = ctx.query.get('q');
  if (q === null || q.trim() === '') throw apiError(400, 'q parameter is missing');
  const types = ctx.query.getAll('type');
  for (const t of types) {
    if (!(TYPES as string[]).includes(t)) throw apiError(400, `Invalid type '${t}'. Must be dataverse, dataset, or file.`);
  }
  const start = intParam(ctx, 'start', 0);
  const perPage = intParam(ctx, 'per_page', 10);
  if (perPage > MAX_PER_PAGE) throw apiError(400, `The 'per_page' parameter can not be more than ${MAX_PER_PAGE}.`);
  if (start < 0 || perPage < 0) throw apiError(400, 'start and per_page must not be negative');
  const sort = ctx.query.get('sort') ?? 'score';
  if (!['name', 'date', 'score'].includes(sort)) throw apiError(400, `Invalid sort field: ${sort}`);
  const order = ctx.query.get('order') ?? (sort === 'name' ? 'asc' : 'desc');
  if (order !== 'asc' && order !== 'desc') throw apiError(400, `Invalid order: ${order}`);

  let scope: Set<number> | undefined;
  for (const alias of ctx.query.getAll('subtree')) {
    const c = findCollection(ctx, alias);
    scope ??= new Set();
    for (const id of subtreeIds(ctx, c.id)) scope.add(id);
  }

  const needle = q.trim() === '*' ? undefined : q.trim().toLowerCase();
  let docs = visibleDocs(ctx).filter(
    (d) =>
      (types.length === 0 || types.includes(d.type)) &&
      (scope === undefined || (d.collectionId !== undefined && scope.has(d.collectionId))) &&
      (needle === undefined || d.text.some((t) => t.toLowerCase().includes(needle))),
  );
  const dir = order === 'asc' ? 1 : -1;
  if (sort === 'name') {
    docs.sort((a, b) => dir * a.name.toLowerCase().localeCompare(b.name.toLowerCase(), 'en') || a.id - b.id);
  } else if (sort === 'date') {
    docs.sort((a, b) => dir * (Date.parse(a.date) - Date.parse(b.date)) || a.id - b.id);
  } else {
    // Every match scores the same here: index order (dvObject id) breaks the tie.
    docs = docs.sort((a, b) => a.id - b.id);
  }
  const items = docs.slice(start, start + perPage).map((d) => d.item);
  const data: Record<string, unknown> = {
    q,
    total_count: docs.length,
    start,
    spelling_alternatives: {},
    items,
    count_in_response: items.length,
  };
  if (ctx.query.get('show_type_counts') === 'true') {
    const count = (t: SearchType) => docs.filter((d) => d.type === t).length;
    data.total_count_per_object_type = { Dataverses: count('dataverse'), Datasets: count('dataset'), Files: count('file') };
  }
  ok(ctx, data);
}

export function registerSearchRoutes(router: Router): void {
  router.get('search', search);
}
