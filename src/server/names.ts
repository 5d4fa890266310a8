// File and folder names: validation (FileMetadata constraints), folder
// sanitising (StringUtil.sanitizeFileDirectory) and the silent duplicate-name
// renaming of IngestUtil (dataverse-api-notes.md §6.3, §6.5).
import type { DataFileRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import { originalExtension } from './file-types.js';

export const LABEL_ILLEGAL_MESSAGE =
  'File Name cannot contain any of the following characters: \\ / : * ? " < > | ; # .';
export const LABEL_BLANK_MESSAGE = 'Please specify a file name.';
export const DIRECTORY_ILLEGAL_MESSAGE =
  "Directory Name cannot contain invalid characters. Valid characters are a-Z, 0-9, '_', '-', '.', '\\\\', '/' and ' ' (white space).";

/** The validator message for a bad file name, or undefined when it is fine. */
export function labelProblem(label: string): string | undefined {
  if (label.trim() === '') return LABEL_BLANK_MESSAGE;
  if (/[:<>;#/"*|?\\]/.test(label)) return LABEL_ILLEGAL_MESSAGE;
  return undefined;
}

/** FileDirectoryNameValidator: ASCII word characters, '\', '/', '.', ' ' and '-'. */
export function directoryProblem(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  return /^[A-Za-z0-9_\\/. -]+$/.test(dir) ? undefined : DIRECTORY_ILLEGAL_MESSAGE;
}

/**
 * StringUtil.sanitizeFileDirectory: collapse runs of '/' and '\' into '/',
 * strip leading/trailing '/', '-', '.', ' ' repeatedly; empty → undefined (root).
 * `aggressively` (zip entries) also turns invalid characters into '.' and
 * collapses runs of dots.
 */
export function sanitizeDirectory(value: string | undefined, aggressively = false): string | undefined {
  if (value === undefined) return undefined;
  let v = value.replace(/[\\/]+/g, '/');
  if (aggressively) {
    v = v.replace(/[^A-Za-z0-9_ ./-]+/g, '.').replace(/\.\.+/g, '.');
  }
  v = v.replace(/^[/\-. ]+/, '').replace(/[/\-. ]+$/, '');
  return v === '' ? undefined : v;
}

/** The unique key of a file in a version: "dir/label" or "label". */
export function pathName(dir: string | undefined, label: string): string {
  return dir ? `${dir}/${label}` : label;
}

/**
 * IngestUtil.generateNewFileName: "a.txt" → "a-1.txt", "a-1.txt" → "a-2.txt",
 * "report-2019.csv" → "report-2020.csv", "a" → "a-1".
 */
export function nextFileName(name: string): string {
  const dot = name.lastIndexOf('.');
  let base = dot >= 0 ? name.slice(0, dot) : name;
  const ext = dot >= 0 ? name.slice(dot + 1) : undefined;
  const m = /^(.*)-(\d+)$/.exec(base);
  base = m ? `${m[1]}-${(BigInt(m[2]) + 1n).toString()}` : `${base}-1`;
  return ext === undefined ? base : `${base}.${ext}`;
}

/**
 * The names taken in a version (IngestUtil.existingPathNamesAsSet), leaving out
 * the given DataFiles. An ingested tabular file also blocks its original name
 * (foo.tab from foo.dta blocks foo.dta).
 */
export function takenNames(store: Store, v: VersionRec, excludeFileIds: number[] = []): Set<string> {
  const taken = new Set<string>();
  for (const fm of v.files) {
    if (excludeFileIds.includes(fm.dataFileId)) continue;
    const p = pathName(fm.directoryLabel, fm.label);
    taken.add(p);
    const f: DataFileRec | undefined = store.file(fm.dataFileId);
    if (f?.tabular) taken.add(p.replace(/\.tab$/, originalExtension(f.tabular.originalFileFormat)));
  }
  return taken;
}

/** IngestUtil.duplicateFilenameCheck: rename until unique (only the name changes), then take the name. */
export function claimUniqueName(taken: Set<string>, dir: string | undefined, label: string): string {
  let name = label;
  while (taken.has(pathName(dir, name))) name = nextFileName(name);
  taken.add(pathName(dir, name));
  return name;
}
