// JSON printers with the real server's shapes (dataverse-api-notes.md §2).
// Keys whose value is undefined are left out, as NullSafeJsonBuilder does.
import type {
  CollectionRec,
  DataFileRec,
  DatasetRec,
  FileMetadataRec,
  LockRec,
  UserRec,
  VersionRec,
} from './model.js';
import type { Store } from './store.js';
import { globalId } from './store.js';
import type { ServerConfig } from './config.js';

// --- formats ---

/** yyyy-MM-dd'T'HH:mm:ss'Z' in UTC. */
export function isoSeconds(d: Date | string | number = new Date()): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** yyyy-MM-dd in the server's time zone. */
export function dateOnly(d: Date | string | number = new Date()): string {
  const x = new Date(d);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${x.getFullYear()}-${p(x.getMonth() + 1)}-${p(x.getDate())}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Java Date.toString(): "Fri Aug 17 15:05:51 UTC 2018" (lock dates). */
export function javaDateString(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** java.net.URLEncoder.encode (form encoding), then '+' → '%20', as Content-Disposition uses it. */
export function javaUrlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2A/g, '*');
}

/** FileSizeChecker.bytesToHumanReadable: "N B" below 1024, else one decimal on 1024 powers. */
export function humanSize(bytes: number | undefined): string {
  if (bytes === undefined || bytes === null) return 'Size not available';
  if (bytes < 1024) return `${bytes} B`;
  const exp = Math.floor(Math.log(bytes) / Math.log(1024));
  const unit = 'KMGTPE'[exp - 1];
  return `${(bytes / 1024 ** exp).toFixed(1)} ${unit}B`;
}

const FRIENDLY: Record<string, string> = {
  'text/plain': 'Plain Text',
  'text/csv': 'Comma Separated Values',
  'text/comma-separated-values': 'Comma Separated Values',
  'text/tab-separated-values': 'Tab-Delimited',
  'text/tsv': 'Tab-Separated Values',
  'text/markdown': 'Markdown Text',
  'text/html': 'HTML',
  'text/xml': 'XML',
  'application/json': 'JSON',
  'application/pdf': 'Adobe PDF',
  'application/zip': 'ZIP Archive',
  'application/x-sqlite3': 'SQLite Database',
  'application/vnd.sqlite3': 'SQLite Database',
  'application/octet-stream': 'Unknown',
  'image/png': 'PNG Image',
  'image/jpeg': 'JPEG Image',
  'image/gif': 'GIF Image',
  'image/tiff': 'TIFF Image',
  'application/x-stata': 'Stata Binary',
  'application/x-spss-sav': 'SPSS SAV',
  'application/x-rlang-transport': 'R Data',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'MS Excel Spreadsheet',
};

/** The "friendly" type name Dataverse shows (friendlyType, and in replace errors). */
export function friendlyType(contentType: string): string {
  const base = contentType.split(';')[0].trim();
  return FRIENDLY[base] ?? base;
}

// --- objects ---

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export function collectionJson(c: CollectionRec): Record<string, unknown> {
  return dropUndefined({
    id: c.id,
    alias: c.alias,
    name: c.name,
    affiliation: c.affiliation,
    dataverseContacts: c.contactEmails.map((contactEmail, displayOrder) => ({ displayOrder, contactEmail })),
    permissionRoot: true,
    description: c.description,
    dataverseType: c.dataverseType,
    isMetadataBlockRoot: c.ownerId === undefined,
    isFacetRoot: c.ownerId === undefined,
    ownerId: c.ownerId,
    creationDate: c.creationDate,
    effectiveRequiresFilesToPublishDataset: false,
    isReleased: c.released,
  });
}

export function persistentUrl(d: DatasetRec): string {
  return `https://doi.org/${d.authority}${d.separator}${d.identifier}`;
}

export function datasetJson(store: Store, config: ServerConfig, d: DatasetRec): Record<string, unknown> {
  void store;
  return dropUndefined({
    id: d.id,
    identifier: d.identifier,
    persistentUrl: persistentUrl(d),
    protocol: d.protocol,
    authority: d.authority,
    separator: d.separator,
    publisher: config.installationName,
    publicationDate: d.publicationDate,
    storageIdentifier: `file://${d.authority}/${d.identifier}`,
    datasetType: 'dataset',
    locks: d.locks.map((l) => l.lockType),
  });
}

export function lockJson(d: DatasetRec, l: LockRec): Record<string, unknown> {
  return dropUndefined({
    lockType: l.lockType,
    date: l.date,
    user: l.user,
    dataset: globalId(d),
    message: l.message,
  });
}

export function versionTitle(v: VersionRec): string {
  const f = v.fields.find((x) => x.typeName === 'title');
  return typeof f?.value === 'string' ? f.value : '';
}

export interface VersionJsonOptions {
  includeFiles?: boolean;
  includeMetadataBlocks?: boolean;
}

export function versionJson(
  store: Store,
  d: DatasetRec,
  v: VersionRec,
  opts: VersionJsonOptions = {},
): Record<string, unknown> {
  const { includeFiles = true, includeMetadataBlocks = true } = opts;
  const latest = d.versions[d.versions.length - 1];
  const released = v.versionState !== 'DRAFT';
  const out: Record<string, unknown> = dropUndefined({
    id: v.id,
    datasetId: d.id,
    datasetPersistentId: globalId(d),
    datasetType: 'dataset',
    storageIdentifier: `file://${d.authority}/${d.identifier}`,
    versionNumber: released ? v.versionNumber : undefined,
    versionMinorNumber: released ? v.minorVersionNumber : undefined,
    internalVersionNumber: v.internalVersionNumber,
    versionState: v.versionState,
    latestVersionPublishingState: latest.versionState,
    versionNote: v.versionNote,
    lastUpdateTime: v.lastUpdateTime,
    releaseTime: v.releaseTime,
    createTime: v.createTime,
    publicationDate: d.publicationDate,
    citationDate: d.publicationDate,
    license: v.license ? dropUndefined({ ...v.license }) : undefined,
    termsOfUse: v.license ? undefined : v.termsOfUse,
    fileAccessRequest: true,
  });
  if (includeMetadataBlocks) {
    out.metadataBlocks = {
      citation: { displayName: 'Citation Metadata', name: 'citation', fields: v.fields },
    };
  }
  if (includeFiles) out.files = v.files.map((fm) => fileMetadataJson(store, d, v, fm));
  return out;
}

/** The file-metadata object of notes §2.6 (files[], /add, /replace, GET /api/files/{id}). */
export function fileMetadataJson(
  store: Store,
  d: DatasetRec,
  v: VersionRec,
  fm: FileMetadataRec,
): Record<string, unknown> {
  const f = store.file(fm.dataFileId);
  if (!f) throw new Error(`file ${fm.dataFileId} missing from the store`);
  return dropUndefined({
    description: fm.description,
    label: fm.label,
    restricted: fm.restricted,
    directoryLabel: fm.directoryLabel,
    version: fm.version,
    datasetVersionId: v.id,
    categories: fm.categories.length ? [...fm.categories] : undefined,
    dataFile: dataFileJson(f, fm, v),
  });
}

export function dataFileJson(f: DataFileRec, fm: FileMetadataRec, v: VersionRec): Record<string, unknown> {
  const t = f.tabular;
  return dropUndefined({
    id: f.id,
    persistentId: '',
    filename: fm.label,
    contentType: f.contentType,
    friendlyType: friendlyType(f.contentType),
    filesize: f.filesize,
    description: fm.description,
    categories: fm.categories.length ? [...fm.categories] : undefined,
    storageIdentifier: `file://${f.blob}`,
    originalFileFormat: t?.originalFileFormat,
    originalFormatLabel: t?.originalFormatLabel,
    originalFileSize: t?.originalFileSize,
    originalFileName: t?.originalFileName,
    UNF: t?.UNF,
    rootDataFileId: f.rootDataFileId,
    previousDataFileId: f.previousDataFileId,
    md5: f.checksum.type === 'MD5' ? f.checksum.value : undefined,
    checksum: { type: f.checksum.type, value: f.checksum.value },
    tabularData: t !== undefined,
    creationDate: dateOnly(f.createDate),
    publicationDate: f.publicationDate,
    directoryLabel: fm.directoryLabel,
    lastUpdateTime: v.lastUpdateTime,
    fileAccessRequest: true,
  });
}

export function userJson(u: UserRec): Record<string, unknown> {
  return dropUndefined({
    id: u.id,
    identifier: `@${u.username}`,
    displayName: `${u.firstName} ${u.lastName}`,
    firstName: u.firstName,
    lastName: u.lastName,
    email: u.email,
    superuser: u.superuser,
    deactivated: u.deactivated,
    affiliation: u.affiliation,
    position: u.position,
    persistentUserId: u.username,
    createdTime: u.createdTime,
    lastApiUseTime: u.lastApiUseTime,
    authenticationProviderId: 'builtin',
  });
}
