// GET /api/datasets/{id}/versions/{v}/files and .../files/counts: filters,
// ordering and paging of DatasetVersionFilesServiceBean (notes §2.5).
import { apiError } from './http.js';
import type { FileMetadataRec, VersionRec } from './model.js';
import type { Store } from './store.js';

const ACCESS_STATUSES = ['Public', 'Restricted', 'EmbargoedThenRestricted', 'EmbargoedThenPublic'] as const;
type AccessStatus = (typeof ACCESS_STATUSES)[number];
const ORDERS = ['NameAZ', 'NameZA', 'Newest', 'Oldest', 'Size', 'Type'] as const;
type Order = (typeof ORDERS)[number];

export interface FileQuery {
  contentType?: string;
  accessStatus?: AccessStatus;
  categoryName?: string;
  tabularTagName?: string;
  searchText?: string;
}

/** Read and validate the filter parameters (400 on bad values, with the real messages). */
export function parseFileQuery(q: URLSearchParams): FileQuery {
  const access = q.get('accessStatus');
  if (access !== null && !(ACCESS_STATUSES as readonly string[]).includes(access)) {
    throw apiError(400, `Invalid access status: ${access}`);
  }
  return {
    contentType: q.get('contentType') ?? undefined,
    accessStatus: (access as AccessStatus | null) ?? undefined,
    categoryName: q.get('categoryName') ?? undefined,
    tabularTagName: q.get('tabularTagName') ?? undefined,
    searchText: q.get('searchText') ?? undefined,
  };
}

export function parseOrder(q: URLSearchParams): Order {
  const o = q.get('orderCriteria');
  if (o === null) return 'NameAZ';
  if (!(ORDERS as readonly string[]).includes(o)) throw apiError(400, `Invalid order criteria: ${o}`);
  return o as Order;
}

/** There are no embargoes here: a file is Public or Restricted by its FileMetadata flag. */
function accessStatus(fm: FileMetadataRec): AccessStatus {
  return fm.restricted ? 'Restricted' : 'Public';
}

export function filterFiles(store: Store, v: VersionRec, query: FileQuery): FileMetadataRec[] {
  const text = query.searchText?.toLowerCase();
  return v.files.filter((fm) => {
    const f = store.file(fm.dataFileId);
    if (!f) return false;
    if (query.contentType !== undefined && f.contentType !== query.contentType) return false;
    if (query.accessStatus !== undefined && accessStatus(fm) !== query.accessStatus) return false;
    if (query.categoryName !== undefined && !fm.categories.includes(query.categoryName)) return false;
    if (query.tabularTagName !== undefined) return false; // no tabular tags are kept
    if (text !== undefined && !fm.label.toLowerCase().includes(text) && !fm.description.toLowerCase().includes(text)) {
      return false;
    }
    return true;
  });
}

/** Database collation stand-in: a locale-aware comparison, then code points. */
function collate(a: string, b: string): number {
  return a.localeCompare(b, 'en') || (a < b ? -1 : a > b ? 1 : 0);
}

export function sortFiles(store: Store, files: FileMetadataRec[], order: Order): FileMetadataRec[] {
  const when = (fm: FileMetadataRec): number => {
    const f = store.file(fm.dataFileId)!;
    return Date.parse(f.publicationDate ?? f.createDate);
  };
  const size = (fm: FileMetadataRec) => store.file(fm.dataFileId)!.filesize;
  const type = (fm: FileMetadataRec) => store.file(fm.dataFileId)!.contentType;
  const byName = (a: FileMetadataRec, b: FileMetadataRec) => collate(a.label, b.label) || a.id - b.id;
  const cmp: Record<Order, (a: FileMetadataRec, b: FileMetadataRec) => number> = {
    NameAZ: byName,
    NameZA: (a, b) => byName(b, a),
    Newest: (a, b) => when(b) - when(a) || byName(a, b),
    Oldest: (a, b) => when(a) - when(b) || byName(a, b),
    Size: (a, b) => size(a) - size(b) || byName(a, b),
    Type: (a, b) => collate(type(a), type(b)) || byName(a, b),
  };
  return [...files].sort(cmp[order]);
}

/** limit/offset as non-negative integers; absent means no limit / 0. */
export function parsePaging(q: URLSearchParams): { offset: number; limit?: number } {
  const num = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw apiError(400, `Invalid ${name} value: ${v}`);
    return Number(v);
  };
  return { offset: num('offset') ?? 0, limit: num('limit') };
}

export function page<T>(items: T[], p: { offset: number; limit?: number }): T[] {
  return items.slice(p.offset, p.limit === undefined ? undefined : p.offset + p.limit);
}

/** The counts object of /files/counts: per-key maps only list keys with files. */
export function fileCounts(store: Store, files: FileMetadataRec[]): Record<string, unknown> {
  const perContentType: Record<string, number> = {};
  const perCategoryName: Record<string, number> = {};
  const perAccessStatus: Record<string, number> = {};
  for (const fm of files) {
    const f = store.file(fm.dataFileId)!;
    perContentType[f.contentType] = (perContentType[f.contentType] ?? 0) + 1;
    for (const c of fm.categories) perCategoryName[c] = (perCategoryName[c] ?? 0) + 1;
    const a = accessStatus(fm);
    perAccessStatus[a] = (perAccessStatus[a] ?? 0) + 1;
  }
  return { total: files.length, perContentType, perCategoryName, perTabularTagName: {}, perAccessStatus };
}
