// The upload queue: per dataset, one request at a time (the server locks a
// dataset during an edit), each bringing one entry's remote state closer to
// its desired state:
//   reconcile  a request whose answer was lost: look at the server first
//   delete     DELETE /api/files/{id}
//   upload     add or replace (skipped when the server has the same bytes)
//   metadata   rename, move, description, categories, restriction
// Transient failures (5xx, 429, resets) back off and retry; a locked dataset
// is waited for; a refusal leaves the entry in place, marked failed, with
// the server's reason.
import PQueue from 'p-queue';
import { DataverseError } from '../dataverse/errors.js';
import type { FileMetadataInfo } from '../dataverse/types.js';
import { outcomeUnknown, StagedFileChanged, type DataverseWrites, type FileJsonData } from '../dataverse/writes.js';
import {
  baseFromFm,
  checksumOf,
  desiredMeta,
  folderOf,
  sameCategories,
  serverPathOf,
  type BaseFile,
  type Entry,
  type Inflight,
  type TabularView,
} from './model.js';
import { joinPath, splitPath } from './names.js';
import { currentFm, desiredTarget, duplicatePattern, OCTET_STREAM, partNameFor, predictType, ZIP } from './plan.js';
import type { Staging } from './staging.js';
import { hashFileOffThread } from './running-hash.js';
import { StreamStopped } from './stream-upload.js';
import type { HashService } from '../cache/hash-service.js';
import type { Checksum } from '../dataverse/types.js';
import { dirTimeKey, fileTimeKey, type WriteState } from './state.js';

export interface Counters {
  added: number;
  replaced: number;
  deleted: number;
  renamed: number;
  metadataUpdated: number;
  identicalSkipped: number;
  retries: number;
  lockWaits: number;
  conflicts: number;
  checksumMismatches: number;
  failures: number;
  bytesUploaded: number;
}

export function newCounters(): Counters {
  return {
    added: 0,
    replaced: 0,
    deleted: 0,
    renamed: 0,
    metadataUpdated: 0,
    identicalSkipped: 0,
    retries: 0,
    lockWaits: 0,
    conflicts: 0,
    checksumMismatches: 0,
    failures: 0,
    bytesUploaded: 0,
  };
}

export interface ExecutorOptions {
  quietMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Longest wait for a dataset lock before the entry is marked failed. */
  lockWaitMs: number;
  /** A failed entry is tried again after this long (and on sync, and at the next mount). */
  failedRetryMs: number;
  /** Uploads whose server checksum differs are retried this often before they are reported. */
  maxVerifyFailures: number;
}

export interface ExecutorDeps {
  state: WriteState;
  staging: Staging;
  writes: DataverseWrites;
  tabular: TabularView;
  log: (line: string) => void;
  onChange: (datasetId: number) => void;
  /** Resolves when the writes already answered for an entry's staged file are on disk (write-behind). */
  drain: (e: Entry) => Promise<void>;
  /** Checksums of staged files are computed here (a worker thread). */
  hashes: HashService;
  counters: Counters;
  options: ExecutorOptions;
}

/** An entry's state is what it should be: nothing left to do. */
const DONE = 'done';

const ADD_FAILED = 'Failed to add file to dataset.';
const FILENAME_EXISTS = /^Filename already exists at /;
const TYPE_DIFFERS = /are different file types/;
const DUPLICATE_CONTENT = /duplicate content/;

/** The quiet period of a file whose upload was streamed while it was written. */
const STREAM_GRACE_MS = 200;

/** How long a server may still be storing an upload after its sender went away (its size at 50 MB/s, plus 3 s). */
function settleMs(size: number): number {
  return Math.min(120_000, 3000 + size / 50_000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class Executor {
  private readonly queues = new Map<number, PQueue>();
  private readonly timers = new Map<number, { at: number; timer: NodeJS.Timeout }>();
  private stopped = false;

  constructor(private readonly d: ExecutorDeps) {}

  /** Start (or queue one more) processing round for a dataset. */
  kick(datasetId: number): void {
    if (this.stopped) return;
    let q = this.queues.get(datasetId);
    if (!q) {
      q = new PQueue({ concurrency: 1 });
      this.queues.set(datasetId, q);
    }
    if (q.size > 0) return; // a round is already waiting and will see everything
    void q.add(() => this.run(datasetId)).catch((e: unknown) => this.d.log(`write queue of dataset ${datasetId}: ${String(e)}`));
  }

  /** Wake a dataset's queue at time `at` (ms), unless it is woken earlier anyway. */
  wake(datasetId: number, at: number): void {
    if (this.stopped) return;
    const t = this.timers.get(datasetId);
    if (t && t.at <= at) return;
    if (t) clearTimeout(t.timer);
    const timer = setTimeout(() => {
      this.timers.delete(datasetId);
      this.kick(datasetId);
    }, Math.max(0, at - Date.now()) + 5);
    timer.unref();
    this.timers.set(datasetId, { at, timer });
  }

  /**
   * When an entry's quiet period after its last change or close ends. A
   * streamed upload waits only a moment (a rename right after the close, as
   * rsync does, still decides the name it is stored under).
   */
  readyAt(e: Entry): number {
    return e.activity + (e.stream?.started ? Math.min(STREAM_GRACE_MS, this.d.options.quietMs) : this.d.options.quietMs);
  }

  /** Resolves when the dataset's queue (or every queue) has nothing running or waiting. */
  async idle(datasetId?: number): Promise<void> {
    const qs = datasetId === undefined ? [...this.queues.values()] : [this.queues.get(datasetId)].filter((q) => q !== undefined);
    await Promise.all(qs.map((q) => q.onIdle()));
  }

  /** Stop starting work (requests in flight finish; their entries stay journaled). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const q of this.queues.values()) q.clear();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // --- choosing what to do ---

  /** Whether an entry can be worked on now; undefined = not now. 0 reconcile, 1 delete, 2 metadata, 3 upload. */
  private priority(e: Entry, now: number): number | undefined {
    if (e.gone || e.busy || e.junk || e.kind === 'dir') return undefined;
    if (e.inflight) return 0;
    if (e.failed && !e.forced && now - e.failed.at < this.d.options.failedRetryMs) return undefined;
    if ((e.retryAt ?? 0) > now) return undefined;
    if (!e.forced && (e.writers > 0 || now < this.readyAt(e))) return undefined;
    if (e.deleted) return 1;
    return e.staged === undefined ? 2 : 3;
  }

  private next(datasetId: number): Entry | undefined {
    const now = Date.now();
    let best: Entry | undefined;
    let bestP = Infinity;
    for (const e of this.d.state.entriesOf(datasetId)) {
      const p = this.priority(e, now);
      if (p === undefined) continue;
      if (p < bestP || (p === bestP && e.activity < best!.activity)) {
        best = e;
        bestP = p;
      }
    }
    return best;
  }

  /** When the dataset's queue must look again (quiet periods ending, back-offs, failed retries). */
  private nextWake(datasetId: number): number | undefined {
    let at: number | undefined;
    const o = this.d.options;
    for (const e of this.d.state.entriesOf(datasetId)) {
      if (e.gone || e.junk || e.kind === 'dir' || e.busy) continue;
      let t: number | undefined;
      if (e.failed && !e.forced) t = e.failed.at + o.failedRetryMs;
      else if (e.writers > 0 && !e.forced) t = undefined; // release() wakes it
      else t = Math.max(e.retryAt ?? 0, e.forced ? 0 : this.readyAt(e));
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    return at;
  }

  private async run(datasetId: number): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const e = this.next(datasetId);
      if (!e) break;
      e.busy = true;
      try {
        const result = await this.step(e);
        if (result === DONE && e.writers > 0 && !e.deleted) {
          // In step with the server but still open for writing: it stays until the last close.
          e.syncedGen = e.gen;
          await this.d.state.commit([e]);
        } else if (result === DONE) await this.finish(e);
        e.attempts = 0;
      } catch (err) {
        await this.failure(e, err);
      } finally {
        e.busy = false;
      }
    }
    const at = this.nextWake(datasetId);
    if (at !== undefined) this.wake(datasetId, at);
  }

  // --- one step ---

  private async step(e: Entry): Promise<typeof DONE | void> {
    if (e.inflight) return this.reconcile(e);
    if (e.deleted) {
      if (!e.base) return DONE;
      return this.delete(e);
    }
    const base = e.base;
    if (e.staged !== undefined) {
      await this.d.drain(e);
      if (e.writeError) {
        throw new PermanentError(`the local copy is incomplete (a write into the staging area failed: ${e.writeError}); write the file again`);
      }
      const md5 = await this.md5(e);
      if (md5 === undefined) return; // changed while hashing: next round
      if (!base || !(await this.sameContent(e, base, md5))) return this.upload(e, md5);
    }
    if (!base) return DONE; // an empty local-only entry (cannot happen for files with content)
    const json = metadataChanges(e, base);
    if (Object.keys(json).length === 0) {
      if (e.staged !== undefined && base.checksum && !base.ours) this.d.counters.identicalSkipped++;
      return DONE;
    }
    return this.updateMetadata(e, base, json);
  }

  /** MD5 of the staged content (computed once per content generation). */
  private async md5(e: Entry): Promise<string | undefined> {
    if (e.md5?.gen === e.gen) return e.md5.value;
    const gen = e.gen;
    if (e.hasher && e.hasher.pos === e.size) {
      // Written front to back: the running hash is the file's (no second read of a big file). Its digest
      // ends it; a later write hashes the file again.
      const hasher = e.hasher;
      e.hasher = undefined;
      const value = await hasher.digest().catch(() => undefined);
      if (e.gen !== gen || e.gone) return undefined;
      if (value !== undefined) {
        e.md5 = { gen, value };
        return value;
      }
    }
    const value = await this.hashFile(this.d.staging.path(e.staged!), 'MD5');
    if (e.gen !== gen || e.gone) return undefined;
    e.md5 = { gen, value };
    return value;
  }

  private async sameContent(e: Entry, base: BaseFile, md5: string): Promise<boolean> {
    const sum = base.checksum;
    if (!sum) return false;
    if (sum.type === 'MD5') return sum.value === md5;
    const gen = e.gen;
    const value = await this.hashFile(this.d.staging.path(e.staged!), sum.type);
    return e.gen === gen && value === sum.value;
  }

  private hashFile(file: string, type: Checksum['type']): Promise<string> {
    return hashFileOffThread(this.d.hashes, file, type);
  }

  private async setInflight(e: Entry, inflight: Inflight | undefined): Promise<void> {
    e.inflight = inflight;
    await this.d.state.commit([e]);
  }

  // --- delete ---

  private async delete(e: Entry): Promise<typeof DONE> {
    const base = e.base!;
    await this.setInflight(e, { op: 'delete', fileId: base.fileId, at: Date.now() });
    try {
      await this.d.writes.deleteFile(base.fileId);
    } catch (err) {
      // Already gone (deleted before a crash, or by someone else): done.
      if (!(err instanceof DataverseError && err.status === 404)) {
        if (!outcomeUnknown(err)) await this.setInflight(e, undefined);
        throw err;
      }
    }
    this.d.counters.deleted++;
    this.d.state.noteGone(e.datasetId, base.fileId);
    this.d.log(`deleted ${this.where(e, base.shownPath)} (file ${base.fileId})`);
    this.d.onChange(e.datasetId);
    return DONE;
  }

  // --- add / replace ---

  private async upload(e: Entry, md5: string): Promise<typeof DONE | void> {
    const base = e.base;
    const { label, dir } = desiredTarget(e);
    const meta = desiredMeta(e);
    const zip = predictType(label) === ZIP;
    // The server unpacks anything it takes for a zip: send it under a neutral name, rename afterwards (notes §6.6).
    const partName = zip ? `dvfs-${e.id}.upload` : partNameFor(label);
    const sentLabel = zip ? partName : label;
    const json: FileJsonData = { tabIngest: 'false' };
    if (!zip) json.label = label;
    if (dir) json.directoryLabel = dir;
    if (meta.description) json.description = meta.description;
    if (meta.categories.length) json.categories = meta.categories;
    json.restrict = meta.restricted;
    const baseType = base?.contentType.split(';')[0].trim().toLowerCase();
    if (base && (e.forceReplace || predictType(partName) !== baseType)) json.forceReplace = true;

    const staged = e.staged!;
    const gen = e.gen;
    e.forced = false; // later writes wait for their own quiet period again
    // A streamed add in progress: finished below when it can carry this upload, else stopped (sent the usual way).
    const stream = e.stream;
    e.stream = undefined;
    const streamed = stream?.started && !base && !zip && e.writers === 0 && predictType(stream.partName) === predictType(partName) ? stream : undefined;
    if (stream !== streamed) stream?.abort(base ? 'the file now replaces one on the server' : e.writers > 0 ? 'uploaded while still open' : 'renamed to another type');
    await this.setInflight(e, {
      op: base ? 'replace' : 'add',
      md5,
      label: sentLabel,
      ...(dir ? { directoryLabel: dir } : {}),
      ...(base ? { fileId: base.fileId } : {}),
      at: Date.now(),
    });
    const body = { file: this.d.staging.path(staged), partName, contentType: OCTET_STREAM, jsonData: json };
    let files: FileMetadataInfo[];
    this.d.staging.hold(staged);
    try {
      if (base) files = await this.d.writes.replaceFile(base.fileId, body);
      else if (streamed) {
        e.finishing = streamed;
        files = await streamed.finish(e.size, JSON.stringify(json)).finally(() => (e.finishing = undefined));
      }
      else files = await this.d.writes.addFile(e.datasetId, body);
    } catch (err) {
      if (err instanceof StagedFileChanged || !outcomeUnknown(err)) await this.setInflight(e, undefined);
      if (err instanceof DataverseError && base && err.status === 400) {
        if (TYPE_DIFFERS.test(err.message) && !e.forceReplace) {
          e.forceReplace = true; // the server's type detection differs from ours: say so and send again
          return;
        }
        if (DUPLICATE_CONTENT.test(err.message)) {
          // The server holds these bytes already (its checksum type differs from ours): nothing to send.
          e.base = { ...base, checksum: { type: 'MD5', value: md5 } };
          await this.d.state.commit([e]);
          return;
        }
      }
      throw err;
    } finally {
      this.d.staging.release(staged);
    }
    e.forceReplace = undefined;
    if (files.length !== 1) return this.unpacked(e, files);
    const fm = files[0];
    const landed = baseFromFm(fm, this.d.tabular, true);
    this.d.state.update(e, (x) => {
      x.base = landed;
      x.fm = fm;
      x.inflight = undefined;
    });
    const size = fm.dataFile.filesize;
    this.d.counters.bytesUploaded += size;
    if (base) this.d.counters.replaced++;
    else this.d.counters.added++;
    if (base) this.d.state.noteGone(e.datasetId, base.fileId);
    this.d.state.noteLanded(e.datasetId, fm);
    this.d.log(`${base ? 'replaced' : 'added'} ${this.where(e, joinPath(dir, label))} (${size} bytes, file ${fm.dataFile.id})`);
    // The server's checksum must be that of the bytes we sent.
    const sum = checksumOf(fm);
    let ok = true;
    if (sum?.type === 'MD5') ok = sum.value === md5;
    else if (sum && e.gen === gen) ok = (await this.hashFile(this.d.staging.path(staged), sum.type)) === sum.value;
    if (!ok) {
      this.d.counters.checksumMismatches++;
      e.verifyFailures = (e.verifyFailures ?? 0) + 1;
      this.d.log(`checksum of ${this.where(e, e.path)} on the server (${sum?.type} ${sum?.value}) differs from the local one; upload ${e.verifyFailures} of ${this.d.options.maxVerifyFailures}`);
      if (e.verifyFailures >= this.d.options.maxVerifyFailures) {
        e.failed = { message: `the server's checksum differs from the local file after ${e.verifyFailures} uploads`, at: Date.now() };
        this.d.counters.failures++;
      }
      // The base now has the server's checksum: the next round hashes the staged file again and replaces if they differ.
      e.md5 = undefined;
      e.hasher?.abort();
      e.hasher = undefined;
    } else if (sum) {
      e.verifyFailures = undefined;
    }
    if (base && this.d.state.times.has(fileTimeKey(e.datasetId, base.fileId))) {
      await this.d.state.commit([], [], { [fileTimeKey(e.datasetId, base.fileId)]: null });
    }
    this.d.onChange(e.datasetId);
    // Nothing left to do (the usual case): the entry is forgotten in one journal write.
    if (ok && e.gen === gen && !e.deleted && Object.keys(metadataChanges(e, landed)).length === 0) return DONE;
    await this.d.state.commit([e]);
  }

  /** The server unpacked what we sent (a zip it recognised by content): remove what it made and fail loudly. */
  private async unpacked(e: Entry, files: FileMetadataInfo[]): Promise<void> {
    for (const fm of files) {
      await this.d.writes.deleteFile(fm.dataFile.id).catch(() => {});
    }
    await this.setInflight(e, undefined);
    throw new PermanentError(`the server unpacked ${e.path} into ${files.length} files (removed again); it cannot be stored as one file`);
  }

  // --- metadata (rename, move, description, categories, restriction) ---

  private async updateMetadata(e: Entry, base: BaseFile, json: FileJsonData): Promise<void> {
    if (json.directoryLabel === '' && json.label === undefined) json.label = base.label;
    if (json.directoryLabel === '') {
      // A move to the root escapes the server's collision check (see metadataChanges): check it here.
      const target = serverPathOf(json.label!, undefined);
      const listing = await this.d.writes.draftFiles(e.datasetId);
      if (listing.some((fm) => fm.dataFile.id !== base.fileId && serverPathOf(fm.label, fm.directoryLabel) === target)) {
        return this.collision(e, base, target);
      }
    }
    await this.setInflight(e, { op: 'metadata', fileId: base.fileId, at: Date.now() });
    let result;
    try {
      result = await this.d.writes.updateMetadata(base.fileId, json);
    } catch (err) {
      if (!outcomeUnknown(err)) await this.setInflight(e, undefined);
      if (err instanceof DataverseError && err.status === 400 && FILENAME_EXISTS.test(err.message)) {
        return this.collision(e, base, serverPathOf(json.label ?? base.label, json.directoryLabel ?? base.directoryLabel));
      }
      throw err;
    }
    const sentDir = json.directoryLabel !== undefined ? json.directoryLabel || undefined : base.directoryLabel;
    const label = result.label ?? json.label ?? base.label;
    // The answer omits directoryLabel at the root: trust its absence only when there was an answer to read.
    const dirNow = result.label !== undefined ? result.directoryLabel : sentDir;
    const moved = json.label !== undefined || json.directoryLabel !== undefined;
    const next: BaseFile = {
      ...base,
      label,
      ...(dirNow ? { directoryLabel: dirNow } : {}),
      description: result.description ?? json.description ?? base.description,
      categories: result.categories ?? json.categories ?? base.categories,
      restricted: result.restricted ?? json.restrict ?? base.restricted,
    };
    if (!dirNow) delete next.directoryLabel;
    next.shownPath = !base.original ? serverPathOf(label, dirNow) : moved ? e.path : base.shownPath;
    this.d.state.update(e, (x) => {
      x.base = next;
      x.inflight = undefined;
    });
    await this.d.state.commit([e]);
    if (moved) this.d.counters.renamed++;
    else this.d.counters.metadataUpdated++;
    this.d.log(`${moved ? `moved file ${base.fileId} to` : 'updated metadata of'} ${this.where(e, serverPathOf(label, dirNow))}`);
    const wanted = serverPathOf(json.label ?? base.label, sentDir);
    if (serverPathOf(label, dirNow) !== wanted) {
      throw new PermanentError(`the server stored file ${base.fileId} as "${serverPathOf(label, dirNow)}" instead of "${wanted}"`);
    }
    this.d.state.noteLanded(e.datasetId, currentFm(e));
    this.d.onChange(e.datasetId);
  }

  /**
   * A rename or an upload's repair ran into a file already at the target.
   * If that file is one of ours on its way out (deleted, or moving
   * elsewhere), clear the way first; otherwise it is somebody else's: our
   * file is not left under a name the user did not choose, and the entry
   * fails with a clear reason (its bytes stay staged).
   */
  private async collision(e: Entry, base: BaseFile, target: string): Promise<void> {
    const listing = await this.d.writes.draftFiles(e.datasetId);
    const occupant = listing.find((fm) => fm.dataFile.id !== base.fileId && serverPathOf(fm.label, fm.directoryLabel) === target);
    if (!occupant) throw new TransientError(`"${target}" was taken and is free again`);
    const other = this.d.state.byBase(e.datasetId, occupant.dataFile.id);
    const ours = e.md5?.gen === e.gen ? e.md5.value : undefined;
    if (!other && base.ours && ours !== undefined && checksumOf(occupant)?.value === ours) {
      // An earlier send of these very bytes landed after all (its sender went away before the answer): keep that one.
      await this.d.writes.deleteFile(base.fileId);
      this.d.state.noteGone(e.datasetId, base.fileId);
      this.d.state.update(e, (x) => {
        x.base = baseFromFm(occupant, this.d.tabular, true);
        x.fm = occupant;
      });
      await this.d.state.commit([e]);
      this.d.log(`${this.where(e, target)} was already on the server (file ${occupant.dataFile.id}); removed the second copy`);
      return;
    }
    if (other && other !== e && !other.gone && !other.busy) {
      if (other.deleted) {
        other.busy = true;
        try {
          await this.delete(other);
          await this.finish(other);
        } finally {
          other.busy = false;
        }
        return;
      }
      const t = desiredTarget(other);
      if (serverPathOf(t.label, t.dir || undefined) !== target) {
        // A swap or a rotation of names: park the other file under a temporary name.
        const ob = other.base!;
        const temp = `dvfs-moving-${other.id}-${ob.label}`;
        await this.d.writes.updateMetadata(ob.fileId, { label: temp });
        this.d.state.update(other, (x) => {
          x.base = { ...ob, label: temp, shownPath: serverPathOf(temp, ob.directoryLabel) };
        });
        await this.d.state.commit([other]);
        return;
      }
    }
    this.d.counters.conflicts++;
    let message = `"${target}" already exists on the server (file ${occupant.dataFile.id}, changed outside this mount); the local copy is kept — rename or delete it`;
    if (base.ours && e.staged !== undefined) {
      // We just added it under another name: take it away again.
      await this.d.writes.deleteFile(base.fileId);
      this.d.state.noteGone(e.datasetId, base.fileId);
      this.d.state.update(e, (x) => {
        x.base = undefined;
      });
      message += ` (the copy the server had named "${serverPathOf(base.label, base.directoryLabel)}" was removed)`;
    }
    throw new PermanentError(message);
  }

  // --- a request whose answer was lost ---

  private async reconcile(e: Entry): Promise<void> {
    const f = e.inflight!;
    if (f.op === 'metadata') {
      await this.setInflight(e, undefined); // sending it again is harmless
      return;
    }
    let listing = await this.d.writes.draftFiles(e.datasetId);
    let byId = new Map(listing.map((fm) => [fm.dataFile.id, fm]));
    if (f.op === 'delete') {
      if (!byId.has(f.fileId!)) {
        this.d.log(`found file ${f.fileId} already deleted (${this.where(e, e.path)})`);
        this.d.counters.deleted++;
        this.d.state.noteGone(e.datasetId, f.fileId!);
        if (e.deleted) {
          await this.finish(e);
          return;
        }
      }
      await this.setInflight(e, undefined);
      return;
    }
    const happened = () => (f.op === 'replace' ? !byId.has(f.fileId!) : this.findUpload(e, listing, f) !== undefined);
    const settleAt = f.at + settleMs(e.size);
    const mayBeRunning = e.settle === true;
    e.settle = undefined;
    if (mayBeRunning && !happened() && Date.now() < settleAt) {
      // A sender that died right after sending leaves the server still working on it: give it time to finish.
      this.d.log(`checking again in ${settleAt - Date.now()} ms whether ${this.where(e, e.path)} reached the server`);
      await sleep(settleAt - Date.now());
      listing = await this.d.writes.draftFiles(e.datasetId);
      byId = new Map(listing.map((fm) => [fm.dataFile.id, fm]));
    }
    if (f.op === 'replace' && byId.has(f.fileId!)) {
      await this.setInflight(e, undefined); // the replace did not happen
      return;
    }
    const match = this.findUpload(e, listing, f);
    this.d.state.update(e, (x) => {
      x.inflight = undefined;
      if (match) {
        x.base = baseFromFm(match, this.d.tabular, true);
        x.fm = match;
      }
      else if (f.op === 'replace') x.base = undefined; // the file was removed meanwhile: add instead
    });
    if (match) {
      this.d.log(`found ${this.where(e, serverPathOf(match.label, match.directoryLabel))} already on the server (file ${match.dataFile.id}); not sent again`);
      if (f.op === 'add') this.d.counters.added++;
      else this.d.counters.replaced++;
      if (f.op === 'replace' && f.fileId !== undefined) this.d.state.noteGone(e.datasetId, f.fileId);
      this.d.state.noteLanded(e.datasetId, match);
      this.d.onChange(e.datasetId);
    }
    await this.d.state.commit([e]);
  }

  /**
   * The file an add/replace made, if it happened: at the path sent with the
   * bytes sent (or under the server's "-N" rename of that name).
   */
  private findUpload(e: Entry, listing: FileMetadataInfo[], f: Inflight): FileMetadataInfo | undefined {
    const path = serverPathOf(f.label!, f.directoryLabel);
    const sameBytes = (fm: FileMetadataInfo) => checksumOf(fm)?.value === f.md5;
    const exact = listing.find((fm) => serverPathOf(fm.label, fm.directoryLabel) === path && sameBytes(fm));
    if (exact) return exact;
    // The server renames an upload ("x.txt" → "x-1.txt", "file-000.dat" → "file-001.dat") only when the name
    // is taken: without another file at the name, a file with a look-alike name and the same bytes (two empty
    // files, two copies) is somebody else's, never this upload.
    if (!listing.some((fm) => serverPathOf(fm.label, fm.directoryLabel) === path)) return undefined;
    const ours = new Set(this.d.state.recentOfDataset(e.datasetId).landed.map((fm) => fm.dataFile.id));
    const dup = duplicatePattern(f.label!);
    return listing.find(
      (fm) =>
        folderOf(fm) === folderOf({ directoryLabel: f.directoryLabel }) &&
        dup.test(fm.label) &&
        sameBytes(fm) &&
        !ours.has(fm.dataFile.id) &&
        !this.d.state.byBase(e.datasetId, fm.dataFile.id),
    );
  }

  // --- the end of an entry ---

  /** The server has what the entry wanted: forget it (and its staged bytes), remember its mtime. */
  async finish(e: Entry): Promise<void> {
    const times: Record<string, number | null> = {};
    const drop: Entry[] = [e];
    if (!e.deleted && e.base) {
      if (e.mtime !== undefined) times[fileTimeKey(e.datasetId, e.base.fileId)] = e.mtime;
      // A folder that now has a file exists on the server: the local folder entry can go.
      for (let d = splitPath(e.path).dir; d !== ''; d = splitPath(d).dir) {
        const de = this.d.state.dirAt(e.datasetId, d);
        if (de) {
          drop.push(de);
          if (de.mtime !== undefined) times[dirTimeKey(e.datasetId, d)] = de.mtime;
        }
      }
      this.d.state.noteLanded(e.datasetId, currentFm(e));
    }
    if (e.deleted && e.base) times[fileTimeKey(e.datasetId, e.base.fileId)] = null;
    const staged = e.staged;
    for (const x of drop) this.d.state.remove(x);
    await this.d.state.commit([], drop, times);
    if (staged !== undefined) await this.d.staging.remove(staged);
    this.d.onChange(e.datasetId);
  }

  // --- failures ---

  private async failure(e: Entry, err: unknown): Promise<void> {
    if (e.gone || this.stopped) return; // stopped: the journal keeps it for the next mount
    const o = this.d.options;
    const message = describeError(err);
    if (err instanceof StagedFileChanged) {
      this.d.log(`${this.where(e, e.path)} changed while it was uploaded; it goes again when it is quiet`);
      e.retryAt = Date.now() + o.quietMs;
      return;
    }
    if (err instanceof PermanentError) return this.fail(e, message);
    if (err instanceof StreamStopped) {
      // Nothing was stored: the next round sends it the usual way, after the Retry-After of a refusal (429, 503).
      const hinted = retryAfterOf(err.cause);
      if (hinted !== undefined) e.retryAt = Date.now() + Math.min(hinted, Math.max(o.retryMaxMs, 60_000));
      return;
    }
    // A timeout leaves the server possibly still working on the request: the check waits for it to settle.
    if (e.inflight && err instanceof DataverseError && (err.status === 504 || /TIMEOUT/i.test(err.message))) e.settle = true;
    const lock = await this.lockSuspected(e, err);
    if (lock) {
      this.d.counters.lockWaits++;
      this.d.log(`dataset ${e.datasetId} is locked (${lock}); waiting to send ${this.where(e, e.path)}`);
      const free = await this.waitForLocks(e.datasetId);
      if (!free) return this.fail(e, `the dataset stayed locked (${lock}) for ${Math.round(o.lockWaitMs / 1000)} s`);
      return;
    }
    const transient = err instanceof TransientError || outcomeUnknown(err) || (err instanceof DataverseError && (err.status === 429 || (err.status === 400 && err.message === ADD_FAILED)));
    if (!transient) return this.fail(e, message);
    e.attempts = (e.attempts ?? 0) + 1;
    if (e.attempts >= o.maxAttempts) return this.fail(e, `${message} (after ${e.attempts} attempts)`);
    this.d.counters.retries++;
    const hinted = retryAfterOf(err);
    const cap = Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** (e.attempts - 1));
    // Retry-After is honoured up to a minute (or the back-off cap, if larger).
    const delay = hinted !== undefined ? Math.min(hinted, Math.max(o.retryMaxMs, 60_000)) : Math.round(cap / 2 + (Math.random() * cap) / 2);
    e.retryAt = Date.now() + delay;
    this.d.log(`${this.where(e, e.path)}: ${message}; retrying in ${delay} ms (attempt ${e.attempts + 1} of ${o.maxAttempts})`);
  }

  private async fail(e: Entry, message: string): Promise<void> {
    e.failed = { message, at: Date.now() };
    e.forced = false;
    e.attempts = 0;
    this.d.counters.failures++;
    this.d.log(`FAILED ${this.where(e, e.path)}: ${message}. The change is kept and will be tried again (dvfs sync, or the next mount).`);
    await this.d.state.commit([e]).catch(() => {});
  }

  /** The lock types in the way, when a failure looks like a lock (notes §9); undefined otherwise. */
  private async lockSuspected(e: Entry, err: unknown): Promise<string | undefined> {
    if (!(err instanceof DataverseError)) return undefined;
    const looksLocked =
      err.kind === 'locked' || (err.status === 400 && err.message === ADD_FAILED) || (err.status === 500 && /lock/i.test(err.message));
    if (!looksLocked) return undefined;
    const locks = await this.d.writes.locks(e.datasetId).catch(() => []);
    const blocking = locks.filter((l) => l.lockType !== 'Ingest');
    return blocking.length ? blocking.map((l) => l.lockType).join(', ') : undefined;
  }

  /** Poll the dataset's locks with back-off until none blocks edits; false after lockWaitMs. */
  private async waitForLocks(datasetId: number): Promise<boolean> {
    const end = Date.now() + this.d.options.lockWaitMs;
    let delay = 250;
    for (;;) {
      if (this.stopped) return true; // the entry stays journaled
      await sleep(delay);
      delay = Math.min(delay * 1.5, 5000);
      const locks = await this.d.writes.locks(datasetId).catch(() => undefined);
      if (locks && !locks.some((l) => l.lockType !== 'Ingest')) return true;
      if (Date.now() > end) return false;
    }
  }

  private where(e: Entry, path: string): string {
    return `${path || '/'} in dataset ${e.datasetId}`;
  }
}

/** The metadata call that brings `base` to the entry's desired name, folder and metadata ({} = none). */
function metadataChanges(e: Entry, base: BaseFile): FileJsonData {
  const { label, dir } = desiredTarget(e);
  const meta = desiredMeta(e);
  const json: FileJsonData = {};
  if (label !== base.label) json.label = label;
  // Only when the folder changes: with any directoryLabel, even "", the server's name-collision check looks
  // for "<dir>/<label>", which never matches a file at the root (IngestUtil.getPathAndFileNameToCheck).
  if (dir !== folderOf(base)) json.directoryLabel = dir; // "" moves to the root
  if (meta.description !== base.description) json.description = meta.description;
  if (!sameCategories(meta.categories, base.categories)) json.categories = meta.categories;
  if (meta.restricted !== base.restricted) json.restrict = meta.restricted;
  return json;
}

/** Refused for good (until the user or the server changes something). */
export class PermanentError extends Error {}
/** Worth another try after a back-off. */
export class TransientError extends Error {}

function describeError(err: unknown): string {
  if (err instanceof DataverseError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}

function retryAfterOf(err: unknown): number | undefined {
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === 'number' ? v : undefined;
}

