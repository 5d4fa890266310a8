// The writer's state in memory: entries and their indexes (by path, by the
// server file they stand for), the remembered mtimes, and what recently
// landed on the server (so a listing fetched before it still looks right).
// Every change that must survive a crash goes through `commit`.
import type { FileMetadataInfo } from '../dataverse/types.js';
import type { Journal } from './journal.js';
import { toRecord, type Entry } from './model.js';

interface DatasetIndex {
  /** Visible file entries (not deleted) by path. */
  files: Map<string, Entry>;
  /** Local folders by path. */
  dirs: Map<string, Entry>;
  /** Entries standing for a server file, by DataFile id (one at most per file). */
  bases: Map<number, Entry>;
  all: Set<Entry>;
}

/** A file as it now is on the server (fm), or gone (null), after our own request; kept for a while. */
interface Recent {
  fm: FileMetadataInfo | null;
  until: number;
}

export const fileTimeKey = (datasetId: number, fileId: number) => `f:${datasetId}:${fileId}`;
export const dirTimeKey = (datasetId: number, path: string) => `d:${datasetId}:${path}`;

/** Remembered mtimes of one dataset: of files by DataFile id, of folders by path. */
export interface DatasetTimes {
  files: Map<number, number>;
  dirs: Map<string, number>;
}

export class WriteState {
  /** Bumped on every change of entries, times or recent results (what the namespace shows may differ). */
  version = 0;
  readonly entries = new Map<string, Entry>();
  private readonly index = new Map<number, DatasetIndex>();
  private readonly recent = new Map<number, Map<number, Recent>>();
  private readonly timeIndex = new Map<number, DatasetTimes>();

  constructor(
    readonly journal: Journal,
    private readonly recentMs: number,
  ) {
    for (const [k, v] of journal.state.times) this.indexTime(k, v);
  }

  get times(): Map<string, number> {
    return this.journal.state.times;
  }

  timesOf(datasetId: number): DatasetTimes {
    let t = this.timeIndex.get(datasetId);
    if (!t) {
      t = { files: new Map(), dirs: new Map() };
      this.timeIndex.set(datasetId, t);
    }
    return t;
  }

  private indexTime(key: string, value: number | null): void {
    const m = /^([fd]):(\d+):(.*)$/s.exec(key);
    if (!m) return;
    const t = this.timesOf(Number(m[2]));
    if (m[1] === 'f') {
      if (value === null) t.files.delete(Number(m[3]));
      else t.files.set(Number(m[3]), value);
    } else if (value === null) t.dirs.delete(m[3]);
    else t.dirs.set(m[3], value);
  }

  private ds(datasetId: number): DatasetIndex {
    let d = this.index.get(datasetId);
    if (!d) {
      d = { files: new Map(), dirs: new Map(), bases: new Map(), all: new Set() };
      this.index.set(datasetId, d);
    }
    return d;
  }

  datasets(): number[] {
    return [...this.index.keys()].filter((id) => this.index.get(id)!.all.size > 0);
  }

  entriesOf(datasetId: number): Entry[] {
    return [...(this.index.get(datasetId)?.all ?? [])];
  }

  fileAt(datasetId: number, path: string): Entry | undefined {
    return this.index.get(datasetId)?.files.get(path);
  }

  dirAt(datasetId: number, path: string): Entry | undefined {
    return this.index.get(datasetId)?.dirs.get(path);
  }

  dirsOf(datasetId: number): Entry[] {
    return [...(this.index.get(datasetId)?.dirs.values() ?? [])];
  }

  byBase(datasetId: number, fileId: number): Entry | undefined {
    return this.index.get(datasetId)?.bases.get(fileId);
  }

  add(e: Entry): void {
    this.version++;
    this.entries.set(e.id, e);
    this.link(e);
  }

  /** Change an entry's path, kind, deleted flag or base: the indexes follow. */
  update(e: Entry, change: (e: Entry) => void): void {
    this.version++;
    this.unlink(e);
    change(e);
    this.link(e);
  }

  remove(e: Entry): void {
    this.version++;
    this.unlink(e);
    this.entries.delete(e.id);
    e.gone = true;
  }

  private link(e: Entry): void {
    const d = this.ds(e.datasetId);
    d.all.add(e);
    if (e.kind === 'dir') d.dirs.set(e.path, e);
    else if (!e.deleted) d.files.set(e.path, e);
    if (e.base) d.bases.set(e.base.fileId, e);
  }

  private unlink(e: Entry): void {
    const d = this.ds(e.datasetId);
    d.all.delete(e);
    if (d.dirs.get(e.path) === e) d.dirs.delete(e.path);
    if (d.files.get(e.path) === e) d.files.delete(e.path);
    if (e.base && d.bases.get(e.base.fileId) === e) d.bases.delete(e.base.fileId);
  }

  /** Make entries (and mtimes) durable; `drop` entries are removed from the journal. */
  commit(put: Entry[], drop: Entry[] = [], times?: Record<string, number | null>): Promise<void> {
    this.version++;
    for (const [k, v] of Object.entries(times ?? {})) this.indexTime(k, v);
    return this.journal.commit({
      put: put.filter((e) => !e.gone).map(toRecord),
      del: drop.map((e) => e.id),
      times,
    });
  }

  // --- what recently landed ---

  noteLanded(datasetId: number, fm: FileMetadataInfo): void {
    this.version++;
    this.recentOf(datasetId).set(fm.dataFile.id, { fm, until: Date.now() + this.recentMs });
  }

  noteGone(datasetId: number, fileId: number): void {
    this.version++;
    this.recentOf(datasetId).set(fileId, { fm: null, until: Date.now() + this.recentMs });
  }

  private recentOf(datasetId: number): Map<number, Recent> {
    let m = this.recent.get(datasetId);
    if (!m) {
      m = new Map();
      this.recent.set(datasetId, m);
    }
    return m;
  }

  /** Recent changes that have not expired: landed files and ids that are gone. */
  recentOfDataset(datasetId: number): { landed: FileMetadataInfo[]; gone: number[] } {
    const m = this.recent.get(datasetId);
    const landed: FileMetadataInfo[] = [];
    const gone: number[] = [];
    if (!m) return { landed, gone };
    const now = Date.now();
    for (const [id, r] of m) {
      if (r.until < now) m.delete(id);
      else if (r.fm) landed.push(r.fm);
      else gone.push(id);
    }
    return { landed, gone };
  }
}
