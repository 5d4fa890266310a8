// Where a block comes from: memory (just read), in flight (shared by every
// reader that wants it: single-flight), disk, or the network. Network blocks
// are filled straight from the response stream, one buffer per block, so a
// block is usable as soon as its last byte arrives and memory is counted per
// block; each is then written to disk in the background.
import { LRUCache } from 'lru-cache';
import type { DataverseClient } from '../dataverse/client.js';
import type { DiskStore } from './disk-store.js';
import type { FileState } from './file-state.js';
import { WholeFileStream } from './whole-file-stream.js';

interface Live {
  promise: Promise<Buffer>;
  resolve(b: Buffer): void;
  reject(e: unknown): void;
  /** Set once the bytes are here (until the disk write ends). */
  buffer?: Buffer;
}

export interface BlockStoreOptions {
  disk: DiskStore;
  client: DataverseClient;
  /** Bytes of just-read blocks kept in memory. */
  memoryBytes: number;
  /** Largest range request, in blocks. */
  partBlocks: number;
  /** More bytes than this waiting for the disk: the disk is behind. */
  writeBacklogBytes: number;
  /** When the disk is behind, serve new blocks without caching them (else prefetch waits, see MemoryBudget). */
  skipWhenBehind: boolean;
}

export class BlockStore {
  /** Blocks just read, for re-reads and the kernel's out-of-order requests. */
  private readonly memory: LRUCache<string, Buffer>;
  /** Files delivered whole and checked whose disk write (and verified mark) has not landed yet. */
  private readonly delivered = new Set<string>();
  private readonly live = new Map<string, Live>();
  private readonly streams = new Map<string, WholeFileStream[]>();
  readonly counters = { hits: 0, misses: 0, rangeRequests: 0, bytesDownloaded: 0, writesSkipped: 0 };
  private closed = false;

  constructor(private readonly opts: BlockStoreOptions) {
    this.memory = new LRUCache<string, Buffer>({ maxSize: Math.max(1, opts.memoryBytes), sizeCalculation: (b) => b.length });
  }

  get disk(): DiskStore {
    return this.opts.disk;
  }

  /** Bytes of blocks held here: the memory layer, and blocks arrived but not yet on disk. */
  memoryBytes(): number {
    let n = this.memory.calculatedSize;
    for (const l of this.live.values()) if (l.buffer) n += l.buffer.length;
    return n;
  }

  /** True when the server ignores Range: files are read in one pass from byte 0. */
  streaming(): boolean {
    return !this.opts.client.rangeSupported;
  }

  /** Keep a block that a reader just used in the memory layer. */
  remember(f: FileState, index: number, data: Buffer): void {
    this.memory.set(f.id(index), data);
  }

  /**
   * Start loading blocks [from, to) and return a promise for each: memory and
   * in-flight blocks are shared, blocks on disk are read, and each run of
   * missing blocks becomes one range request per `partBlocks`.
   */
  load(f: FileState, from: number, to: number): Promise<Buffer>[] {
    const out: Promise<Buffer>[] = [];
    let runStart = -1;
    const flush = (end: number) => {
      if (runStart >= 0) this.fetch(f, runStart, end);
      runStart = -1;
    };
    for (let i = from; i < to; i++) {
      const id = f.id(i);
      const mem = this.memory.get(id);
      if (mem) {
        flush(i);
        this.counters.hits++;
        out.push(Promise.resolve(mem));
        continue;
      }
      const live = this.live.get(id);
      if (live) {
        flush(i);
        this.counters.hits++;
        out.push(live.promise);
        continue;
      }
      const entry = this.register(id);
      out.push(entry.promise);
      if (this.opts.disk.mayHave(f.hash, i)) {
        flush(i);
        this.fromDisk(f, i, entry);
        continue;
      }
      this.counters.misses++;
      if (runStart < 0) runStart = i;
      if (i + 1 - runStart >= this.opts.partBlocks) flush(i + 1);
    }
    flush(to);
    return out;
  }

  /**
   * Claim the one block of a small file for a bulk download (zip-fetch.ts):
   * true when it is nowhere yet (memory, in flight, disk). Readers of it then
   * wait for deliver(), or for the single fetch that unclaimed() starts.
   */
  claim(f: FileState): boolean {
    const id = f.id(0);
    if (this.memory.has(id) || this.live.has(id) || this.opts.disk.mayHave(f.hash, 0)) return false;
    this.counters.misses++;
    this.register(id);
    return true;
  }

  /**
   * A claimed block arrived, checked against the file's checksum: serve it,
   * keep it in memory for the open that is likely to follow (no disk read
   * then), write it and mark the file verified (in memory, see disk-store.ts).
   */
  deliver(f: FileState, data: Buffer): void {
    this.counters.bytesDownloaded += data.length;
    this.remember(f, 0, data);
    this.delivered.add(f.hash);
    const written = this.arrived(f, 0, data);
    const done = () => void this.delivered.delete(f.hash);
    if (!written) return done();
    // Verified only if the checked block is what the cache holds now (not a failed, purged or evicted write).
    void written.then(() => (this.opts.disk.holds(f.hash, 0) ? this.opts.disk.markVerified(f.hash, false) : undefined)).finally(done);
  }

  /** True when the file's bytes here were checked against its checksum (just delivered so, or marked on disk). */
  isVerified(f: FileState): boolean {
    return this.delivered.has(f.hash) || this.opts.disk.isVerified(f.hash, f.blockCount);
  }

  /** The bulk download did not bring a claimed block: fetch it alone. */
  unclaimed(f: FileState): void {
    const entry = this.live.get(f.id(0));
    if (entry && !entry.buffer) this.fetch(f, 0, 1);
  }

  /** Forget a file's blocks in memory (after a checksum mismatch). */
  forget(hash: string): void {
    this.delivered.delete(hash);
    const prefix = `${hash}/`;
    for (const k of [...this.memory.keys()]) if (k.startsWith(prefix)) this.memory.delete(k);
  }

  /** The cache is closing: stop streams, write nothing more. */
  close(): void {
    this.closed = true;
    for (const list of this.streams.values()) for (const s of list) s.stop();
  }

  /** A reader closed: old-server streams nobody reads any more stop. */
  readerClosed(f: FileState): void {
    if (f.readers === 0) for (const s of this.streams.get(f.hash) ?? []) s.stop();
  }

  private register(id: string): Live {
    let resolve!: (b: Buffer) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<Buffer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Prefetched blocks may fail with nobody waiting: that is not an unhandled error.
    promise.catch(() => undefined);
    const entry: Live = { promise, resolve, reject };
    this.live.set(id, entry);
    return entry;
  }

  private fromDisk(f: FileState, index: number, entry: Live): void {
    this.opts.disk.read(f.hash, index, f.blockLength(index)).then(
      (data) => {
        if (data) {
          this.counters.hits++;
          this.settle(f, index, entry, data, false);
        } else {
          this.counters.misses++;
          this.fetch(f, index, index + 1);
        }
      },
      (e: unknown) => this.fail(f, index, entry, e),
    );
  }

  /** Fetch blocks [first, end) (registered as live) from the network. */
  private fetch(f: FileState, first: number, end: number): void {
    if (this.streaming()) {
      this.wholeFile(f, first);
      return;
    }
    const start = first * f.blockSize;
    const stop = Math.min(f.source.size, end * f.blockSize);
    this.counters.rangeRequests++;
    let index = first;
    let cur: Buffer | undefined;
    let filled = 0;
    const { client } = this.opts;
    client
      .streamRange({ fileId: f.source.fileId, query: f.source.query, start, end: stop }, (chunk) => {
        this.counters.bytesDownloaded += chunk.length;
        for (let off = 0; off < chunk.length; ) {
          if (!cur) {
            cur = Buffer.allocUnsafe(f.blockLength(index));
            filled = 0;
          }
          const n = Math.min(chunk.length - off, cur.length - filled);
          chunk.copy(cur, filled, off, off + n);
          filled += n;
          off += n;
          if (filled === cur.length) {
            this.arrived(f, index, cur);
            cur = undefined;
            index++;
          }
        }
      })
      .then(
        () => {
          if (index < end) this.failRange(f, index, end, new Error(`range ${start}-${stop} ended at block ${index}`));
        },
        (e: unknown) => this.failRange(f, index, end, e),
      );
  }

  /** Old servers: blocks come from one download from byte 0 that fills every block it passes. */
  private wholeFile(f: FileState, index: number): void {
    const list = this.streams.get(f.hash) ?? [];
    if (list.some((s) => s.willPass(index))) return;
    const s = new WholeFileStream(f, this.opts.client, {
      wanted: (i) => this.live.has(f.id(i)) || !this.opts.disk.mayHave(f.hash, i),
      arrived: (i, data) => this.arrived(f, i, data, true),
      failed: (from, e) => this.failRange(f, from, f.blockCount, e, (i) => !list.some((o) => o !== s && o.willPass(i))),
      waitForDisk: () => this.opts.disk.backlogBelow(this.opts.writeBacklogBytes),
      counters: this.counters,
    });
    list.push(s);
    this.streams.set(f.hash, list);
    this.counters.rangeRequests++;
    void s.run().finally(() => {
      list.splice(list.indexOf(s), 1);
      if (list.length === 0) this.streams.delete(f.hash);
    });
  }

  /** A block arrived from the network: hand it to waiters, then write it to disk. */
  private arrived(f: FileState, index: number, data: Buffer, mustWrite = false): Promise<void> | undefined {
    const id = f.id(index);
    let entry = this.live.get(id);
    if (!entry) entry = this.register(id);
    return this.settle(f, index, entry, data, true, mustWrite);
  }

  /** Hand the block to its waiters and write it to disk; returns the write (undefined: not written). */
  private settle(f: FileState, index: number, entry: Live, data: Buffer, write: boolean, mustWrite = false): Promise<void> | undefined {
    const id = f.id(index);
    entry.buffer = data;
    entry.resolve(data);
    const done = () => {
      if (this.live.get(id) === entry) this.live.delete(id);
    };
    if (this.closed) write = false;
    if (write && !mustWrite && this.opts.skipWhenBehind && this.opts.disk.pendingWriteBytes + data.length > this.opts.writeBacklogBytes) {
      // The disk is behind the network: serve this block uncached rather than slow reads down.
      this.counters.writesSkipped++;
      write = false;
    }
    if (!write) return void done();
    return this.opts.disk.write(f.hash, index, data, { cacheKey: f.source.cacheKey, size: f.source.size }).finally(done);
  }

  private fail(f: FileState, index: number, entry: Live, e: unknown): void {
    const id = f.id(index);
    entry.reject(e);
    if (this.live.get(id) === entry) this.live.delete(id);
  }

  private failRange(f: FileState, from: number, end: number, e: unknown, filter: (i: number) => boolean = () => true): void {
    for (let i = from; i < end; i++) {
      const entry = this.live.get(f.id(i));
      if (entry && !entry.buffer && filter(i)) this.fail(f, i, entry, e);
    }
  }
}
