// The write path's state. One Entry per local path of a draft whose state
// differs from the server's: it holds the DESIRED state (path, content,
// metadata, deleted) and the KNOWN REMOTE state (`base`: the server file it
// stands for). The executor sends whatever request brings the remote state
// to the desired one, one request at a time, and records each result, so a
// rename or a write that arrives during an upload simply leaves more to do.
import type { Checksum, FileMetadataInfo } from '../dataverse/types.js';
import { joinPath } from './names.js';

/** File metadata the user can set (xattrs); undefined = keep the server's. */
export interface FileMeta {
  description?: string;
  categories?: string[];
  restricted?: boolean;
}

/** What the server has for the file an entry stands for. */
export interface BaseFile {
  fileId: number;
  label: string;
  /** undefined at the root. */
  directoryLabel?: string;
  description: string;
  categories: string[];
  restricted: boolean;
  contentType: string;
  /** Checksum of the bytes a read of the file returns (the original for ingested files). */
  checksum?: Checksum;
  size: number;
  /** The path the mount shows it under (differs from directoryLabel/label for ingested tabular files). */
  shownPath: string;
  /** Tabular file shown as its original upload: reads need format=original. */
  original: boolean;
  /** Access API query that reads the bytes the mount shows ('' | 'format=original' | 'noVarHeader=true'). */
  query?: string;
  /** Added by this writer and not released: deleting it destroys nothing of anyone else's. */
  ours?: boolean;
}

/** A request that was sent and whose answer is not recorded yet (looked for on the server at recovery). */
export interface Inflight {
  op: 'add' | 'replace' | 'delete' | 'metadata';
  /** MD5 of the bytes sent (add/replace). */
  md5?: string;
  label?: string;
  directoryLabel?: string;
  /** The file replaced, deleted or renamed. */
  fileId?: number;
  at: number;
}

export type EntryKind = 'file' | 'dir';

/** What is kept in the journal for an entry (never a token, never file bytes). */
export interface EntryRecord {
  id: string;
  datasetId: number;
  kind: EntryKind;
  path: string;
  /** Local-only (editor/desktop junk): never uploaded. */
  junk?: boolean;
  /** The user deleted it: the base (if any) must be deleted on the server. */
  deleted?: boolean;
  /** Name of the staged content file under <stateDir>/staged, when the content is local. */
  staged?: string;
  /** Local mtime (ms since epoch) when set by utimens or by the last write. */
  mtime?: number;
  meta?: FileMeta;
  base?: BaseFile;
  inflight?: Inflight;
  /** Upload verifications that failed (the server's checksum differed). */
  verifyFailures?: number;
  /** The last request failed for good: the server's reason. Retried on sync and at the next mount. */
  failed?: { message: string; at: number };
}

/** An entry in memory: the record plus run-time state. */
export interface Entry extends EntryRecord {
  /** Write handles open on it. */
  writers: number;
  /** Bumped on every change of the content (write, truncate). */
  gen: number;
  /** Size of the staged content. */
  size: number;
  /** Time of the last change or close: the quiet period counts from here. */
  activity: number;
  /** sync()/fsync asked for it to go now, without the quiet period. */
  forced?: boolean;
  /** MD5 of the staged content at generation `gen` (sealed), when known. */
  md5?: { gen: number; value: string };
  /** The executor is working on it. */
  busy?: boolean;
  /** Removed from the state (dropped or done): late callbacks must not touch it. */
  gone?: boolean;
  /** Failed attempts in a row (transient errors), for back-off. */
  attempts?: number;
  /** Not before this time (back-off after a transient failure). */
  retryAt?: number;
  /** The inflight request may still be running on the server (its sender died, or timed out): wait before checking. */
  settle?: boolean;
  /** Generation of the content last found in step with the server while still open for writing. */
  syncedGen?: number;
  /** The server said the types differ: send the next replace with forceReplace. */
  forceReplace?: boolean;
  /** The latest full file-metadata the server gave for `base` (in memory only). */
  fm?: FileMetadataInfo;
  /** MD5 of the content written so far, while writes are strictly sequential. */
  hasher?: import('./running-hash.js').RunningHash;
  /** The add of this new file, streamed while it is written (see stream-upload.ts). */
  stream?: import('./stream-upload.js').StreamedAdd;
  /** The streamed add being finished (its rest and jsonData on the way): a change to the file cuts it. */
  finishing?: import('./stream-upload.js').StreamedAdd;
  /** A write into the staged file failed (disk full…): its content is incomplete and must not be uploaded. */
  writeError?: string;
}

export function toRecord(e: Entry): EntryRecord {
  const r: EntryRecord = { id: e.id, datasetId: e.datasetId, kind: e.kind, path: e.path };
  if (e.junk) r.junk = true;
  if (e.deleted) r.deleted = true;
  if (e.staged !== undefined) r.staged = e.staged;
  if (e.mtime !== undefined) r.mtime = e.mtime;
  if (e.meta && Object.keys(e.meta).length) r.meta = e.meta;
  if (e.base) r.base = e.base;
  if (e.inflight) r.inflight = e.inflight;
  if (e.verifyFailures) r.verifyFailures = e.verifyFailures;
  if (e.failed) r.failed = e.failed;
  return r;
}

export type TabularView = 'original' | 'archival';

function isTabular(fm: FileMetadataInfo): boolean {
  return fm.dataFile.tabularData === true || fm.dataFile.originalFileFormat !== undefined;
}

/** The name the namespace shows a file under (same rule as tree/namespace.ts displayName). */
export function displayName(fm: FileMetadataInfo, tabular: TabularView): string {
  if (isTabular(fm) && tabular === 'original' && fm.dataFile.originalFileName) return fm.dataFile.originalFileName;
  return fm.label;
}

/** The folder of a file as the namespace builds it from directoryLabel. */
export function folderOf(fm: Pick<FileMetadataInfo, 'directoryLabel'>): string {
  return (fm.directoryLabel ?? '').split('/').filter(Boolean).join('/');
}

export function shownPathOf(fm: FileMetadataInfo, tabular: TabularView): string {
  return joinPath(folderOf(fm), displayName(fm, tabular));
}

/** The server's path of a file (directoryLabel/label), as the duplicate-name check sees it. */
export function serverPathOf(label: string, directoryLabel: string | undefined): string {
  return joinPath((directoryLabel ?? '').split('/').filter(Boolean).join('/'), label);
}

export function checksumOf(fm: FileMetadataInfo): Checksum | undefined {
  const df = fm.dataFile;
  return df.checksum ?? (df.md5 ? { type: 'MD5', value: df.md5 } : undefined);
}

export function baseFromFm(fm: FileMetadataInfo, tabular: TabularView, ours = false): BaseFile {
  const df = fm.dataFile;
  const original = isTabular(fm) && tabular === 'original' && df.originalFileName !== undefined;
  const base: BaseFile = {
    fileId: df.id,
    label: fm.label,
    description: fm.description ?? '',
    categories: fm.categories ?? [],
    restricted: fm.restricted === true,
    contentType: df.originalFileFormat ?? df.contentType,
    size: original ? (df.originalFileSize ?? df.filesize) : df.filesize,
    shownPath: shownPathOf(fm, tabular),
    original,
  };
  if (fm.directoryLabel) base.directoryLabel = fm.directoryLabel;
  if (original) base.query = 'format=original';
  else if (isTabular(fm)) base.query = 'noVarHeader=true';
  // An ingested file's checksum is the original's: it does not describe the archival .tab bytes.
  const sum = checksumOf(fm);
  if (sum && (!isTabular(fm) || original)) base.checksum = sum;
  if (ours) base.ours = true;
  return base;
}

/** The metadata the user wants for an entry: its own settings over the base's. */
export function desiredMeta(e: Pick<EntryRecord, 'meta' | 'base'>): Required<FileMeta> {
  return {
    description: e.meta?.description ?? e.base?.description ?? '',
    categories: e.meta?.categories ?? e.base?.categories ?? [],
    restricted: e.meta?.restricted ?? e.base?.restricted ?? false,
  };
}

export function sameCategories(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
