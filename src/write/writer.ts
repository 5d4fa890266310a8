// DraftWriter: the write path as a library, one call per FUSE operation on
// a draft folder. Paths are relative to the draft folder ("a/b/f.txt").
// Every change is journaled before the call returns; bytes are staged in
// the state directory and uploaded after the last close and a quiet period,
// on fsync, on sync(), and before close() returns. Errors are FsError values
// (EINVAL for names the server would refuse or alter, ENOENT, EEXIST,
// ENOTEMPTY, ENOTDIR, EACCES, EIO) or DataverseError from the server.
import { createHash, randomBytes } from 'node:crypto';
import { write as fsWrite } from 'node:fs';
import { open, truncate as truncatePath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DataverseClient } from '../dataverse/client.js';
import type { FileMetadataInfo } from '../dataverse/types.js';
import { DataverseWrites } from '../dataverse/writes.js';
import { HashService } from '../cache/hash-service.js';
import { FsError, notFound } from '../tree/errors.js';
import { Executor, newCounters, type Counters } from './executor.js';
import { Journal } from './journal.js';
import {
  baseFromFm,
  desiredMeta,
  shownPathOf,
  type BaseFile,
  type Entry,
  type EntryKind,
  type FileMeta,
  type TabularView,
} from './model.js';
import {
  DEFAULT_JUNK,
  filePathProblem,
  folderProblem,
  isJunk,
  isUnder,
  normalizePath,
  rebase,
  splitPath,
  type NameProblem,
} from './names.js';
import { Staging } from './staging.js';
import { HashWorker, hashFileOffThread, type RunningHash } from './running-hash.js';
import { STREAM_MIN_BYTES, StreamedAdd, StreamSlots } from './stream-upload.js';
import { partNameFor, predictType, ZIP } from './plan.js';
import { dirTimeKey, fileTimeKey, WriteState } from './state.js';
import { buildOverlay, describeEntry, type PendingItem, type WriterStatus } from './overlay.js';
import { mergeDraft, type DraftOverlay, type DraftView, type ViewFile } from './view.js';

export type { PendingItem, WriterStatus } from './overlay.js';

export interface DraftWriterOptions {
  client: DataverseClient;
  /** Where the journal and the staged files live (in the cache directory). */
  stateDir: string;
  /** Quiet period after the last close before an upload starts. */
  quietMs?: number;
  /**
   * A new file written front to back is uploaded while it is written once it
   * has this many bytes (see stream-upload.ts); Infinity: never. Default 64 MiB.
   */
  streamFromBytes?: number;
  /** Names that stay local (editor and desktop junk); defaults to DEFAULT_JUNK. */
  junk?: RegExp[];
  log?: (line: string) => void;
  /** How the namespace shows ingested tabular files (their original upload by default). */
  tabular?: TabularView;
  /**
   * The draft's server listing as the namespace shows it (its cached copy is
   * fine: what this writer changed is overlaid). Default: fetched from the
   * server, kept for `listingTtlMs`.
   */
  serverFiles?: (datasetId: number) => Promise<FileMetadataInfo[]>;
  listingTtlMs?: number;
  /** Whether the token may edit the dataset. Default: GET userPermissions. */
  canEdit?: (datasetId: number) => Promise<boolean>;
  /** How long an answer of canEdit is trusted (a revoked role shows as EACCES after this long). */
  permissionTtlMs?: number;
  /** Copy a server file's bytes (as the mount shows them) into `dest` (copy-on-write). Default: the Access API. */
  download?: (base: BaseFile, dest: string) => Promise<void>;
  /** Called when the server's state of a dataset changed (the namespace drops its cached listing). */
  onChange?: (datasetId: number) => void;
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  lockWaitMs?: number;
  failedRetryMs?: number;
  maxVerifyFailures?: number;
  /** How long landed changes are overlaid on listings fetched before them. */
  recentMs?: number;
}

export interface OpenOptions {
  write: boolean;
  /** O_TRUNC. */
  truncate?: boolean;
}

export interface SyncResult {
  /** Items that failed for good (their reason is in `error`). */
  failed: PendingItem[];
  /** Items still pending (only when the writer was closed meanwhile). */
  pending: PendingItem[];
}

export interface RecoverReport {
  entries: number;
  /** Requests whose answer was lost: checked against the server before anything is sent again. */
  inflight: number;
  orphansRemoved: number;
}

interface Handle {
  datasetId: number;
  path: string;
  write: boolean;
  /** The entry whose staged file `fh` is; undefined once detached (the file was replaced or deleted). */
  entry?: Entry;
  fh?: FileHandle;
  /** Read-only handle on server bytes. */
  server?: BaseFile;
  /** Writes already answered whose bytes are still on their way into the staged file (write-behind). */
  inflight: number;
  pendingBytes: number;
  /** Waiting for `inflight` to reach 0. */
  idle: (() => void)[];
  /** A write-behind that failed: the next write, flush or fsync of this handle reports it. */
  error?: Error;
}

/**
 * Bytes of answered writes a handle may have on their way to the disk. A
 * write is answered once its bytes are copied, so the kernel sends the next
 * one while the last is written (the FUSE round trip and the disk write
 * overlap); like the page cache, the bytes are durable at fsync, and a
 * failure shows at the next write, flush (close) or fsync.
 */
const MAX_WRITE_BEHIND = 16 << 20;

interface Found {
  entry?: Entry;
  fm?: FileMetadataInfo;
}

const einval = (why: string) => new FsError('EINVAL', why);

export class DraftWriter {
  private readonly o: Required<Omit<DraftWriterOptions, 'serverFiles' | 'canEdit' | 'download' | 'onChange' | 'log'>> &
    Pick<DraftWriterOptions, 'serverFiles' | 'canEdit' | 'download' | 'onChange'>;
  private readonly log: (line: string) => void;
  private readonly writes: DataverseWrites;
  private readonly staging: Staging;
  /** Two streamed adds at most hold a connection at once (a third big file is uploaded after its close). */
  private readonly streamSlots = new StreamSlots(2);
  private state?: WriteState;
  private executor?: Executor;
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private closed = false;
  readonly counters: Counters = newCounters();
  private readonly cow = new Map<string, Promise<Entry>>();
  private readonly listings = new Map<number, { at: number; files: Promise<FileMetadataInfo[]> }>();
  private readonly indexes = new WeakMap<FileMetadataInfo[], Map<string, FileMetadataInfo>>();
  private readonly perms = new Map<number, { at: number; allowed: Promise<boolean> }>();
  private readonly hashes: HashService;
  private readonly hw: HashWorker;
  private shutdown?: Promise<void>;
  /** Content changes that are not journaled at once (write, ftruncate: size and mtime): part of `version`. */
  private sizeChanges = 0;

  constructor(options: DraftWriterOptions) {
    this.o = {
      quietMs: 3000,
      streamFromBytes: STREAM_MIN_BYTES,
      junk: DEFAULT_JUNK,
      tabular: 'original',
      listingTtlMs: 2000,
      maxAttempts: 8,
      retryBaseMs: 250,
      retryMaxMs: 30_000,
      lockWaitMs: 10 * 60_000,
      failedRetryMs: 5 * 60_000,
      maxVerifyFailures: 3,
      recentMs: 60_000,
      permissionTtlMs: 5000,
      ...options,
    };
    this.log = options.log ?? (() => {});
    this.writes = new DataverseWrites(options.client);
    this.staging = new Staging(path.join(options.stateDir, 'staged'));
    this.hashes = new HashService({ useWorker: true, maxQueued: 8 << 20, log: this.log });
    this.hw = new HashWorker(this.log);
  }

  // --- mount and unmount ---

  /** Load the journal and start finishing what it holds (call once, at mount, before anything else). */
  async recover(): Promise<RecoverReport> {
    if (this.state) throw new Error('recover() was called already');
    const journal = await Journal.open(path.join(this.o.stateDir, 'journal'));
    await this.staging.init();
    const state = new WriteState(journal, this.o.recentMs);
    const staged = new Set<string>();
    let inflight = 0;
    for (const rec of journal.state.entries.values()) {
      const e: Entry = { ...rec, writers: 0, gen: 0, size: 0, activity: 0 };
      // A failed item gets another chance at each mount.
      delete e.failed;
      if (e.staged !== undefined) {
        const size = await this.staging.size(e.staged);
        if (size === undefined) {
          this.log(`the staged bytes of ${e.path} (dataset ${e.datasetId}) are missing; keeping it as an empty file`);
          const fh = await open(this.staging.path(e.staged), 'w', 0o600);
          await fh.close();
        }
        e.size = size ?? 0;
        staged.add(e.staged);
      }
      if (e.inflight) {
        inflight++;
        e.settle = true; // sent by a process that died: the server may still be storing it
      }
      state.add(e);
    }
    const orphansRemoved = await this.staging.removeOrphans(staged);
    this.state = state;
    this.executor = new Executor({
      state,
      staging: this.staging,
      writes: this.writes,
      tabular: this.o.tabular,
      log: this.log,
      onChange: (id) => this.changed(id),
      drain: (e) => this.drainEntry(e),
      hashes: this.hashes,
      counters: this.counters,
      options: this.o,
    });
    // Changes for the server; local-only files and empty local folders are kept, not finished.
    const entries = [...state.entries.values()].filter((e) => e.kind !== 'dir' && !e.junk).length;
    if (entries) this.log(`write journal: ${entries} pending change(s), ${inflight} to check against the server`);
    for (const id of state.datasets()) this.executor.kick(id);
    return { entries, inflight, orphansRemoved };
  }

  /**
   * Unmount: by default upload everything pending first. With
   * `waitForUploads: false` (dvfs unmount --force) the work stays in the
   * journal for the next mount.
   */
  async close(opts: { waitForUploads?: boolean } = {}): Promise<SyncResult> {
    const wait = opts.waitForUploads !== false;
    let result: SyncResult | undefined;
    // A close({waitForUploads: false}) meanwhile (a forced unmount) stops this wait early.
    if (wait && this.state && !this.closed) result = await this.sync();
    this.shutdown ??= this.stop(wait);
    await this.shutdown;
    if (result && result.pending.length === 0) return result;
    const status = this.status();
    return { failed: status.failed, pending: status.pending };
  }

  private async stop(wait: boolean): Promise<void> {
    this.closed = true;
    this.executor?.stop();
    for (const e of this.state?.entries.values() ?? []) stopStream(e, 'unmounted');
    for (const h of this.handles.values()) {
      await this.drain(h).catch(() => {});
      await h.fh?.close().catch(() => {});
    }
    this.handles.clear();
    if (wait) await this.executor?.idle();
    await this.state?.journal.close();
    await this.hashes.close();
    await this.hw.close();
  }

  // --- files ---

  /** create(2) of a new file (O_CREAT): a handle open for writing. */
  async create(datasetId: number, filePath: string): Promise<number> {
    const state = this.ready();
    const p = this.path(filePath);
    const junk = isJunk(p, this.o.junk);
    if (!junk) this.refuseName('create', datasetId, p, filePathProblem(p));
    await this.requireEdit(datasetId);
    const found = await this.lookup(datasetId, p);
    if (found.entry || found.fm) return this.open(datasetId, p, { write: true, truncate: true });
    const id = newId();
    const { name: staged, fh } = await this.staging.createOpen(id);
    const e = this.newEntry({ id, datasetId, kind: 'file', path: p, staged, junk, mtime: Date.now() });
    e.hasher = this.hw.start();
    if (!junk) e.stream = this.streamFor(e);
    e.writers = 1;
    state.add(e);
    try {
      await state.commit([e]);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return this.addHandle({ datasetId, path: p, write: true, entry: e, fh });
  }

  /**
   * open(2). For writing, a server file is first copied into the staging
   * area (copy-on-write; nothing to copy with O_TRUNC). For reading, local
   * bytes are read from the staging area and server bytes from the server
   * (the FUSE adapter normally reads those through the block cache).
   */
  async open(datasetId: number, filePath: string, opts: OpenOptions): Promise<number> {
    this.ready();
    const p = this.path(filePath);
    const found = await this.lookup(datasetId, p);
    if (!found.entry && !found.fm) throw notFound(p);
    if (!opts.write) {
      const e = found.entry;
      if (e && e.staged !== undefined) {
        return this.addHandle({ datasetId, path: p, write: false, entry: e, fh: await open(this.staging.path(e.staged), 'r') });
      }
      const base = e?.base ?? baseFromFm(found.fm!, this.o.tabular);
      return this.addHandle({ datasetId, path: p, write: false, server: base });
    }
    await this.requireEdit(datasetId);
    const e = await this.local(datasetId, p, found, opts.truncate ? 0 : undefined);
    if (opts.truncate && e.size > 0) await this.truncateEntry(e, 0);
    stopForChange(e, 'the file was opened for writing again');
    e.writers++;
    e.activity = Date.now();
    return this.addHandle({ datasetId, path: p, write: true, entry: e, fh: await open(this.staging.path(e.staged!), 'r+') });
  }

  async read(handle: number, length: number, position: number): Promise<Buffer> {
    const h = this.handle(handle);
    if (h.fh) {
      // Bytes written through any handle of this file are read back, even those still on their way to the disk.
      if (h.entry) await this.drainEntry(h.entry);
      else if (h.inflight > 0) await this.drain(h).catch(() => {});
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await h.fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    }
    const b = h.server!;
    const end = Math.min(b.size, position + length);
    if (position >= end) return Buffer.alloc(0);
    return this.o.client.readRange({ fileId: b.fileId, query: b.query ?? '', start: position, end });
  }

  /**
   * write(2) at `position`; returns the bytes written. The bytes are copied
   * and the call returns while they go to the staged file (see
   * MAX_WRITE_BEHIND); a failure shows at the next write, flush or fsync.
   */
  async write(handle: number, data: Buffer, position: number): Promise<number> {
    const h = this.handle(handle);
    if (!h.write || !h.fh) throw new FsError('EINVAL', 'the file is not open for writing');
    this.throwFailedWrite(h);
    const fd = h.fh.fd;
    // The one copy of the bytes: it goes to the staged file, then (transferred) to the hash worker.
    const bytes = this.hw.take(data.length);
    data.copy(bytes);
    const n = bytes.length;
    const e = h.entry;
    let hasher: RunningHash | undefined;
    let stream: StreamedAdd | undefined;
    let seq = 0;
    if (e) {
      // Sequential writes keep a running MD5, so a copied file needs no second read before upload.
      if (e.hasher && e.hasher.pos === position) {
        hasher = e.hasher;
        seq = hasher.reserve(n);
      } else {
        dropHasher(e);
      }
      if (e.stream?.accept(position, n)) stream = e.stream;
      else e.stream = undefined; // out of order: accept() stopped it
      e.gen++;
      this.sizeChanges++;
      e.size = Math.max(e.size, position + n);
      e.activity = Date.now();
      e.mtime = e.activity;
    }
    h.inflight++;
    h.pendingBytes += n;
    fsWrite(fd, bytes, 0, n, position, (err, written) => {
      const error = err ?? (written !== n ? new FsError('EIO', `short write into the staging area (${written} of ${n} bytes)`) : undefined);
      if (error) {
        h.error ??= error;
        if (h.entry) {
          h.entry.writeError ??= error.message;
          if (h.entry.hasher === hasher) dropHasher(h.entry);
        }
        stream?.abort(`a write into the staging area failed: ${error.message}`);
        this.hw.give(bytes);
        this.log(`write into the staged copy of ${h.path} (dataset ${h.datasetId}) failed: ${error.message}`);
      } else {
        stream?.written(position, n);
        if (hasher) hasher.feed(seq, bytes);
        else this.hw.give(bytes);
      }
      h.inflight--;
      h.pendingBytes -= n;
      if (h.inflight === 0) for (const wake of h.idle.splice(0)) wake();
    });
    if (h.pendingBytes > MAX_WRITE_BEHIND) await this.drain(h);
    return n;
  }

  /** flush (each close(2) of a descriptor): the handle's answered writes reach the staged file; a failure is reported here. */
  async flush(handle: number): Promise<void> {
    const h = this.handles.get(handle);
    if (h) await this.drain(h);
  }

  /** ftruncate(2). */
  async ftruncate(handle: number, size: number): Promise<void> {
    const h = this.handle(handle);
    if (!h.write) throw new FsError('EINVAL', 'the file is not open for writing');
    if (h.entry) await this.truncateEntry(h.entry, size);
    else {
      await this.drain(h);
      await h.fh!.truncate(size);
    }
  }

  /** truncate(2) by path. */
  async truncate(datasetId: number, filePath: string, size: number): Promise<void> {
    this.ready();
    const p = this.path(filePath);
    const found = await this.lookup(datasetId, p);
    if (!found.entry && !found.fm) throw notFound(p);
    await this.requireEdit(datasetId);
    const e = await this.local(datasetId, p, found, size === 0 ? 0 : undefined);
    await this.truncateEntry(e, size);
    await this.persistEntry(e);
    this.executor!.wake(datasetId, e.activity + this.o.quietMs);
  }

  /**
   * fsync(2): the staged bytes reach the disk and the entry the journal at
   * once; the upload starts shortly after (min(quiet period, 1 s)), without
   * waiting for the close. The short delay lets an atomic save (write a
   * temporary file, fsync it, rename it over the original) end in one replace
   * under the final name instead of an add of the temporary file.
   */
  async fsync(handle: number): Promise<void> {
    const h = this.handle(handle);
    await this.drain(h);
    await h.fh?.datasync();
    const e = h.entry;
    if (e && !e.gone && !e.junk) {
      await this.persistEntry(e);
      e.forced = true;
      e.retryAt = Math.max(e.retryAt ?? 0, Date.now() + Math.min(this.o.quietMs, 1000));
      this.executor!.wake(e.datasetId, e.retryAt);
    }
  }

  /** close(2) of the last reference (FUSE release): the quiet period starts. */
  async release(handle: number): Promise<void> {
    const h = this.handle(handle);
    // A failure was reported to close(2) by flush already; here it only must not stop the release.
    await this.drain(h).catch(() => {});
    this.handles.delete(handle);
    await h.fh?.close();
    const e = h.entry;
    if (!h.write || !e || e.gone) return;
    e.writers = Math.max(0, e.writers - 1);
    e.activity = Date.now();
    if (e.writers === 0 && e.stream && !e.stream.started) stopStream(e, 'closed');
    else if (e.writers === 0) e.stream?.closed();
    await this.persistEntry(e);
    if (e.writers === 0) this.executor!.wake(e.datasetId, this.executor!.readyAt(e));
  }

  /** unlink(2). */
  async unlink(datasetId: number, filePath: string): Promise<void> {
    const state = this.ready();
    const p = this.path(filePath);
    const found = await this.lookup(datasetId, p);
    if (!found.entry && !found.fm) throw notFound(p);
    await this.requireEdit(datasetId);
    const files = await this.listingIfEmptying(datasetId, p);
    const e = found.entry;
    if (!e) {
      const d = this.newEntry({ datasetId, kind: 'file', path: p, base: baseFromFm(found.fm!, this.o.tabular), fm: found.fm, deleted: true });
      state.add(d);
      await state.commit([d, ...this.keepFolder(datasetId, files, p)]);
      this.executor!.wake(datasetId, d.activity + this.o.quietMs);
      return;
    }
    this.detach(e);
    const staged = e.staged;
    if (e.base) {
      // An editor that renamed the file away, wrote a new one under its name and now deletes the old one
      // (vim without backupcopy): the new file becomes one replace of the server file, keeping its metadata.
      const n = state.fileAt(datasetId, e.base.shownPath);
      if (n && n !== e && !n.base && !n.junk && !n.inflight && !n.busy) {
        state.update(n, (x) => {
          x.base = e.base;
          x.fm = e.fm;
          x.meta = { ...e.meta, ...x.meta };
          x.activity = Date.now();
        });
        state.remove(e);
        await state.commit([n, ...this.keepFolder(datasetId, files, p)], [e]);
      } else {
        state.update(e, (x) => {
          x.deleted = true;
          x.staged = undefined;
          x.activity = Date.now();
        });
        await state.commit([e, ...this.keepFolder(datasetId, files, p)]);
      }
    } else if (e.inflight || e.busy) {
      // Its add is on the wire: the file it makes is deleted when the answer comes.
      state.update(e, (x) => {
        x.deleted = true;
        x.staged = undefined;
      });
      await state.commit([e, ...this.keepFolder(datasetId, files, p)]);
    } else {
      state.remove(e);
      await state.commit(this.keepFolder(datasetId, files, p), [e]);
    }
    if (staged !== undefined) await this.staging.remove(staged);
    this.executor!.wake(datasetId, Date.now() + this.o.quietMs);
  }

  /**
   * rename(2) within a dataset (across datasets is EXDEV: the caller's
   * check). Before upload it is local only; a server file gets one metadata
   * call later; a new file renamed over an existing one becomes a replace
   * of that file (rsync, editors' atomic saves). Folders move with all
   * their files.
   */
  async rename(datasetId: number, fromPath: string, toPath: string): Promise<void> {
    const state = this.ready();
    const from = this.path(fromPath);
    const to = this.path(toPath);
    if (from === to) return;
    if (from === '' || to === '') throw new FsError('EBUSY', 'the draft folder itself cannot be renamed');
    if (isUnder(to, from)) throw einval(`cannot move ${from} into itself`);
    const src = await this.lookup(datasetId, from);
    if (!src.entry && !src.fm) {
      const view = await this.view(datasetId);
      if (view.dirs.has(from)) return this.renameDir(datasetId, from, to, view);
      throw notFound(from);
    }
    const toJunk = isJunk(to, this.o.junk);
    const srcHasBase = src.entry ? src.entry.base !== undefined : true;
    if (!toJunk || srcHasBase) this.refuseName('rename', datasetId, to, filePathProblem(to));
    await this.requireEdit(datasetId);
    const dst = await this.lookup(datasetId, to);
    const files = await this.listingIfEmptying(datasetId, from, to);
    const put: Entry[] = [];
    const drop: Entry[] = [];
    const unstage: string[] = [];
    let s = src.entry;
    if (!s) {
      s = this.newEntry({ datasetId, kind: 'file', path: from, base: baseFromFm(src.fm!, this.o.tabular), fm: src.fm });
      state.add(s);
    }
    const free = (x: Entry) => !x.base && !x.inflight && !x.busy;
    if (dst.entry && dst.entry !== s) {
      const t = dst.entry;
      if (free(s) && s.staged !== undefined) {
        // New bytes take the target's place and its link to the server: one upload, under the final name.
        this.absorb(t, s, toJunk, unstage);
        drop.push(s);
        put.push(t, ...this.keepFolder(datasetId, files, from));
        await state.commit(put, drop);
        for (const name of unstage) await this.staging.remove(name);
        this.executor!.wake(datasetId, Date.now() + this.o.quietMs);
        return;
      }
      this.discard(t, put, drop, unstage);
    } else if (dst.fm) {
      const fm = dst.fm;
      if (free(s)) {
        // An atomic save over a server file: a replace of that file, which keeps its metadata.
        stopStream(s, 'renamed over a file on the server');
        state.update(s, (x) => {
          x.base = baseFromFm(fm, this.o.tabular);
          x.fm = fm;
        });
      } else {
        const d = this.newEntry({ datasetId, kind: 'file', path: to, base: baseFromFm(fm, this.o.tabular), fm, deleted: true });
        state.add(d);
        put.push(d);
      }
    }
    state.update(s, (x) => {
      x.path = to;
      x.junk = toJunk && !x.base ? true : undefined;
      x.activity = Date.now();
    });
    if (s.junk) stopStream(s, 'renamed to a local-only name');
    put.push(s, ...this.keepFolder(datasetId, files, from));
    await state.commit(put, drop);
    for (const name of unstage) await this.staging.remove(name);
    this.executor!.wake(datasetId, Date.now() + this.o.quietMs);
  }

  // --- folders ---

  /** mkdir(2): a local folder until a file lands in it (the server has no empty folders). */
  async mkdir(datasetId: number, dirPath: string): Promise<void> {
    const state = this.ready();
    const p = this.path(dirPath);
    this.refuseName('mkdir', datasetId, p, folderProblem(p));
    await this.requireEdit(datasetId);
    const view = await this.view(datasetId);
    if (view.files.has(p) || view.dirs.has(p)) throw new FsError('EEXIST', `${p} exists`);
    const e = this.newEntry({ datasetId, kind: 'dir', path: p, mtime: Date.now() });
    state.add(e);
    await state.commit([e]);
  }

  /**
   * After `removed` (a file or folder) was deleted or moved away in the
   * state: if that emptied its folder, the folder would vanish with it (on
   * the server a folder is only the directoryLabel of its files). A file
   * system keeps it, empty, until rmdir: it becomes a local folder, as if
   * made with mkdir (journaled, dropped when a file lands in it). `files`:
   * from listingIfEmptying (undefined: nothing to check). Returns the entry
   * to commit, if one was made. Synchronous on purpose: no other
   * operation may see the folder missing in between.
   */
  private keepFolder(datasetId: number, files: FileMetadataInfo[] | undefined, removed: string): Entry[] {
    const state = this.state!;
    const dir = splitPath(removed).dir;
    if (!files || state.dirAt(datasetId, dir)) return [];
    // Still shown (other files or folders in it, or its own parents' entries): nothing to keep.
    if (mergeDraft(files, this.overlay(datasetId), this.o.tabular).dirs.has(dir)) return [];
    // Emptying a folder changes its mtime, as removing an entry does in POSIX.
    const e = this.newEntry({ datasetId, kind: 'dir', path: dir, mtime: Date.now() });
    state.add(e);
    return [e];
  }

  /**
   * The draft's listing, for keepFolder, when removing `removed` (or moving
   * it to `to`) may empty its folder; fetched before anything changes, as
   * keepFolder must not wait. undefined when it cannot empty it: a top-level
   * entry, a move that stays in the folder (rsync's rename of each temp file,
   * which would otherwise merge the whole draft once per file), or a folder
   * kept locally already.
   */
  private async listingIfEmptying(datasetId: number, removed: string, to?: string): Promise<FileMetadataInfo[] | undefined> {
    const dir = splitPath(removed).dir;
    if (dir === '' || (to !== undefined && isUnder(to, dir)) || this.state!.dirAt(datasetId, dir)) return undefined;
    return this.serverFiles(datasetId);
  }

  /** rmdir(2). */
  async rmdir(datasetId: number, dirPath: string): Promise<void> {
    const state = this.ready();
    const p = this.path(dirPath);
    if (p === '') throw new FsError('EBUSY', 'the draft folder itself cannot be removed');
    const view = await this.view(datasetId);
    if (view.files.has(p)) throw new FsError('ENOTDIR', `${p} is a file`);
    if (!view.dirs.has(p)) throw notFound(p);
    const busy = [...view.files.keys()].some((f) => isUnder(f, p)) || [...view.dirs.keys()].some((d) => d !== p && isUnder(d, p));
    if (busy) throw new FsError('ENOTEMPTY', `${p} is not empty`);
    await this.requireEdit(datasetId);
    const files = await this.listingIfEmptying(datasetId, p);
    const e = state.dirAt(datasetId, p);
    if (e) {
      state.remove(e);
      // rmdir a/b/c leaves a/b, now empty (rm -r, rmdir -p go bottom up).
      await state.commit(this.keepFolder(datasetId, files, p), [e], { [dirTimeKey(datasetId, p)]: null });
    }
  }

  private async renameDir(datasetId: number, from: string, to: string, view: DraftView): Promise<void> {
    const state = this.state!;
    this.refuseName('rename', datasetId, to, folderProblem(to));
    if (view.files.has(to)) throw new FsError('ENOTDIR', `${to} is a file`);
    if (view.dirs.has(to)) {
      const full = [...view.files.keys()].some((f) => isUnder(f, to)) || [...view.dirs.keys()].some((d) => d !== to && isUnder(d, to));
      if (full) throw new FsError('ENOTEMPTY', `${to} is not empty`);
    }
    await this.requireEdit(datasetId);
    const files = await this.listingIfEmptying(datasetId, from, to);
    const put: Entry[] = [];
    const drop: Entry[] = [];
    const target = state.dirAt(datasetId, to);
    if (target) {
      state.remove(target);
      drop.push(target);
    }
    const now = Date.now();
    for (const f of view.files.values()) {
      if (!isUnder(f.path, from)) continue;
      const np = rebase(f.path, from, to);
      let e = f.local ? state.entries.get(f.local.entryId) : f.fm ? state.byBase(datasetId, f.fm.dataFile.id) : undefined;
      if (!e) {
        e = this.newEntry({ datasetId, kind: 'file', path: f.path, base: baseFromFm(f.fm!, this.o.tabular), fm: f.fm });
        state.add(e);
      }
      state.update(e, (x) => {
        x.path = np;
        x.activity = now;
      });
      put.push(e);
    }
    for (const d of state.dirsOf(datasetId)) {
      if (!isUnder(d.path, from)) continue;
      const np = rebase(d.path, from, to);
      state.update(d, (x) => {
        x.path = np;
      });
      put.push(d);
    }
    const times: Record<string, number | null> = {};
    for (const [dp, ms] of state.timesOf(datasetId).dirs) {
      if (!isUnder(dp, from)) continue;
      times[dirTimeKey(datasetId, dp)] = null;
      times[dirTimeKey(datasetId, rebase(dp, from, to))] = ms;
    }
    put.push(...this.keepFolder(datasetId, files, from));
    await state.commit(put, drop, times);
    this.executor!.wake(datasetId, now + this.o.quietMs);
  }

  // --- metadata and times ---

  /** The writable metadata (xattrs user.dataverse.description/restricted/categories). */
  async setMetadata(datasetId: number, filePath: string, patch: FileMeta): Promise<void> {
    const state = this.ready();
    const p = this.path(filePath);
    checkMeta(patch);
    const found = await this.lookup(datasetId, p);
    if (!found.entry && !found.fm) throw notFound(p);
    await this.requireEdit(datasetId);
    let e = found.entry;
    if (!e) {
      e = this.newEntry({ datasetId, kind: 'file', path: p, base: baseFromFm(found.fm!, this.o.tabular), fm: found.fm });
      state.add(e);
    }
    e.meta = { ...e.meta, ...patch };
    e.activity = Date.now();
    await state.commit([e]);
    this.executor!.wake(datasetId, e.activity + this.o.quietMs);
  }

  /** The metadata a file has or will have (for xattr reads). */
  async metadata(datasetId: number, filePath: string): Promise<Required<FileMeta>> {
    this.ready();
    const found = await this.lookup(datasetId, this.path(filePath));
    if (found.entry) return desiredMeta(found.entry);
    if (found.fm) return desiredMeta({ base: baseFromFm(found.fm, this.o.tabular) });
    throw notFound(filePath);
  }

  /** utimens(2): remembered locally across remounts (the server keeps no mtimes); atime is not kept. */
  async utimens(datasetId: number, filePath: string, mtime: Date | number): Promise<void> {
    const state = this.ready();
    const p = this.path(filePath);
    const ms = typeof mtime === 'number' ? mtime : mtime.getTime();
    const found = await this.lookup(datasetId, p);
    if (found.entry) {
      found.entry.mtime = ms;
      await state.commit([found.entry]);
      return;
    }
    if (found.fm) {
      await state.commit([], [], { [fileTimeKey(datasetId, found.fm.dataFile.id)]: ms });
      return;
    }
    const dir = state.dirAt(datasetId, p);
    if (dir) {
      dir.mtime = ms;
      await state.commit([dir]);
      return;
    }
    const view = await this.view(datasetId);
    if (!view.dirs.has(p)) throw notFound(p);
    await state.commit([], [], { [dirTimeKey(datasetId, p)]: ms });
  }

  // --- sync and status ---

  /**
   * Upload everything pending now (of one dataset, or all) and resolve when
   * it is done; failed items (with the server's reason) are in the result.
   * Items that failed before are tried again.
   */
  async sync(datasetId?: number): Promise<SyncResult> {
    const state = this.ready();
    const executor = this.executor!;
    const targets = [...state.entries.values()].filter(
      (e) => !e.junk && e.kind === 'file' && (datasetId === undefined || e.datasetId === datasetId),
    );
    for (const e of targets) {
      e.forced = true;
      e.failed = undefined;
    }
    for (const id of new Set(targets.map((e) => e.datasetId))) executor.kick(id);
    // Done: landed, failed, or (still open for writing) in step with the server as it is now.
    const pendingOf = () => targets.filter((e) => !e.gone && !e.failed && !(e.writers > 0 && e.syncedGen === e.gen));
    for (;;) {
      if (pendingOf().length === 0 || executor.isStopped) break;
      await executor.idle();
      const left = pendingOf();
      if (left.length === 0 || executor.isStopped) break;
      // Entries backing off, or changed while they were sent: look again shortly.
      const soonest = Math.min(...left.map((e) => e.retryAt ?? 0));
      await sleep(Math.min(1000, Math.max(20, soonest - Date.now())));
      for (const e of left) e.forced = true;
      for (const id of new Set(left.map((e) => e.datasetId))) executor.kick(id);
    }
    const status = this.status();
    const mine = (i: PendingItem) => datasetId === undefined || i.datasetId === datasetId;
    return { failed: status.failed.filter(mine), pending: executor.isStopped ? status.pending.filter(mine) : [] };
  }

  status(): WriterStatus {
    const pending: PendingItem[] = [];
    const now = Date.now();
    let bytesPending = 0;
    for (const e of this.state?.entries.values() ?? []) {
      const item = describeEntry(e, now, this.o.quietMs);
      pending.push(item);
      if (item.op === 'add' || item.op === 'replace') bytesPending += item.size;
    }
    return { pending, failed: pending.filter((i) => i.state === 'failed'), bytesPending, counters: { ...this.counters } };
  }

  // --- what the namespace shows ---

  /** Changes whenever what overlay() returns may have changed (the namespace rebuilds its draft folders then). */
  get version(): number {
    return (this.state?.version ?? 0) + this.sizeChanges;
  }

  /** The local state of a draft, to lay over the server's listing (see mergeDraft). */
  overlay(datasetId: number): DraftOverlay {
    return buildOverlay(this.ready(), datasetId, this.o.quietMs);
  }

  /** The draft as the mount shows it: the server's listing with the local state on top. */
  async view(datasetId: number): Promise<DraftView> {
    const files = await this.serverFiles(datasetId);
    return mergeDraft(files, this.overlay(datasetId), this.o.tabular);
  }

  /** One path of the draft (file or folder), or undefined. */
  async stat(datasetId: number, filePath: string): Promise<ViewFile | { path: string; dir: true; mtime?: Date } | undefined> {
    const p = this.path(filePath);
    const found = await this.lookup(datasetId, p);
    if (found.entry || found.fm) return (await this.view(datasetId)).files.get(p);
    const view = await this.view(datasetId);
    const d = view.dirs.get(p);
    return d ? { path: p, dir: true, mtime: d.mtime } : undefined;
  }

  // --- internals ---

  private ready(): WriteState {
    if (this.closed) throw new FsError('EIO', 'the writer is closed');
    if (!this.state) throw new Error('DraftWriter.recover() must be called first');
    return this.state;
  }

  private path(p: string): string {
    return normalizePath(p);
  }

  private handle(id: number): Handle {
    const h = this.handles.get(id);
    if (!h) throw new FsError('EINVAL', `no open file handle ${id}`);
    return h;
  }

  private addHandle(h: Omit<Handle, 'inflight' | 'pendingBytes' | 'idle'>): number {
    const id = this.nextHandle++;
    this.handles.set(id, { ...h, inflight: 0, pendingBytes: 0, idle: [] });
    return id;
  }

  /** Wait for a handle's answered writes; throws (once) the failure of one of them. */
  private async drain(h: Handle): Promise<void> {
    while (h.inflight > 0) await new Promise<void>((resolve) => h.idle.push(resolve));
    this.throwFailedWrite(h);
  }

  /** Wait for the answered writes of every handle writing into an entry's staged file (failures are the writers' to report). */
  private async drainEntry(e: Entry): Promise<void> {
    for (;;) {
      const busy = [...this.handles.values()].find((h) => h.entry === e && h.inflight > 0);
      if (!busy) return;
      await new Promise<void>((resolve) => busy.idle.push(resolve));
    }
  }

  private throwFailedWrite(h: Handle): void {
    const err = h.error;
    if (!err) return;
    h.error = undefined;
    throw new FsError('EIO', `a write into the staging area failed: ${err.message}`);
  }

  private newEntry(init: Partial<Entry> & { datasetId: number; kind: EntryKind; path: string }): Entry {
    return { id: newId(), writers: 0, gen: 0, size: 0, activity: Date.now(), ...init };
  }

  private refuseName(op: string, datasetId: number, p: string, problem: NameProblem | undefined): void {
    if (!problem) return;
    this.log(`${op} ${p} (dataset ${datasetId}): refused (EINVAL), rule ${problem.rule}: ${problem.message}`);
    throw new FsError('EINVAL', `${p}: ${problem.message}`, true);
  }

  private async requireEdit(datasetId: number): Promise<void> {
    let p = this.perms.get(datasetId);
    if (!p || Date.now() - p.at > this.o.permissionTtlMs) {
      const allowed = this.o.canEdit
        ? this.o.canEdit(datasetId)
        : this.o.client.userPermissions(datasetId).then((x) => x.canEditDataset === true);
      p = { at: Date.now(), allowed };
      this.perms.set(datasetId, p);
      const mine = p;
      allowed.catch(() => {
        if (this.perms.get(datasetId) === mine) this.perms.delete(datasetId);
      });
    }
    if (!(await p.allowed)) throw new FsError('EACCES', `this token may not edit dataset ${datasetId}`);
  }

  /** The draft's listing the lookups use (the namespace's, or our own short-lived copy). */
  private serverFiles(datasetId: number): Promise<FileMetadataInfo[]> {
    if (this.o.serverFiles) return this.o.serverFiles(datasetId);
    const cached = this.listings.get(datasetId);
    if (cached && Date.now() - cached.at < this.o.listingTtlMs) return cached.files;
    const files = this.writes.draftFiles(datasetId);
    this.listings.set(datasetId, { at: Date.now(), files });
    files.catch(() => this.listings.delete(datasetId));
    return files;
  }

  private changed(datasetId: number): void {
    this.listings.delete(datasetId);
    this.o.onChange?.(datasetId);
  }

  /** What is at a file path: a local entry, or a server file (with what recently landed laid over the listing). */
  private async lookup(datasetId: number, p: string): Promise<Found> {
    const state = this.state!;
    const entry = state.fileAt(datasetId, p);
    if (entry) return { entry };
    const recent = state.recentOfDataset(datasetId);
    const landedIds = new Set<number>();
    for (const fm of recent.landed) {
      landedIds.add(fm.dataFile.id);
      if (shownPathOf(fm, this.o.tabular) === p && !state.byBase(datasetId, fm.dataFile.id)) return { fm };
    }
    const files = await this.serverFiles(datasetId);
    let index = this.indexes.get(files);
    if (!index) {
      index = new Map(files.map((fm) => [shownPathOf(fm, this.o.tabular), fm]));
      this.indexes.set(files, index);
    }
    // Look again: the entries may have changed while the listing was fetched.
    const later = state.fileAt(datasetId, p);
    if (later) return { entry: later };
    const fm = index.get(p);
    if (!fm) return {};
    const id = fm.dataFile.id;
    if (state.byBase(datasetId, id) || landedIds.has(id) || recent.gone.includes(id)) return {};
    return { fm };
  }

  /**
   * The entry holding local bytes for a path: an entry with staged bytes as
   * is, or a copy of the server's bytes made now (copy-on-write; with
   * `truncateTo` 0 nothing is copied). One copy per path at a time.
   */
  private async local(datasetId: number, p: string, found: Found, truncateTo?: number): Promise<Entry> {
    if (found.entry?.staged !== undefined) return found.entry;
    const key = `${datasetId}:${p}`;
    const pending = this.cow.get(key);
    if (pending) return pending;
    const job = this.copyOnWrite(datasetId, p, found, truncateTo);
    this.cow.set(key, job);
    try {
      return await job;
    } finally {
      this.cow.delete(key);
    }
  }

  private async copyOnWrite(datasetId: number, p: string, found: Found, truncateTo?: number): Promise<Entry> {
    const state = this.state!;
    const base = found.entry?.base ?? baseFromFm(found.fm!, this.o.tabular);
    const id = found.entry?.id ?? newId();
    const staged = await this.staging.create(id);
    if (truncateTo !== 0 && base.size > 0) {
      try {
        await (this.o.download ?? ((b, dest) => this.download(b, dest)))(base, this.staging.path(staged));
      } catch (e) {
        await this.staging.remove(staged);
        throw e;
      }
    }
    const size = truncateTo === 0 ? 0 : base.size;
    // The entry gets its bytes only now: a half-copied file is never uploaded.
    let e = found.entry && !found.entry.gone ? found.entry : undefined;
    if (e) {
      e.staged = staged;
      e.size = size;
      e.gen++;
    } else {
      e = this.newEntry({ id, datasetId, kind: 'file', path: p, base, fm: found.fm, staged, size });
      state.add(e);
    }
    dropHasher(e);
    if (size === 0) e.hasher = this.hw.start();
    if (size > 0 && base.checksum?.type === 'MD5') e.md5 = { gen: e.gen, value: base.checksum.value };
    e.activity = Date.now();
    await state.commit([e]);
    return e;
  }

  /** The default copy-on-write source: the Access API, checked against the server's checksum. */
  private async download(base: BaseFile, dest: string): Promise<void> {
    const fh = await open(dest, 'r+');
    const hash = createHash('md5');
    try {
      await this.o.client.streamRange({ fileId: base.fileId, query: base.query ?? '', start: 0, end: base.size }, async (chunk, pos) => {
        hash.update(chunk);
        await fh.write(chunk, 0, chunk.length, pos);
      });
      await fh.datasync();
    } finally {
      await fh.close();
    }
    if (base.checksum?.type === 'MD5' && hash.digest('hex') !== base.checksum.value) {
      throw new FsError('EIO', `the copy of file ${base.fileId} does not match the server's checksum`);
    }
    if (base.checksum && base.checksum.type !== 'MD5' && (await hashFileOffThread(this.hashes, dest, base.checksum.type)) !== base.checksum.value) {
      throw new FsError('EIO', `the copy of file ${base.fileId} does not match the server's checksum`);
    }
  }

  private async truncateEntry(e: Entry, size: number): Promise<void> {
    // Writes answered before the truncate land before it.
    await this.drainEntry(e);
    stopForChange(e, 'truncated');
    e.gen++;
    this.sizeChanges++;
    await truncatePath(this.staging.path(e.staged!), size);
    if (size === 0) {
      dropHasher(e);
      e.hasher = this.hw.start();
      e.writeError = undefined; // rewritten from the start: whatever failed before is gone
    } else if (!e.hasher || e.hasher.pos !== size) dropHasher(e);
    e.size = size;
    e.activity = Date.now();
    e.mtime = e.activity;
  }

  /** A streamed add for a new file (it starts only if the file grows big, written front to back); none for a zip name. */
  private streamFor(e: Entry): StreamedAdd | undefined {
    const label = path.posix.basename(e.path);
    if (predictType(label) === ZIP || this.o.streamFromBytes === Infinity) return undefined;
    return new StreamedAdd({
      file: this.staging.path(e.staged!),
      partName: partNameFor(label),
      send: (form) => this.writes.addStreamed(e.datasetId, form),
      log: this.log,
      where: `${e.path} in dataset ${e.datasetId}`,
      minBytes: this.o.streamFromBytes,
      slots: this.streamSlots,
    });
  }

  private async persistEntry(e: Entry): Promise<void> {
    if (!e.gone) await this.state!.commit([e]);
  }

  /** Handles on an entry that is replaced or deleted keep their (unlinked) file but no longer feed the entry. */
  private detach(e: Entry): void {
    stopStream(e, 'replaced or deleted');
    for (const h of this.handles.values()) {
      if (h.entry !== e) continue;
      h.entry = undefined;
      if (h.write) e.writers = Math.max(0, e.writers - 1);
    }
  }

  /** `s` (new bytes, no server side) takes the place of `t`: t keeps its identity and server link, with s's bytes. */
  private absorb(t: Entry, s: Entry, toJunk: boolean, unstage: string[]): void {
    const state = this.state!;
    this.detach(t);
    if (t.staged !== undefined) unstage.push(t.staged);
    const gen = t.gen + 1;
    const md5 = s.md5 && s.md5.gen === s.gen ? { gen, value: s.md5.value } : undefined;
    if (t.hasher !== s.hasher) dropHasher(t);
    stopStream(s, 'renamed over another file');
    state.update(t, (x) => {
      x.staged = s.staged;
      x.size = s.size;
      x.gen = gen;
      x.md5 = md5;
      x.hasher = s.hasher;
      x.writeError = s.writeError;
      x.mtime = s.mtime;
      x.meta = { ...t.meta, ...s.meta };
      x.junk = toJunk && !x.base ? true : undefined;
      x.activity = Date.now();
      x.failed = undefined;
    });
    for (const h of this.handles.values()) {
      if (h.entry !== s) continue;
      h.entry = t;
      if (h.write) t.writers++;
    }
    state.remove(s);
  }

  /** `t` is overwritten by a rename: its server file (if any) is deleted, its local bytes dropped. */
  private discard(t: Entry, put: Entry[], drop: Entry[], unstage: string[]): void {
    const state = this.state!;
    this.detach(t);
    if (t.staged !== undefined) unstage.push(t.staged);
    if (t.base || t.inflight || t.busy) {
      state.update(t, (x) => {
        x.deleted = true;
        x.staged = undefined;
        x.activity = Date.now();
      });
      put.push(t);
    } else {
      state.remove(t);
      drop.push(t);
    }
  }
}

function checkMeta(patch: FileMeta): void {
  if (patch.description !== undefined && typeof patch.description !== 'string') throw einval('description must be text');
  if (patch.restricted !== undefined && typeof patch.restricted !== 'boolean') throw einval('restricted must be true or false');
  if (patch.categories !== undefined) {
    if (!Array.isArray(patch.categories) || patch.categories.some((c) => typeof c !== 'string' || c.trim() === '')) {
      throw einval('categories must be a list of non-empty names');
    }
  }
}

/** The staged file is about to change: stop its streamed upload, also one being finished. */
function stopForChange(e: Entry, why: string): void {
  stopStream(e, why);
  e.finishing?.cut(why);
}

/** Stop an entry's streamed upload, if any (it is then uploaded the usual way). */
function stopStream(e: Entry, why: string): void {
  e.stream?.abort(why);
  e.stream = undefined;
}

/** Forget an entry's running hash (its content stopped being written front to back). */
function dropHasher(e: Entry): void {
  e.hasher?.abort();
  e.hasher = undefined;
}

function newId(): string {
  return randomBytes(8).toString('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
