// The durable journal of pending work: a snapshot plus an append-only log of
// records, one JSON line each. A record is applied whole or not at all (a
// line torn by a crash is ignored), so an operation that changes several
// entries (a rename over another file) is one record. `commit` resolves once
// the line is on disk (write + fdatasync); records that arrive while a write
// is in progress share the next one (group commit).
import { mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { EntryRecord } from './model.js';

export interface JournalChange {
  put?: EntryRecord[];
  del?: string[];
  /** Remembered mtimes (ms); null forgets one. */
  times?: Record<string, number | null>;
}

interface Snapshot {
  v: 1;
  seq: number;
  entries: EntryRecord[];
  times: Record<string, number>;
}

export interface JournalState {
  entries: Map<string, EntryRecord>;
  times: Map<string, number>;
}

const SNAPSHOT = 'journal.json';
const logName = (seq: number) => `journal-${seq}.log`;

export class Journal {
  private log!: FileHandle;
  private seq = 0;
  private lines = 0;
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing?: Promise<void>;
  private closed = false;

  private constructor(
    private readonly dir: string,
    /** The journal's own view of the state (what a snapshot writes). */
    readonly state: JournalState,
  ) {}

  /** Read the snapshot and replay the log, then start a fresh log from a new snapshot. */
  static async open(dir: string): Promise<Journal> {
    await mkdir(dir, { recursive: true });
    const state: JournalState = { entries: new Map(), times: new Map() };
    let seq = 0;
    const snap = await readFile(path.join(dir, SNAPSHOT), 'utf8').catch(() => undefined);
    if (snap !== undefined) {
      const s = JSON.parse(snap) as Snapshot;
      seq = s.seq;
      for (const e of s.entries) state.entries.set(e.id, e);
      for (const [k, v] of Object.entries(s.times)) state.times.set(k, v);
    }
    const text = await readFile(path.join(dir, logName(seq)), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let change: JournalChange;
      try {
        change = JSON.parse(line) as JournalChange;
      } catch {
        continue; // torn by a crash while it was written: it was never acknowledged
      }
      apply(state, change);
    }
    const j = new Journal(dir, state);
    j.seq = seq;
    await j.compact();
    return j;
  }

  /** Make a change durable; resolves when it is on disk. */
  commit(change: JournalChange): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal closed'));
    const text = JSON.stringify(change);
    apply(this.state, JSON.parse(text) as JournalChange); // a copy: later changes to the caller's objects are not in it
    const line = `${text}\n`;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.log.write(batch.map((b) => b.line).join(''));
        await this.log.datasync();
        this.lines += batch.length;
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
      if (this.lines > Math.max(2000, 4 * this.state.entries.size)) {
        await this.compact().catch(() => {});
      }
    }
    this.writing = undefined;
  }

  /** Write the whole state as a new snapshot and start an empty log. */
  private async compact(): Promise<void> {
    const next = this.seq + 1;
    const snap: Snapshot = {
      v: 1,
      seq: next,
      entries: [...this.state.entries.values()],
      times: Object.fromEntries(this.state.times),
    };
    // The new log exists before the snapshot that names it.
    const log = await open(path.join(this.dir, logName(next)), 'a');
    await log.sync();
    await writeDurably(path.join(this.dir, SNAPSHOT), JSON.stringify(snap));
    const old = this.log;
    this.log = log;
    this.seq = next;
    this.lines = 0;
    await old?.close();
    for (const name of await readdir(this.dir)) {
      if ((name.startsWith('journal-') && name !== logName(next)) || name.endsWith('.tmp')) {
        await rm(path.join(this.dir, name), { force: true });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    await this.log?.close();
  }
}

function apply(state: JournalState, change: JournalChange): void {
  for (const id of change.del ?? []) state.entries.delete(id);
  for (const e of change.put ?? []) state.entries.set(e.id, e);
  for (const [k, v] of Object.entries(change.times ?? {})) {
    if (v === null) state.times.delete(k);
    else state.times.set(k, v);
  }
}

/** write to a temporary file, fsync, rename over the target, fsync the folder. */
export async function writeDurably(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
