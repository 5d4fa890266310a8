// The block cache against a real `dvfs serve`: files uploaded through the
// API, read back through BlockCache + DataverseClient, with the server's
// request log as the witness of what went over the wire. Old-server mode,
// redirect mode and connection resets are switched on through the control
// endpoint.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlockCache } from '../src/cache/block-cache.js';
import { ChecksumMismatchError } from '../src/cache/errors.js';
import type { FileSource } from '../src/cache/types.js';
import type { DataverseClient } from '../src/dataverse/client.js';
import { Control, type LogEntry } from './helpers/control.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { clientFor, MiB, randomData, randomReads, readLikeKernel, tempDir, uploadFile } from './cache-helpers.js';

const DATA = randomData(13 * MiB + 4321);
const OTHER = randomData(5 * MiB + 17);

let srv: ServeProcess;
let control: Control;
let source: FileSource;
let other: FileSource;
let dir: string;
let disposeDir: () => Promise<void>;
const opened: { cache: BlockCache; client: DataverseClient }[] = [];

beforeAll(async () => {
  srv = await startServe();
  control = new Control(srv.url);
  source = await uploadFile(srv, 'data.bin', DATA);
  other = await uploadFile(srv, 'other.bin', OTHER);
});
afterAll(async () => srv?.dispose());
beforeEach(async () => {
  ({ dir, dispose: disposeDir } = await tempDir());
  await control.resetFaults();
});
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.cache.close();
    await o.client.close();
  }
  await control.resetFaults();
  await disposeDir();
});

async function mount(): Promise<{ cache: BlockCache; client: DataverseClient }> {
  const client = clientFor(srv.url, srv.adminToken);
  const cache = await BlockCache.create({ dir, maxBytes: 1 << 30, client });
  const o = { cache, client };
  opened.push(o);
  return o;
}

/** Download requests (range or not) the server received since `mark`. */
async function downloads(mark: number): Promise<LogEntry[]> {
  const { entries } = await control.requests(mark);
  return entries.filter((e) => /\/access\/datafile\/\d+/.test(e.path) || e.origin === 'blob');
}

describe('block cache on dvfs serve', () => {
  it('reads uploaded files back exactly: random, sequential, concurrent', async () => {
    const { cache } = await mount();
    const a = cache.open(source);
    const b = cache.open(source);
    const c = cache.open(other);
    await Promise.all([
      randomReads((o, l) => a.read(o, l), DATA, 1500, 3),
      randomReads((o, l) => b.read(o, l), DATA, 1500, 4),
      readLikeKernel((o, l) => c.read(o, l), OTHER.length).then((got) => expect(got.equals(OTHER)).toBe(true)),
    ]);
    const seq = await readLikeKernel((o, l) => a.read(o, l), DATA.length);
    expect(seq.equals(DATA)).toBe(true);
    for (const r of [a, b, c]) r.close();
  });

  it('sends the server only range requests, with the token, and keeps the token out of the cache', async () => {
    const mark = await control.mark();
    const { cache } = await mount();
    const r = cache.open(source);
    await readLikeKernel((o, l) => r.read(o, l), DATA.length);
    r.close();
    await cache.close();
    const log = await downloads(mark);
    expect(log.length).toBeGreaterThan(0);
    for (const e of log) {
      expect(e.status).toBe(206);
      expect(e.range).toMatch(/^bytes=\d+-\d+$/);
      expect(e.tokenSent).toBe(true);
    }
    // Each byte crossed the wire once.
    expect(log.reduce((n, e) => n + e.bytes, 0)).toBe(DATA.length);
    // No file in the cache contains the token.
    const all: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(path.join(d, e.name));
        else all.push(path.join(d, e.name));
      }
    };
    await walk(dir);
    expect(all.length).toBeGreaterThan(14);
    for (const f of all) expect((await readFile(f)).includes(Buffer.from(srv.adminToken))).toBe(false);
  });

  it('reads a file again after a remount without a single request to the server', async () => {
    const first = await mount();
    const r = first.cache.open(source);
    await readLikeKernel((o, l) => r.read(o, l), DATA.length);
    r.close();
    await first.cache.close();

    const mark = await control.mark();
    const second = await mount();
    const r2 = second.cache.open(source);
    expect((await readLikeKernel((o, l) => r2.read(o, l), DATA.length)).equals(DATA)).toBe(true);
    await randomReads((o, l) => r2.read(o, l), DATA, 300, 9);
    r2.close();
    expect(await downloads(mark)).toEqual([]);
    expect(second.client.stats.rangeRequests).toBe(0);
    expect(second.cache.stats().rangeRequests).toBe(0);
  });

  it('checks the checksum the server lists, and refuses bytes that do not match it', async () => {
    const { cache } = await mount();
    const r = cache.open(source);
    expect((await readLikeKernel((o, l) => r.read(o, l), DATA.length)).equals(DATA)).toBe(true);
    r.close();
    const wrong: FileSource = { ...source, checksum: { type: 'MD5', value: '00112233445566778899aabbccddeeff' }, cacheKey: `${source.cacheKey}/wrong` };
    const w = cache.open(wrong);
    const err = await readLikeKernel((o, l) => w.read(o, l), DATA.length).then(
      () => undefined,
      (e: unknown) => e,
    );
    w.close();
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(cache.stats().diskBlocks).toBe(14); // only the good copy's blocks are left
  });

  it('works with an old server that answers 200 to a Range request, in one pass', async () => {
    await control.setFaults({ noRange: true });
    const mark = await control.mark();
    const { cache, client } = await mount();
    const r = cache.open(source);
    expect((await readLikeKernel((o, l) => r.read(o, l), DATA.length)).equals(DATA)).toBe(true);
    await randomReads((o, l) => r.read(o, l), DATA, 300, 12);
    r.close();
    expect(client.rangeSupported).toBe(false);
    const log = await downloads(mark);
    for (const e of log) expect(e.status).toBe(200);
    // The discovery request, then one whole-file pass: not one download per block.
    expect(log.length).toBeLessThanOrEqual(3);
    expect(log.reduce((n, e) => n + e.bytes, 0)).toBeLessThan(3 * DATA.length);
  });

  it('follows redirects to the blob origin without the token', async () => {
    await control.setFaults({ redirect: true });
    const mark = await control.mark();
    const { cache, client } = await mount();
    const r = cache.open(other);
    expect((await readLikeKernel((o, l) => r.read(o, l), OTHER.length)).equals(OTHER)).toBe(true);
    await randomReads((o, l) => r.read(o, l), OTHER, 200, 13);
    r.close();
    const log = await downloads(mark);
    const blob = log.filter((e) => e.origin === 'blob');
    expect(blob.length).toBeGreaterThan(0);
    for (const e of blob) {
      expect(e.tokenSent).toBe(false);
      expect(e.status).toBe(206);
    }
    expect(client.stats.redirects).toBeGreaterThan(0);
  });

  it('rides out 503s and an old server that resets its one whole-file pass', async () => {
    await control.setFaults({ rules: [{ path: '/access/datafile/', status: 503, count: 2 }] });
    const a = await mount();
    const r = a.cache.open(other);
    expect((await readLikeKernel((o, l) => r.read(o, l), OTHER.length)).equals(OTHER)).toBe(true);
    r.close();
    expect(a.client.stats.retries).toBeGreaterThanOrEqual(2);

    await control.setFaults({ noRange: true, rules: [{ path: '/access/datafile/', resetAfterBytes: 3_000_000, count: 2 }] });
    const mark = await control.mark();
    const b = await mount();
    b.client.rangeSupported = false;
    const s = b.cache.open(source);
    expect((await readLikeKernel((o, l) => s.read(o, l), DATA.length)).equals(DATA)).toBe(true);
    s.close();
    // Two broken passes resumed (from 0, the server ignores Range), then one that completes.
    const log = await downloads(mark);
    expect(log.length).toBe(3);
    for (const e of log) expect(e.status).toBe(200);
  });

  it('survives connections reset in the middle of a body', async () => {
    await control.setFaults({ rules: [{ path: '/access/datafile/', resetAfterBytes: 300_000, count: 4 }] });
    const { cache, client } = await mount();
    const r = cache.open(other);
    expect((await readLikeKernel((o, l) => r.read(o, l), OTHER.length)).equals(OTHER)).toBe(true);
    r.close();
    expect(client.stats.rangeRequests).toBeGreaterThan(cache.stats().rangeRequests);
  });
});
