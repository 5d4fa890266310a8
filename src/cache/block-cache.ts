// The block cache the mount reads through: one instance per mount (per
// server), one FileReader per open file handle.
//
//   const cache = await BlockCache.create({ dir, maxBytes, client, log });
//   const r = cache.open(source);  await r.read(offset, length);  r.close();
//   cache.stats();  await cache.purge(cacheKey);  await cache.close();
//
// Pieces: disk-store.ts (block files, index, LRU cap), block-store.ts (memory
// layer, single-flight, range requests filling blocks), whole-file-stream.ts
// (servers that ignore Range), reader.ts + prefetch-window.ts (per-handle
// sequential detection and prefetch), memory-budget.ts (global prefetch
// budget), hash-service.ts + verify-pass.ts (whole-file checksum).
import os from 'node:os';
import path from 'node:path';
import type { DataverseClient } from '../dataverse/client.js';
import { BlockStore } from './block-store.js';
import { DiskStore, keyHash } from './disk-store.js';
import { FileState } from './file-state.js';
import { HashService } from './hash-service.js';
import { MemoryBudget } from './memory-budget.js';
import { CachedFileReader, type ReaderDeps } from './reader.js';
import { fetchZip, type ZipSource } from './zip-fetch.js';
import type { CacheStats, FileReader, FileSource } from './types.js';

const MiB = 1024 * 1024;
/** Zips that failed in a row before a mount stops asking for them (a proxy that refuses them, an old zipper). */
const MAX_ZIP_FAILURES = 3;

export interface BlockCacheOptions {
  /** Cache directory (created with mode 0700); blocks go to `<dir>/blocks`. */
  dir: string;
  /** Cap on the bytes of cached blocks on disk. */
  maxBytes: number;
  client: DataverseClient;
  /** In-memory layer of just-read blocks (default 4 MiB: the kernel's out-of-order requests fall within a few blocks). */
  memoryBytes?: number;
  /**
   * Global budget of prefetched bytes not yet read, all readers together
   * (default 16 MiB: full speed on loopback, and four 4 MiB requests in
   * flight on a slow link. On the bench's slow link (40 ms per request,
   * 50 MiB/s per connection) 32 MiB read at 3.6-4x curl and 16 MiB at 2.6-3x, for
   * about 20 MiB less peak RSS; see scripts/bench-cache.mjs).
   */
  prefetchBytes?: number;
  /** Block size (default 1 MiB). Changing it invalidates the blocks on disk. */
  blockSize?: number;
  /**
   * Largest range request (default 4 MiB; with a 32 MiB budget, 8 requests
   * in flight on a link with 40 ms latency and 8 MiB/s per connection this
   * read at 5x curl, against 3x with 8 MiB parts, and made no difference on
   * loopback).
   */
  partSize?: number;
  /** Largest prefetch window of one reader (default 64 MiB; the budget may allow less). */
  maxWindow?: number;
  /** First prefetch of a sequential reader (default 1 MiB + 128 KiB). */
  initialWindow?: number;
  /**
   * Whole-file checksums and block CRCs in a worker thread (default: on a
   * machine with more than 2 cores). The worker's V8 isolate costs about
   * 14 MiB of peak RSS; on 2 cores it brought no read speed in the bench (8
   * parallel readers: 138 MiB without, 152 with, at the same MB/s), while
   * with more cores it hashes beside the main thread.
   */
  hashInWorker?: boolean;
  /** Bytes of blocks waiting for their disk write that count as "the disk is behind" (default 16 MiB). */
  writeBacklogBytes?: number;
  /**
   * When the disk is behind the network: 'wait' (default) pauses prefetch
   * until the writes catch up, so every block read is on disk afterwards (a
   * second read, or the next mount, needs no request); 'skip' serves new
   * blocks without caching them, so a disk slower than the network never
   * slows a first read down (a later read fetches the skipped blocks again).
   * Demand reads never wait for the disk; old-server whole-file streams
   * always do (a skipped block would cost another pass over the file).
   */
  slowDisk?: 'wait' | 'skip';
  log?: (line: string) => void;
}

export class BlockCache {
  /** Resolves when the index of the blocks on disk is rebuilt (reads work before). */
  readonly ready: Promise<void>;
  private readonly disk: DiskStore;
  private readonly store: BlockStore;
  private readonly budget: MemoryBudget;
  private readonly hashes: HashService;
  private readonly files = new Map<string, FileState>();
  /** Files whose bytes failed their checksum, with their count of checksum changes. */
  private readonly mismatched = new Map<string, number>();
  /** Files that failed their checksum once and passed since: how often their state changed. */
  private readonly changes = new Map<string, number>();
  private readonly blockSize: number;
  /** Bytes waiting for their disk write that count as "the disk is behind". */
  private readonly writeBacklog: number;
  /** Prefetch (and read-ahead) waits while the disk is behind ('wait'), or goes on uncached ('skip'). */
  private readonly waitForDisk: boolean;
  private readonly deps: ReaderDeps;
  private readonly client: ZipSource;
  private readonly log: (line: string) => void;
  private closed = false;
  private zipFailures = 0;

  /** A cache whose index is loaded. */
  static async create(opts: BlockCacheOptions): Promise<BlockCache> {
    const c = new BlockCache(opts);
    await c.ready;
    return c;
  }

  constructor(opts: BlockCacheOptions) {
    const log = opts.log ?? (() => undefined);
    this.log = log;
    this.client = opts.client;
    this.blockSize = opts.blockSize ?? MiB;
    const partSize = opts.partSize ?? 4 * MiB;
    const backlog = (this.writeBacklog = opts.writeBacklogBytes ?? 16 * MiB);
    // mkdir -p with mode 0700 (restricted files' bytes end up here), done by the store's start-up.
    const root = path.join(opts.dir, 'blocks');
    this.hashes = new HashService({ useWorker: opts.hashInWorker ?? os.availableParallelism() > 2, maxQueued: 4 * MiB, log });
    this.disk = new DiskStore({
      root,
      blockSize: this.blockSize,
      maxBytes: opts.maxBytes,
      log,
      crc32: (buf, offset) => this.hashes.crc32(buf, offset),
    });
    this.ready = this.disk.ready;
    this.store = new BlockStore({
      disk: this.disk,
      client: opts.client,
      memoryBytes: opts.memoryBytes ?? 4 * MiB,
      partBlocks: Math.max(1, Math.floor(partSize / this.blockSize)),
      writeBacklogBytes: backlog,
      skipWhenBehind: opts.slowDisk === 'skip',
    });
    this.waitForDisk = opts.slowDisk !== 'skip';
    this.budget = new MemoryBudget(opts.prefetchBytes ?? 16 * MiB, () => this.waitForDisk && this.disk.pendingWriteBytes > backlog);
    this.deps = {
      store: this.store,
      budget: this.budget,
      hashes: this.hashes,
      window: {
        initialBytes: opts.initialWindow ?? MiB + 128 * 1024,
        maxBlocks: Math.max(1, Math.floor((opts.maxWindow ?? 64 * MiB) / this.blockSize)),
        partBlocks: Math.max(1, Math.floor(partSize / this.blockSize)),
        tolerance: Math.max(MiB, this.blockSize),
      },
      purge: (f) => this.purge(f.source.cacheKey),
      mismatched: {
        has: (key) => this.mismatched.has(key),
        mark: (key) => {
          if (!this.mismatched.has(key)) this.mismatched.set(key, this.checksumChanges(key) + 1);
        },
        clear: (key) => {
          const n = this.mismatched.get(key);
          if (n === undefined) return;
          this.mismatched.delete(key);
          this.changes.set(key, n + 1);
        },
      },
      closed: (f) => {
        if (f.readers === 0 && this.files.get(f.source.cacheKey) === f) this.files.delete(f.source.cacheKey);
      },
      log,
    };
  }

  open(source: FileSource): FileReader {
    if (this.closed) throw new Error('the block cache is closed');
    let f = this.files.get(source.cacheKey);
    if (!f) {
      f = new FileState(source, keyHash(source.cacheKey), this.blockSize);
      this.files.set(source.cacheKey, f);
    }
    return new CachedFileReader(f, this.deps);
  }

  /**
   * Download small files (one block each, with a checksum, all of one
   * dataset and one variant query) in one zip request. Each file whose bytes
   * match its checksum is served, cached and marked verified; the others
   * (left out of the zip, damaged, or the request failed) are fetched one by
   * one. Files cached or in flight already are skipped. Resolves when the
   * zip has ended.
   */
  async fetchMany(sources: readonly FileSource[]): Promise<void> {
    // Old servers (no Range): a file the zip leaves out falls back to a whole-file stream, which needs
    // the FileState its readers registered; zips are off there. And off after repeated failures.
    if (this.closed || this.store.streaming() || this.zipFailures >= MAX_ZIP_FAILURES) return;
    // Read-ahead is a prefetch: it waits for a disk that is behind, as byte prefetch does (the zip's files are cached).
    if (this.waitForDisk) await this.disk.backlogBelow(this.writeBacklog);
    if (this.closed) return;
    const claimed = new Map<FileSource, FileState>();
    for (const s of sources) {
      const f = this.files.get(s.cacheKey) ?? new FileState(s, keyHash(s.cacheKey), this.blockSize);
      if (f.blockCount === 1 && s.checksum && this.store.claim(f)) claimed.set(s, f);
    }
    if (claimed.size === 0) return;
    try {
      await fetchZip(this.client, [...claimed.keys()], (type, data) => this.hashes.digest(type, data), (s, data) => {
        const f = claimed.get(s)!;
        claimed.delete(s);
        this.store.deliver(f, data);
      });
      this.zipFailures = 0;
    } catch (e) {
      this.log(`cache: zip of ${sources.length} files failed (${(e as Error).message}); fetching them one by one`);
      if (++this.zipFailures === MAX_ZIP_FAILURES) this.log(`cache: ${MAX_ZIP_FAILURES} zips in a row failed; small files are fetched one by one from now on`);
    }
    for (const f of claimed.values()) this.store.unclaimed(f);
  }

  stats(): CacheStats {
    const c = this.store.counters;
    return {
      diskBytes: this.disk.bytes,
      diskBlocks: this.disk.blockCount,
      // An upper bound: a prefetched block waiting for its disk write is counted twice.
      memoryBytes: this.store.memoryBytes() + this.budget.used,
      hits: c.hits,
      misses: c.misses,
      rangeRequests: c.rangeRequests,
      bytesDownloaded: c.bytesDownloaded,
      evictions: this.disk.evictions,
      writesSkipped: c.writesSkipped,
    };
  }

  /**
   * How often a file's checksum state changed in this mount (a mismatch, a
   * fresh copy that matched). The adapter adds it to the file's mtime in
   * milliseconds: libfuse's auto_cache then drops the kernel's cached pages
   * of it at the next open, so bytes the kernel kept from before a mismatch
   * (or a bad copy after a fix) are never served from there.
   */
  checksumChanges(cacheKey: string): number {
    return this.mismatched.get(cacheKey) ?? this.changes.get(cacheKey) ?? 0;
  }

  /** Forget every cached block of a file variant (memory and disk). */
  async purge(cacheKey: string): Promise<void> {
    const hash = keyHash(cacheKey);
    const f = this.files.get(cacheKey);
    if (f) for (const drop of f.onPurge) drop();
    this.store.forget(hash);
    await this.disk.purge(hash);
  }

  /** Finish writes in flight and stop the hash worker. The client is the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.close();
    await this.ready.catch(() => undefined);
    await this.disk.flush();
    await this.hashes.close();
  }
}
