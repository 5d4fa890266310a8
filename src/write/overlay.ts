// What the writer's state looks like from outside: each entry as a pending
// item (dvfs status), and a draft's entries as the overlay the namespace
// lays over the server's listing.
import type { FileMetadataInfo } from '../dataverse/types.js';
import type { Counters } from './executor.js';
import { desiredMeta, folderOf, type Entry } from './model.js';
import { currentFm, desiredTarget } from './plan.js';
import type { WriteState } from './state.js';
import type { DraftOverlay, LocalFileView, MovedFileView } from './view.js';

/** One pending change, as `dvfs status` shows it. */
export interface PendingItem {
  datasetId: number;
  path: string;
  op: 'add' | 'replace' | 'delete' | 'move' | 'metadata' | 'local' | 'folder';
  state: 'writing' | 'waiting' | 'queued' | 'uploading' | 'failed';
  size: number;
  /** The server's reason, for failed items. */
  error?: string;
}

export interface WriterStatus {
  pending: PendingItem[];
  failed: PendingItem[];
  /** Bytes still to upload. */
  bytesPending: number;
  counters: Counters;
}

export function describeEntry(e: Entry, now: number, quietMs: number): PendingItem {
  let op: PendingItem['op'];
  if (e.kind === 'dir') op = 'folder';
  else if (e.junk) op = 'local';
  else if (e.deleted) op = 'delete';
  else if (e.staged !== undefined) op = e.base && !e.base.ours ? 'replace' : 'add';
  else {
    const t = desiredTarget(e);
    op = e.base && (t.label !== e.base.label || t.dir !== folderOf(e.base)) ? 'move' : 'metadata';
  }
  let state: PendingItem['state'];
  if (e.failed) state = 'failed';
  else if (e.busy || e.inflight) state = 'uploading';
  else if (e.writers > 0) state = 'writing';
  else if (!e.forced && now - e.activity < quietMs) state = 'waiting';
  else state = 'queued';
  const item: PendingItem = { datasetId: e.datasetId, path: e.path, op, state, size: e.staged !== undefined ? e.size : (e.base?.size ?? 0) };
  if (e.failed) item.error = e.failed.message;
  return item;
}

/** The local state of one draft, to lay over the server's listing (see mergeDraft). */
export function buildOverlay(state: WriteState, datasetId: number, quietMs: number): DraftOverlay {
  const now = Date.now();
  const hidden = new Set<number>();
  const local: LocalFileView[] = [];
  const moved: MovedFileView[] = [];
  const dirs: string[] = [];
  for (const e of state.entriesOf(datasetId)) {
    if (e.kind === 'dir') {
      dirs.push(e.path);
      continue;
    }
    if (e.base) hidden.add(e.base.fileId);
    if (e.deleted) continue;
    if (e.staged !== undefined) {
      local.push({
        path: e.path,
        entryId: e.id,
        size: e.size,
        mtime: new Date(e.mtime ?? e.activity),
        junk: e.junk === true,
        state: describeEntry(e, now, quietMs).state as LocalFileView['state'],
        ...(e.base ? { replaces: e.base.fileId } : {}),
        meta: desiredMeta(e),
      });
    } else if (e.base) {
      // A server file with a rename or metadata change still to send: shown as it will be.
      const t = desiredTarget(e);
      const meta = desiredMeta(e);
      const shown: FileMetadataInfo = { ...currentFm(e), label: t.label, description: meta.description, restricted: meta.restricted };
      if (t.dir) shown.directoryLabel = t.dir;
      else delete shown.directoryLabel;
      if (meta.categories.length) shown.categories = meta.categories;
      else delete shown.categories;
      moved.push({ path: e.path, fm: shown });
    }
  }
  const recent = state.recentOfDataset(datasetId);
  for (const id of recent.gone) hidden.add(id);
  const times = state.timesOf(datasetId);
  const fileTimes = new Map<number, Date>([...times.files].map(([id, ms]) => [id, new Date(ms)]));
  const dirTimes = new Map<string, Date>([...times.dirs].map(([p, ms]) => [p, new Date(ms)]));
  for (const e of state.dirsOf(datasetId)) if (e.mtime !== undefined) dirTimes.set(e.path, new Date(e.mtime));
  return {
    datasetId,
    hiddenFileIds: hidden,
    local,
    moved,
    landed: recent.landed.filter((fm) => !hidden.has(fm.dataFile.id)),
    dirs,
    fileTimes,
    dirTimes,
  };
}
