// How an entry's desired state becomes requests: the label and folder it
// must end up with, the part name and type the server will see, the names
// the server's duplicate rule could have made of it, and the file-metadata
// object to show once it has landed. Pure functions.
import mime from 'mime-types';
import type { FileMetadataInfo } from '../dataverse/types.js';
import { folderOf, type BaseFile, type Entry } from './model.js';
import { splitPath } from './names.js';

export const ZIP = 'application/zip';
export const OCTET_STREAM = 'application/octet-stream';

/** The type Dataverse gives a file from its name when the part says application/octet-stream. */
export function predictType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (name.includes('.') && ext === 'tsv') return 'text/tsv';
  if (name.includes('.') && ext === 'tab') return 'text/tab-separated-values';
  const t = mime.lookup(name);
  return t === false ? OCTET_STREAM : t;
}

/** The label and folder an entry must end up with on the server. */
export function desiredTarget(e: Entry): { label: string; dir: string } {
  const { dir, name } = splitPath(e.path);
  const b = e.base;
  if (b?.original && e.staged === undefined) {
    // An ingested file shown by its original name keeps its stored label, with the new stem when renamed.
    if (e.path === b.shownPath) return { label: b.label, dir: folderOf(b) };
    const shown = splitPath(b.shownPath).name;
    const origExt = shown.includes('.') ? shown.slice(shown.lastIndexOf('.')) : '';
    const labelExt = b.label.includes('.') ? b.label.slice(b.label.lastIndexOf('.')) : '';
    if (origExt && name.endsWith(origExt)) return { label: name.slice(0, -origExt.length) + labelExt, dir };
  }
  return { label: name, dir };
}

/** The part's file name: the label when it is plain ASCII, else a neutral name with the same extension (the type comes from it). */
export function partNameFor(label: string): string {
  if (/^[\x20-\x7e]+$/.test(label) && !/["\\]/.test(label)) return label;
  const dot = label.lastIndexOf('.');
  const ext = dot > 0 ? label.slice(dot) : '';
  return /^\.[A-Za-z0-9]{1,12}$/.test(ext) ? `upload${ext}` : 'upload';
}

/** Names the server's duplicate-name rule can turn `label` into ("x.txt" → "x-1.txt", "r-2019.csv" → "r-2020.csv"). */
export function duplicatePattern(label: string): RegExp {
  const dot = label.lastIndexOf('.');
  const stem = dot > 0 ? label.slice(0, dot) : label;
  const ext = dot > 0 ? label.slice(dot) : '';
  const bare = stem.replace(/-\d+$/, '');
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(bare)}-\\d+${esc(ext)}$`);
}

/** The server's file-metadata of an entry's base as it now is (for the view until the next listing). */
export function currentFm(e: Entry): FileMetadataInfo {
  const b = e.base!;
  if (e.fm?.dataFile.id === b.fileId) {
    const fm: FileMetadataInfo = { ...e.fm, label: b.label, description: b.description, restricted: b.restricted };
    if (b.directoryLabel) fm.directoryLabel = b.directoryLabel;
    else delete fm.directoryLabel;
    if (b.categories.length) fm.categories = b.categories;
    else delete fm.categories;
    return fm;
  }
  return fmFromBase(b);
}

/** A file-metadata object built from what we know of a file. */
export function fmFromBase(b: BaseFile): FileMetadataInfo {
  const fm: FileMetadataInfo = {
    label: b.label,
    description: b.description,
    restricted: b.restricted,
    dataFile: {
      id: b.fileId,
      filename: b.label,
      contentType: b.contentType,
      filesize: b.size,
      ...(b.checksum ? { checksum: b.checksum } : {}),
      ...(b.checksum?.type === 'MD5' ? { md5: b.checksum.value } : {}),
    },
  };
  if (b.directoryLabel) fm.directoryLabel = b.directoryLabel;
  if (b.categories.length) fm.categories = b.categories;
  return fm;
}
