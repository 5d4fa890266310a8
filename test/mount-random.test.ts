// Random reads over a real mount compared with the bytes that were uploaded:
// plain, under cache-size pressure, against an old server that ignores Range,
// and with downloads redirected to a blob origin (which must never see the token).
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount } from './helpers/mount.js';
import { addFile, createCollection, createDataset, publishCollection, publishDataset } from './helpers/fixtures.js';
import { folderFor } from './helpers/dataset-fixture.js';

const SIZE = 24 * 1024 * 1024 + 4321;
let srv: ServeProcess;
let api: Api;
let source: Buffer;
let rel: string;

beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
  await createCollection(api, 'root', 'rnd');
  await publishCollection(api, 'rnd');
  const ds = await createDataset(api, 'rnd', 'Random reads');
  source = randomBytes(SIZE);
  const r = await addFile(api, ds.id, 'data.bin', source, { directoryLabel: 'a/b' });
  expect(r.status).toBe(200);
  await publishDataset(api, ds.id);
  rel = path.join('rnd', folderFor(ds.pid), '1.0', 'a', 'b', 'data.bin');
});
afterAll(async () => srv?.dispose());

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** `count` reads at random offsets and lengths; every byte compared with the source. Returns mismatches. */
async function verify(file: string, count: number, seed: number): Promise<string[]> {
  const rand = rng(seed);
  const fh = await open(file, 'r');
  const bad: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      // Mostly small reads, some large ones, some crossing the end of the file.
      const len = rand() < 0.8 ? 1 + Math.floor(rand() * 65536) : 1 + Math.floor(rand() * 3 * 1024 * 1024);
      const off = Math.floor(rand() * (SIZE + 1000));
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, off);
      const want = source.subarray(Math.min(off, SIZE), Math.min(off + len, SIZE));
      if (bytesRead !== want.length || !buf.subarray(0, bytesRead).equals(want)) bad.push(`read ${i}: ${len} bytes at ${off} → ${bytesRead}`);
    }
  } finally {
    await fh.close();
  }
  return bad;
}

async function setFaults(settings: Record<string, unknown>) {
  const r = await fetch(`${srv.url}/api/control/faults`, { method: 'POST', body: JSON.stringify(settings) });
  expect(r.status).toBe(200);
}

async function requestsSince(seq: number) {
  return (await (await fetch(`${srv.url}/api/control/requests?since=${seq}`)).json()).data as {
    last: number;
    entries: { origin: string; tokenSent: boolean; status: number; path: string; range?: string }[];
  };
}

describe('random reads over the mount', () => {
  it('match the source over thousands of reads, with four readers at once', async () => {
    const m = await startMount(srv.url, { token: srv.adminToken });
    try {
      const file = path.join(m.mountpoint, rel);
      const results = await Promise.all([1, 2, 3, 4].map((seed) => verify(file, 800, seed)));
      expect(results.flat()).toEqual([]);
    } finally {
      await m.dispose();
    }
  });

  it('match under cache-size pressure (a 2 MiB block cache for a 24 MiB file)', async () => {
    const m = await startMount(srv.url, { token: srv.adminToken, args: ['--cache-max-size', '2M'] });
    try {
      expect(await verify(path.join(m.mountpoint, rel), 2000, 11)).toEqual([]);
    } finally {
      await m.dispose();
    }
  });

  it('match against an old server that answers Range with 200 and the whole body', async () => {
    await setFaults({ noRange: true });
    const m = await startMount(srv.url, { token: srv.adminToken });
    try {
      const before = (await requestsSince(0)).last;
      expect(await verify(path.join(m.mountpoint, rel), 1500, 21)).toEqual([]);
      const downloads = (await requestsSince(before)).entries.filter((e) => e.path.includes('/access/datafile/'));
      expect(downloads.length).toBeGreaterThan(0);
      expect(downloads.every((e) => e.status === 200)).toBe(true); // the server really ignored Range
    } finally {
      await m.dispose();
      await setFaults({ noRange: false });
    }
  });

  it('match with downloads redirected to a blob origin, which never receives the token', async () => {
    await setFaults({ redirect: true });
    const m = await startMount(srv.url, { token: srv.adminToken });
    try {
      const before = (await requestsSince(0)).last;
      expect(await verify(path.join(m.mountpoint, rel), 1500, 31)).toEqual([]);
      const log = (await requestsSince(before)).entries;
      const blob = log.filter((e) => e.origin === 'blob');
      expect(blob.length).toBeGreaterThan(0);
      expect(blob.filter((e) => e.tokenSent)).toEqual([]);
      expect(log.some((e) => e.origin === 'api' && e.status === 303 && e.tokenSent)).toBe(true);
    } finally {
      await m.dispose();
      await setFaults({ redirect: false });
    }
  });

  it('re-resolves an expired signed URL through the API', async () => {
    const short = await startServe({ args: ['--redirect', '--signed-url-seconds', '1'] });
    try {
      const a = new Api(short.url, short.adminToken);
      await createCollection(a, 'root', 'exp');
      await publishCollection(a, 'exp');
      const ds = await createDataset(a, 'exp', 'Expiry');
      const bytes = randomBytes(6 * 1024 * 1024);
      await addFile(a, ds.id, 'x.bin', bytes);
      await publishDataset(a, ds.id);
      const m = await startMount(short.url, { token: short.adminToken, args: ['--cache-max-size', '1M'] });
      try {
        const file = path.join(m.mountpoint, 'exp', folderFor(ds.pid), '1.0', 'x.bin');
        const fh = await open(file, 'r');
        try {
          const head = Buffer.alloc(1000);
          await fh.read(head, 0, 1000, 0);
          expect(head.equals(bytes.subarray(0, 1000))).toBe(true);
          await new Promise((r) => setTimeout(r, 2500)); // the signed URL expires
          const tail = Buffer.alloc(1000);
          await fh.read(tail, 0, 1000, bytes.length - 1000);
          expect(tail.equals(bytes.subarray(bytes.length - 1000))).toBe(true);
        } finally {
          await fh.close();
        }
        const log = (await (await fetch(`${short.url}/api/control/requests`)).json()).data.entries as { origin: string; status: number }[];
        expect(log.some((e) => e.origin === 'blob' && e.status === 403)).toBe(true); // the expired URL was refused…
        expect(log.filter((e) => e.origin === 'api' && e.status === 303).length).toBeGreaterThanOrEqual(2); // …and resolved again
      } finally {
        await m.dispose();
      }
    } finally {
      await short.dispose();
    }
  });
});
