// One open file handle: serves the kernel's read requests from blocks,
// prefetches ahead of sequential readers, and checks the checksum of a whole
// sequential pass.
import { ChecksumMismatchError, ReaderClosedError } from './errors.js';
import type { FileState } from './file-state.js';
import type { BlockStore } from './block-store.js';
import type { HashService } from './hash-service.js';
import type { MemoryBudget } from './memory-budget.js';
import { PrefetchWindow, type WindowOptions } from './prefetch-window.js';
import type { FileReader } from './types.js';
import { VerifyPass } from './verify-pass.js';

export interface ReaderDeps {
  store: BlockStore;
  budget: MemoryBudget;
  hashes: HashService;
  window: Omit<WindowOptions, 'blockSize' | 'blockCount'>;
  /** Purge the file's cached blocks (checksum mismatch). */
  purge(f: FileState): Promise<void>;
  /** Files whose bytes did not match their checksum (by cache key): every read fails until a whole fresh copy matches. */
  mismatched: MismatchMarks;
  /** A reader of `f` closed. */
  closed(f: FileState): void;
  log(line: string): void;
}

export interface MismatchMarks {
  has(cacheKey: string): boolean;
  mark(cacheKey: string): void;
  clear(cacheKey: string): void;
}

interface Ahead {
  promise: Promise<Buffer>;
  settled: boolean;
}

export class CachedFileReader implements FileReader {
  private readonly win: PrefetchWindow;
  /** Prefetched blocks this reader holds (charged to the memory budget). */
  private readonly ahead = new Map<number, Ahead>();
  private pass?: VerifyPass;
  /** Settles the FileState's `verifying` promise of this reader's pass. */
  private passEnded?: () => void;
  private firstRead = true;
  /** Last block handed to the memory layer (saves re-inserting it for each 128 KiB read). */
  private remembered = -1;
  private closed = false;
  private readonly dropAll = () => this.dropAhead(() => true);

  constructor(
    private readonly f: FileState,
    private readonly d: ReaderDeps,
  ) {
    this.win = new PrefetchWindow({ ...d.window, blockSize: f.blockSize, blockCount: f.blockCount });
    f.readers++;
    f.onPurge.add(this.dropAll);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (this.closed) throw new ReaderClosedError();
    const { f, d } = this;
    const size = f.source.size;
    if (offset < 0 || length <= 0 || offset >= size) return Buffer.alloc(0);
    const end = Math.min(size, offset + length);
    const B = f.blockSize;
    const first = Math.floor(offset / B);
    const last = Math.floor((end - 1) / B);

    // A file that failed its checksum: check a fresh copy of all of it before serving a byte.
    if (d.mismatched.has(f.source.cacheKey)) await this.recheck();
    if (this.firstRead) {
      this.firstRead = false;
      // A one-block file is checked whole wherever the first read falls (its block holds every byte).
      if (offset === 0 || f.blockCount === 1) this.startPass();
    }

    // Blocks behind this read are done with (the memory layer has the last
    // ones for out-of-order requests): free their budget before planning.
    this.dropAhead((i) => i < first);
    // Plan the prefetch before waiting, so it overlaps this read's wait.
    const plan = d.store.streaming() ? { seek: false, from: 0, to: 0 } : this.win.onRead(offset, end, this.capBlocks());
    // (A checksum pass survives a seek back: all bytes may still pass through.)
    if (plan.seek) this.dropAhead(() => true);
    const wanted: (Promise<Buffer> | undefined)[] = [];
    for (let i = first; i <= last; i++) wanted.push(this.ahead.get(i)?.promise);
    const pFrom = plan.from;
    let pTo = plan.to > plan.from ? this.grant(plan.from, plan.to) : plan.from;
    const missingFrom = wanted.indexOf(undefined);
    if (missingFrom >= 0) {
      // This read's missing blocks and a prefetch right after them go out as one request.
      const from = first + missingFrom;
      const merge = pTo > pFrom && pFrom === last + 1;
      const got = d.store.load(f, from, merge ? pTo : last + 1);
      for (let i = from; i <= last; i++) wanted[i - first] ??= got[i - from];
      if (merge) {
        this.hold(pFrom, got.slice(pFrom - from));
        pTo = pFrom;
      }
    }
    if (pTo > pFrom) this.hold(pFrom, d.store.load(f, pFrom, pTo));

    const blocks = await Promise.all(wanted as Promise<Buffer>[]);
    if (this.closed) throw new ReaderClosedError();

    for (let i = first; i <= last; i++) {
      if (i !== this.remembered) d.store.remember(f, i, blocks[i - first]);
    }
    this.remembered = last;

    let out: Buffer;
    if (first === last) {
      const s = offset - first * B;
      out = blocks[0].subarray(s, s + (end - offset));
    } else {
      out = Buffer.allocUnsafe(end - offset);
      let at = 0;
      for (let i = first; i <= last; i++) {
        const b = blocks[i - first];
        const s = i === first ? offset - first * B : 0;
        const e = i === last ? end - last * B : b.length;
        at += b.copy(out, at, s, e);
      }
    }

    // One-block file: the pass completes before any byte is handed out, so a bad copy never reaches the page cache.
    if (this.pass && f.blockCount === 1) await this.feedPass(0, size, 0, blocks);
    else if (this.pass) await this.feedPass(offset, end, first, blocks);
    else if (f.blockCount === 1 && f.verifying) {
      // Another reader (a folder read-ahead) is checking this block: its verdict first.
      await f.verifying;
      if (d.mismatched.has(f.source.cacheKey)) return this.read(offset, length);
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropAhead(() => true);
    this.endPass();
    this.f.readers--;
    this.f.onPurge.delete(this.dropAll);
    this.d.store.readerClosed(this.f);
    this.d.closed(this.f);
  }

  // --- prefetch ---

  /** This reader's window cap in blocks: its fair share of the budget. */
  private capBlocks(): number {
    const share = this.d.budget.fairShare();
    return Math.max(1, Math.floor(share / this.f.blockSize));
  }

  /**
   * Charge the budget for blocks [from, to) as far as it allows; returns the
   * end granted. A block another reader of the file already holds is charged
   * once (FileState.held). Less than a part (or the whole ask, if smaller) is
   * not worth a request: then nothing, and a later read asks again.
   */
  private grant(from: number, to: number): number {
    const { budget } = this.d;
    const { f } = this;
    const charged: number[] = [];
    let end = from;
    for (; end < to; end++) {
      if (f.held.has(end)) continue;
      if (!budget.tryAcquire(f.blockLength(end))) break;
      charged.push(end);
    }
    const worth = Math.min(to - from, this.d.window.partBlocks);
    if (end - from < worth) {
      for (const i of charged) budget.release(f.blockLength(i));
      end = from;
      if (this.ahead.size === 0) {
        // Over budget and holding nothing: one block anyway, so every reader progresses.
        if (!f.held.has(end)) budget.force(f.blockLength(end));
        end++;
      }
    }
    this.win.granted(end);
    return end;
  }

  /** Keep promises for prefetched blocks from `from` on (charged by grant() unless already held). */
  private hold(from: number, promises: Promise<Buffer>[]): void {
    const { f } = this;
    const wasEmpty = this.ahead.size === 0;
    for (let k = 0; k < promises.length; k++) {
      const i = from + k;
      if (this.ahead.has(i)) continue;
      const entry: Ahead = { promise: promises[k], settled: false };
      this.ahead.set(i, entry);
      f.held.set(i, (f.held.get(i) ?? 0) + 1);
      promises[k].then(
        () => (entry.settled = true),
        () => {
          entry.settled = true;
          // A failed prefetch is dropped; a later read of the block asks again.
          this.dropAhead((j) => j === i && this.ahead.get(j) === entry);
        },
      );
    }
    if (wasEmpty && this.ahead.size > 0) this.d.budget.holders++;
  }

  private dropAhead(which: (i: number) => boolean): void {
    if (this.ahead.size === 0) return;
    const { f } = this;
    const { budget } = this.d;
    for (const [i, a] of this.ahead) {
      if (!which(i)) continue;
      this.ahead.delete(i);
      const refs = (f.held.get(i) ?? 1) - 1;
      if (refs > 0) {
        f.held.set(i, refs);
        continue;
      }
      f.held.delete(i);
      // The last holder frees the charge; a block still downloading holds its memory until it lands.
      const bytes = f.blockLength(i);
      if (a.settled) budget.release(bytes);
      else void a.promise.catch(() => undefined).finally(() => budget.release(bytes));
    }
    if (this.ahead.size === 0) budget.holders--;
  }

  // --- checksum ---

  private startPass(): void {
    const { f, d } = this;
    const sum = f.source.checksum;
    if (!sum || f.verifying || d.store.isVerified(f)) return;
    let job;
    try {
      job = d.hashes.start(sum.type);
    } catch {
      return; // an algorithm we cannot compute: nothing to check against
    }
    f.verifying = new Promise((resolve) => (this.passEnded = resolve));
    this.pass = new VerifyPass(f, job);
  }

  private endPass(): void {
    if (!this.pass) return;
    this.pass.abandon();
    this.pass = undefined;
    this.passDone();
  }

  private passDone(): void {
    this.f.verifying = undefined;
    this.passEnded?.();
    this.passEnded = undefined;
  }

  private async feedPass(offset: number, end: number, first: number, blocks: Buffer[]): Promise<void> {
    const pass = this.pass!;
    const m = new Map<number, Buffer>();
    blocks.forEach((b, k) => m.set(first + k, b));
    const r = pass.delivered(offset, end, m);
    if (r.state === 'abandoned') return this.endPass();
    if (r.wait) await r.wait;
    if (r.state !== 'complete') return;
    this.pass = undefined;
    const { f, d } = this;
    const sum = f.source.checksum!;
    let actual: string;
    try {
      actual = await pass.job.digest();
    } catch (e) {
      this.passDone();
      d.log(`cache: could not check the ${sum.type} of file ${f.source.fileId}: ${(e as Error).message}`);
      return;
    }
    const match = actual.toLowerCase() === sum.value.toLowerCase();
    // The verdict is recorded before readers waiting for it go on.
    if (!match) d.mismatched.mark(f.source.cacheKey);
    this.passDone();
    if (match) return void d.store.disk.markVerified(f.hash, f.blockCount > 1);
    await this.mismatch(actual);
  }

  /** The bytes of the file did not hash to its checksum: forget them, and fail this and later reads. */
  private async mismatch(actual: string): Promise<never> {
    const { f, d } = this;
    const sum = f.source.checksum!;
    d.log(`cache: file ${f.source.fileId}: ${sum.type} mismatch (expected ${sum.value}, read ${actual}); cached blocks purged`);
    d.mismatched.mark(f.source.cacheKey);
    await d.purge(f);
    throw new ChecksumMismatchError(f.source.fileId, sum.type, sum.value, actual);
  }

  /**
   * After a mismatch the kernel may hold some of the bad bytes and ask only
   * for the rest, so no read pass of a reader can be trusted to cover the
   * file: download all of it again and hash it (one check at a time per
   * file). A match clears the mark.
   */
  private recheck(): Promise<void> {
    const { f } = this;
    f.recheck ??= this.hashWhole().finally(() => (f.recheck = undefined));
    return f.recheck;
  }

  private async hashWhole(): Promise<void> {
    const { f, d } = this;
    const sum = f.source.checksum;
    if (!sum) return void d.mismatched.clear(f.source.cacheKey);
    const job = d.hashes.start(sum.type);
    try {
      const step = d.window.partBlocks;
      for (let from = 0; from < f.blockCount; from += step) {
        for (const block of await Promise.all(d.store.load(f, from, Math.min(f.blockCount, from + step)))) {
          const room = job.update(block);
          if (room) await room;
        }
      }
    } catch (e) {
      job.abort();
      throw e;
    }
    const actual = await job.digest();
    if (actual.toLowerCase() !== sum.value.toLowerCase()) return this.mismatch(actual);
    d.mismatched.clear(f.source.cacheKey);
    d.log(`cache: file ${f.source.fileId}: a fresh copy matches its ${sum.type}; reads work again`);
    void d.store.disk.markVerified(f.hash, f.blockCount > 1);
  }
}
