// What a draft folder shows: the server's file list with the local state on
// top (the overlay). Pure functions, so the namespace can build its folders
// from the same merge the writer uses to answer lookups.
import type { FileMetadataInfo } from '../dataverse/types.js';
import type { FileMeta } from './model.js';
import { shownPathOf, type TabularView } from './model.js';
import { splitPath } from './names.js';

/** A file whose bytes are local (staged, not uploaded yet, or junk that never is). */
export interface LocalFileView {
  path: string;
  entryId: string;
  size: number;
  mtime: Date;
  junk: boolean;
  /** writing: open for writing; waiting: quiet period; queued/uploading; failed (see status()). */
  state: 'writing' | 'waiting' | 'queued' | 'uploading' | 'failed';
  /** The server file it will replace, if any. */
  replaces?: number;
  meta: Required<FileMeta>;
}

/** A server file shown with a local change not sent yet (rename, move, metadata): the bytes are the server's. */
export interface MovedFileView {
  path: string;
  /** The server's file metadata with label, directoryLabel and metadata as they will be. */
  fm: FileMetadataInfo;
}

export interface DraftOverlay {
  datasetId: number;
  /** Server files not to show where the server lists them (deleted, moved, replaced, being rewritten). */
  hiddenFileIds: Set<number>;
  local: LocalFileView[];
  moved: MovedFileView[];
  /**
   * Files as the server has them after our latest changes (uploads, renames
   * that landed): they override an older listing's entry of the same id and
   * are shown even when the listing does not have them yet.
   */
  landed: FileMetadataInfo[];
  /** Folders made with mkdir that have no file yet. */
  dirs: string[];
  /** Remembered mtimes: of server files by DataFile id, of folders by path. */
  fileTimes: Map<number, Date>;
  dirTimes: Map<string, Date>;
}

export interface ViewFile {
  path: string;
  size: number;
  /** The remembered mtime (utimens, or the local write time of an upload); undefined = the namespace's default. */
  mtime?: Date;
  /** Bytes are local: read them through the writer (open with write:false). */
  local?: LocalFileView;
  /** Bytes are on the server: read this DataFile through the cache. */
  fm?: FileMetadataInfo;
}

export interface DraftView {
  files: Map<string, ViewFile>;
  /** Every folder (from file paths and local folders), '' included. */
  dirs: Map<string, { mtime?: Date }>;
}

function sizeOf(fm: FileMetadataInfo, tabular: TabularView): number {
  const df = fm.dataFile;
  const tab = df.tabularData === true || df.originalFileFormat !== undefined;
  return tab && tabular === 'original' && df.originalFileName ? (df.originalFileSize ?? df.filesize) : df.filesize;
}

export function mergeDraft(serverFiles: FileMetadataInfo[], overlay: DraftOverlay, tabular: TabularView): DraftView {
  const byId = new Map<number, FileMetadataInfo>();
  for (const fm of serverFiles) byId.set(fm.dataFile.id, fm);
  for (const fm of overlay.landed) byId.set(fm.dataFile.id, fm);
  const files = new Map<string, ViewFile>();
  for (const [id, fm] of byId) {
    if (overlay.hiddenFileIds.has(id)) continue;
    const path = shownPathOf(fm, tabular);
    files.set(path, { path, size: sizeOf(fm, tabular), mtime: overlay.fileTimes.get(id), fm });
  }
  for (const m of overlay.moved) {
    files.set(m.path, { path: m.path, size: sizeOf(m.fm, tabular), mtime: overlay.fileTimes.get(m.fm.dataFile.id), fm: m.fm });
  }
  for (const l of overlay.local) files.set(l.path, { path: l.path, size: l.size, mtime: l.mtime, local: l });
  const dirs = new Map<string, { mtime?: Date }>();
  const addDir = (dir: string) => {
    for (let d = dir; ; d = splitPath(d).dir) {
      if (dirs.has(d)) return;
      dirs.set(d, { mtime: overlay.dirTimes.get(d) });
      if (d === '') return;
    }
  };
  addDir('');
  for (const f of files.values()) addDir(splitPath(f.path).dir);
  for (const d of overlay.dirs) addDir(d);
  return { files, dirs };
}

/** Names directly inside `dir` of a view (files and folders). */
export function listView(view: DraftView, dir: string): string[] {
  const names = new Set<string>();
  for (const p of view.files.keys()) {
    const s = splitPath(p);
    if (s.dir === dir) names.add(s.name);
  }
  for (const d of view.dirs.keys()) {
    if (d === '') continue;
    const s = splitPath(d);
    if (s.dir === dir) names.add(s.name);
  }
  return [...names];
}
