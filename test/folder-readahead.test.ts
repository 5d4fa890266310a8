// Read-ahead across files: window logic, with a fake cache counting fetches.
import { describe, expect, it } from 'vitest';
import { FolderReadahead } from '../src/cache/folder-readahead.js';
import type { FileSource } from '../src/cache/types.js';

function setup(sizes: number[]) {
  const fetched: number[] = [];
  const files: FileSource[] = sizes.map((size, i) => ({ fileId: i, query: '', size, cacheKey: `k${i}` }));
  const ra = new FolderReadahead({
    open: (src) => ({
      read: async () => {
        fetched.push(src.fileId);
        return Buffer.alloc(0);
      },
      close: () => {},
    }),
  });
  const open = (index: number) => ra.opened({ key: 'f', files, index });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { fetched, open, settle };
}

describe('folder read-ahead', () => {
  it('fetches nothing on a first open or on random opens', async () => {
    const { fetched, open, settle } = setup(Array(100).fill(10));
    open(50);
    open(10);
    open(70);
    await settle();
    expect(fetched).toEqual([]);
  });

  it('reads ahead once opens go in order, with a growing window, each file once', async () => {
    const { fetched, open, settle } = setup(Array(100).fill(10));
    open(0);
    open(1);
    await settle();
    expect(fetched).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    open(2);
    await settle();
    expect(fetched.slice(8)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(new Set(fetched).size).toBe(fetched.length);
  });

  it('skips large and empty files (they have their own prefetch)', async () => {
    const { fetched, open, settle } = setup([10, 10, 5 * 1024 * 1024, 0, 10, 10]);
    open(0);
    open(1);
    await settle();
    expect(fetched).toEqual([4, 5]);
  });
});

describe('folder read-ahead in batches', () => {
  it('asks a cache that can for many files per request: batches of at most 64, apart per variant, none without a checksum', async () => {
    const batches: number[][] = [];
    const single: number[] = [];
    const sum = { type: 'MD5' as const, value: '0'.repeat(32) };
    const files: FileSource[] = Array.from({ length: 300 }, (_, i) => ({
      fileId: i,
      query: i % 50 === 7 ? 'format=original' : '',
      size: 10,
      checksum: i === 20 ? undefined : sum,
      cacheKey: `k${i}`,
    }));
    const ra = new FolderReadahead({
      open: (src) => ({
        read: async () => {
          single.push(src.fileId);
          return Buffer.alloc(0);
        },
        close: () => {},
      }),
      fetchMany: async (sources) => void batches.push(sources.map((s) => s.fileId)),
    });
    for (let i = 0; i < 300; i++) ra.opened({ key: 'f', files, index: i });
    await new Promise((r) => setTimeout(r, 20));
    const asked = [...batches.flat(), ...single].sort((a, b) => a - b);
    expect(asked).toEqual(Array.from({ length: 298 }, (_, i) => i + 2)); // each file once, after the first two opens
    expect(single).toEqual([20]);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(64);
    for (const b of batches) expect(new Set(b.map((id) => files[id].query)).size).toBe(1);
    expect(batches.length).toBeLessThan(30);
  });
});

describe('folder read-ahead memory', () => {
  it('keeps at most 4 zips in flight, each of at most 4 MiB of files', async () => {
    const sum = { type: 'MD5' as const, value: '0'.repeat(32) };
    const size = 600_000;
    const files: FileSource[] = Array.from({ length: 200 }, (_, i) => ({ fileId: i, query: '', size, checksum: sum, cacheKey: `k${i}` }));
    let inFlight = 0;
    let most = 0;
    const batches: number[][] = [];
    const ra = new FolderReadahead({
      open: () => {
        throw new Error('every file here goes in a zip');
      },
      fetchMany: async (sources) => {
        batches.push(sources.map((s) => s.fileId));
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
    });
    for (let i = 0; i < 200; i++) ra.opened({ key: 'f', files, index: i });
    while (batches.flat().length < 198 || inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 198 }, (_, i) => i + 2));
    expect(most).toBe(4);
    expect(Math.max(...batches.map((b) => b.length * size))).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
