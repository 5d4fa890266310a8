// The block cache read path (src/cache) against a small origin of our own
// that counts requests: correctness under random access, eviction pressure
// and concurrency, single-flight, prefetch shape, persistence, checksum
// verification, and servers that ignore Range.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlockCache, type BlockCacheOptions } from '../src/cache/block-cache.js';
import { ChecksumMismatchError } from '../src/cache/errors.js';
import { keyHash } from '../src/cache/disk-store.js';
import { dataCrc, decodeHeader, encodeHeader, HEADER_SIZE } from '../src/cache/block-format.js';
import type { DataverseClient } from '../src/dataverse/client.js';
import { DataverseError } from '../src/dataverse/errors.js';
import { clientFor, MiB, randomData, randomReads, readLikeKernel, sourceOf, startOrigin, tempDir, type Origin } from './cache-helpers.js';

const BIG = randomData(24 * MiB + 12_345); // not a whole number of blocks
const SMALL = randomData(300_000);
const files = new Map([
  [1, BIG],
  [2, SMALL],
  [3, BIG], // same bytes, another file id
]);

let origin: Origin;
let oldServer: Origin;
let dir: string;
let disposeDir: () => Promise<void>;
let client: DataverseClient;
let logs: string[];
const caches: BlockCache[] = [];

beforeAll(async () => {
  origin = await startOrigin(files);
  oldServer = await startOrigin(files, { ignoreRange: true });
});
afterAll(async () => {
  await origin?.close();
  await oldServer?.close();
});
beforeEach(async () => {
  ({ dir, dispose: disposeDir } = await tempDir());
  origin.requests.length = 0;
  oldServer.requests.length = 0;
  client = clientFor(origin.url);
  logs = [];
});
afterEach(async () => {
  for (const c of caches.splice(0)) await c.close();
  await client.close();
  await disposeDir();
});

/** 'resolved' or the rejection (never a large buffer in an assertion message). */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'resolved',
    (e: unknown) => e,
  );
}

async function newCache(opts: Partial<BlockCacheOptions> = {}, c: DataverseClient = client): Promise<BlockCache> {
  const cache = await BlockCache.create({ dir, maxBytes: 1 << 30, client: c, log: (l) => logs.push(l), ...opts });
  caches.push(cache);
  return cache;
}

describe('reads', () => {
  it('returns exactly the bytes asked for, at thousands of random offsets and lengths', async () => {
    const cache = await newCache();
    const r = cache.open(sourceOf(1, BIG));
    await randomReads((o, l) => r.read(o, l), BIG, 3000, 7);
    // Past the end and at the end.
    expect((await r.read(BIG.length, 10)).length).toBe(0);
    expect((await r.read(BIG.length + 5000, 10)).length).toBe(0);
    expect((await r.read(BIG.length - 3, 10)).equals(BIG.subarray(BIG.length - 3))).toBe(true);
    r.close();
    // Every byte came over the network at most... a few times (prefetch after seeks), never per read.
    expect(cache.stats().rangeRequests).toBeLessThan(3000);
  });

  it('stays correct with a cache much smaller than the file (constant eviction)', async () => {
    const cache = await newCache({ maxBytes: 3 * MiB, memoryBytes: 2 * MiB, prefetchBytes: 4 * MiB });
    const r = cache.open(sourceOf(1, BIG));
    await randomReads((o, l) => r.read(o, l), BIG, 800, 11);
    expect((await readLikeKernel((o, l) => r.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r.close();
    await cache.close();
    const s = cache.stats();
    expect(s.evictions).toBeGreaterThan(10);
    expect(s.diskBytes).toBeLessThanOrEqual(3 * MiB + 10 * HEADER_SIZE);
  });

  it('reads a whole file sequentially, as the kernel asks for it, with few large requests', async () => {
    const cache = await newCache();
    const r = cache.open(sourceOf(1, BIG));
    const got = await readLikeKernel((o, l) => r.read(o, l), BIG.length, 4);
    expect(got.equals(BIG)).toBe(true);
    r.close();
    // Prefetch: first a small request, then growing ones; nowhere near one per 128 KiB read.
    const sizes = origin.requests.map((h) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(h)!;
      return Number(m[2]) + 1 - Number(m[1]);
    });
    expect(sizes[0]).toBe(2 * MiB);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(BIG.length); // each byte once
    expect(origin.requests.length).toBeLessThanOrEqual(10);
    expect(Math.max(...sizes)).toBe(4 * MiB); // the default part size
    expect(sizes.slice(0, 3)).toEqual([2 * MiB, 2 * MiB, 3 * MiB]); // the window doubles
  });

  it('fetches one block per random read, not a big prefetch', async () => {
    const cache = await newCache();
    const r = cache.open(sourceOf(1, BIG));
    const at = [17 * MiB + 100, 3 * MiB + 5, 20 * MiB + 4000];
    for (const o of at) expect((await r.read(o, 4096)).equals(BIG.subarray(o, o + 4096))).toBe(true);
    expect(origin.requests).toEqual(at.map((o) => {
      const b = Math.floor(o / MiB);
      return `bytes=${b * MiB}-${(b + 1) * MiB - 1}`;
    }));
    r.close();
  });

  it('serves files smaller than a block and reads spanning blocks', async () => {
    const cache = await newCache();
    const r = cache.open(sourceOf(2, SMALL));
    expect((await r.read(0, 1 << 20)).equals(SMALL)).toBe(true);
    r.close();
    const r2 = cache.open(sourceOf(1, BIG));
    const o = 3 * MiB - 1000;
    expect((await r2.read(o, 2 * MiB + 5000)).equals(BIG.subarray(o, o + 2 * MiB + 5000))).toBe(true);
    r2.close();
  });

  it('shares one download between concurrent readers of the same blocks', async () => {
    const cache = await newCache();
    const readers = Array.from({ length: 6 }, () => cache.open(sourceOf(1, BIG)));
    const o = 9 * MiB + 77;
    const got = await Promise.all(readers.map((r) => r.read(o, 4096)));
    for (const g of got) expect(g.equals(BIG.subarray(o, o + 4096))).toBe(true);
    expect(origin.requests).toEqual([`bytes=${9 * MiB}-${10 * MiB - 1}`]);
    // Whole-file readers at once, each with its own prefetch: still each byte fetched about once.
    origin.requests.length = 0;
    const all = await Promise.all(readers.map((r) => readLikeKernel((off, len) => r.read(off, len), BIG.length)));
    for (const a of all) expect(a.equals(BIG)).toBe(true);
    const fetched = origin.requests.reduce((n, h) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(h)!;
      return n + Number(m[2]) + 1 - Number(m[1]);
    }, 0);
    expect(fetched).toBeLessThanOrEqual(BIG.length);
    for (const r of readers) r.close();
  });

  it('keeps the two ids of identical bytes apart', async () => {
    const cache = await newCache();
    const a = cache.open(sourceOf(1, BIG));
    const b = cache.open(sourceOf(3, BIG));
    await a.read(0, 100);
    await b.read(0, 100);
    expect(origin.requests.length).toBe(2);
    a.close();
    b.close();
  });

  it('rejects reads after close, and a failing server fails the read', async () => {
    const cache = await newCache();
    const r = cache.open(sourceOf(1, BIG));
    r.close();
    await expect(r.read(0, 10)).rejects.toThrow(/closed/);
    const gone = cache.open(sourceOf(99, SMALL)); // the origin has no file 99
    await expect(gone.read(0, 10)).rejects.toBeInstanceOf(DataverseError);
    // The failure is not cached: a later read asks again.
    await expect(gone.read(0, 10)).rejects.toBeInstanceOf(DataverseError);
    gone.close();
  });
});

describe('a disk slower than the network', () => {
  // writeBacklogBytes 0: the disk is "behind" as soon as one write is pending.
  it("'skip' serves blocks without caching them rather than waiting", async () => {
    const cache = await newCache({ slowDisk: 'skip', writeBacklogBytes: 0 });
    const r = cache.open(sourceOf(1, BIG));
    expect((await readLikeKernel((o, l) => r.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r.close();
    await cache.close();
    const s = cache.stats();
    expect(s.writesSkipped).toBeGreaterThan(0);
    expect(s.diskBlocks + s.writesSkipped!).toBe(25);
  });

  it("'wait' holds prefetch back until the writes land, and caches every block", async () => {
    const cache = await newCache({ slowDisk: 'wait', writeBacklogBytes: 0 });
    const r = cache.open(sourceOf(1, BIG));
    expect((await readLikeKernel((o, l) => r.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r.close();
    await cache.close();
    expect(cache.stats().writesSkipped).toBe(0);
    expect(cache.stats().diskBlocks).toBe(25);
  });
});

describe('persistence', () => {
  it('serves a second mount from disk: no range request at all', async () => {
    const first = await newCache();
    const r = first.open(sourceOf(1, BIG));
    expect((await readLikeKernel((o, l) => r.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r.close();
    await first.close();
    expect(first.stats().diskBlocks).toBe(25);

    origin.requests.length = 0;
    const c2 = clientFor(origin.url);
    try {
      const second = await newCache({}, c2);
      expect(second.stats().diskBlocks).toBe(25);
      const r2 = second.open(sourceOf(1, BIG));
      expect((await readLikeKernel((o, l) => r2.read(o, l), BIG.length)).equals(BIG)).toBe(true);
      await randomReads((o, l) => r2.read(o, l), BIG, 500, 3);
      r2.close();
      expect(origin.requests).toEqual([]);
      expect(second.stats().rangeRequests).toBe(0);
      expect(c2.stats.rangeRequests).toBe(0);
      expect(second.stats().misses).toBe(0);
    } finally {
      await c2.close();
    }
  });

  it('fetches again a block damaged on disk, and only that block', async () => {
    const first = await newCache();
    const r = first.open(sourceOf(1, BIG));
    await readLikeKernel((o, l) => r.read(o, l), BIG.length);
    r.close();
    await first.close();
    const h = keyHash(sourceOf(1, BIG).cacheKey);
    const f = path.join(dir, 'blocks', h.slice(0, 2), h.slice(2), '5');
    const bytes = await readFile(f);
    bytes[HEADER_SIZE + 12345] ^= 1;
    await writeFile(f, bytes);

    origin.requests.length = 0;
    const second = await newCache();
    const r2 = second.open(sourceOf(1, BIG));
    expect((await readLikeKernel((o, l) => r2.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r2.close();
    expect(origin.requests).toEqual([`bytes=${5 * MiB}-${6 * MiB - 1}`]);
    expect(logs.some((l) => l.includes('damaged'))).toBe(true);
  });
});

describe('checksum', () => {
  it('fails the read that completes a file whose bytes do not match, and purges it', async () => {
    const cache = await newCache();
    const wrong = sourceOf(1, BIG, { checksum: { type: 'MD5', value: '0'.repeat(32) } });
    const r = cache.open(wrong);
    const err = await outcome(readLikeKernel((o, l) => r.read(o, l), BIG.length));
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as ChecksumMismatchError).expected).toBe('0'.repeat(32));
    r.close();
    await cache.close();
    expect(cache.stats().diskBlocks).toBe(0);
    const h = keyHash(wrong.cacheKey);
    const left = await readdir(path.join(dir, 'blocks', h.slice(0, 2), h.slice(2))).catch(() => [] as string[]);
    expect(left.filter((n) => /^\d+$/.test(n))).toEqual([]);
    expect(logs.some((l) => l.includes('mismatch'))).toBe(true);
  });

  it.each(['MD5', 'SHA-1', 'SHA-256', 'SHA-512'] as const)('accepts a file whose %s matches, in a worker and on the main thread', async (type) => {
    const { createHash } = await import('node:crypto');
    const algo = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' }[type];
    for (const hashInWorker of [true, false]) {
      const cache = await newCache({ hashInWorker });
      const src = sourceOf(2, SMALL, { checksum: { type, value: createHash(algo).update(SMALL).digest('hex').toUpperCase() } });
      const r = cache.open(src);
      expect((await readLikeKernel((o, l) => r.read(o, l), SMALL.length)).equals(SMALL)).toBe(true);
      r.close();
      const bad = cache.open({ ...src, checksum: { type, value: createHash(algo).update('other').digest('hex') }, cacheKey: `${src.cacheKey}-bad` });
      expect(await outcome(readLikeKernel((o, l) => bad.read(o, l), SMALL.length))).toBeInstanceOf(ChecksumMismatchError);
      bad.close();
    }
  });

  it('catches a block altered on disk behind its own check, through the whole-file checksum', async () => {
    // Fill the cache with random reads only: no whole pass, so nothing verified yet.
    const first = await newCache();
    const src = sourceOf(1, BIG);
    const r = first.open(src);
    for (let b = 0; b < 25; b++) await r.read(b * MiB + 10, 100);
    r.close();
    await first.close();
    // Change one byte and fix the block's CRC, as a bug (not the disk) would.
    const h = keyHash(src.cacheKey);
    const f = path.join(dir, 'blocks', h.slice(0, 2), h.slice(2), '7');
    const bytes = await readFile(f);
    bytes[HEADER_SIZE + 999] ^= 0xff;
    const header = decodeHeader(bytes)!;
    encodeHeader({ ...header, dataCrc: dataCrc(bytes.subarray(HEADER_SIZE)) }).copy(bytes, 0);
    await writeFile(f, bytes);

    const second = await newCache();
    const r2 = second.open(src);
    expect(await outcome(readLikeKernel((o, l) => r2.read(o, l), BIG.length))).toBeInstanceOf(ChecksumMismatchError);
    expect(logs.some((l) => l.includes('damaged'))).toBe(false); // the block passed its own check
    r2.close();
    // Purged: the next pass downloads again and succeeds.
    origin.requests.length = 0;
    const r3 = second.open(src);
    expect((await readLikeKernel((o, l) => r3.read(o, l), BIG.length)).equals(BIG)).toBe(true);
    r3.close();
    expect(origin.requests.length).toBeGreaterThan(0);
  });

  it('does not check a pass that skips around, and checks a verified file only once', async () => {
    const cache = await newCache();
    const wrong = sourceOf(1, BIG, { checksum: { type: 'MD5', value: 'f'.repeat(32) } });
    const r = cache.open(wrong);
    // From 0 but with a jump: not a whole sequential pass, so no verdict.
    await r.read(0, 128 * 1024);
    await r.read(10 * MiB, 128 * 1024);
    for (let o = 0; o < BIG.length; o += 128 * 1024) await r.read(o, 128 * 1024);
    r.close();

    const right = sourceOf(1, BIG);
    const r2 = cache.open(right);
    await readLikeKernel((o, l) => r2.read(o, l), BIG.length);
    r2.close();
    await cache.close();
    // The good copy is marked verified on disk...
    const h = keyHash(right.cacheKey);
    expect(await readdir(path.join(dir, 'blocks', h.slice(0, 2), h.slice(2)))).toContain('verified');
  });
});

describe('servers that ignore Range', () => {
  it('reads a file in one pass from byte 0, never one download per block', async () => {
    const old = clientFor(oldServer.url);
    try {
      const cache = await newCache({}, old);
      const r = cache.open(sourceOf(1, BIG));
      // The first request discovers the server; then one stream fills every block.
      const got = await readLikeKernel((o, l) => r.read(o, l), BIG.length);
      expect(got.equals(BIG)).toBe(true);
      expect(old.rangeSupported).toBe(false);
      expect(oldServer.requests.length).toBeLessThanOrEqual(3);
      await randomReads((o, l) => r.read(o, l), BIG, 300, 5);
      expect(oldServer.requests.length).toBeLessThanOrEqual(3);
      r.close();
      await cache.close();
      expect(cache.stats().diskBlocks).toBe(25);
    } finally {
      await old.close();
    }
  });

  it('serves random reads of a cold file by waiting for the one stream to pass', async () => {
    const old = clientFor(oldServer.url);
    old.rangeSupported = false; // already known (another file taught the client)
    try {
      const cache = await newCache({}, old);
      const readers = [cache.open(sourceOf(1, BIG)), cache.open(sourceOf(1, BIG))];
      await Promise.all(readers.map((r, i) => randomReads((o, l) => r.read(o, l), BIG, 200, 20 + i)));
      expect(oldServer.requests.length).toBe(1);
      for (const r of readers) r.close();
    } finally {
      await old.close();
    }
  });

  it('stops the stream when the last reader closes', async () => {
    const old = clientFor(oldServer.url);
    old.rangeSupported = false;
    try {
      const cache = await newCache({}, old);
      const r = cache.open(sourceOf(1, BIG));
      expect((await r.read(0, 1000)).equals(BIG.subarray(0, 1000))).toBe(true);
      r.close();
      await new Promise((res) => setTimeout(res, 200));
      await cache.close();
      expect(cache.stats().bytesDownloaded).toBeLessThan(BIG.length);
    } finally {
      await old.close();
    }
  });
});
