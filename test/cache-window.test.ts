// The prefetch window of one reader (src/cache/prefetch-window.ts): pure
// logic, driven with the read sequences the kernel produces.
import { describe, expect, it } from 'vitest';
import { PrefetchWindow, type ReadPlan } from '../src/cache/prefetch-window.js';

const MiB = 1024 * 1024;
const KiB = 1024;

function window(blockCount = 10_000) {
  return new PrefetchWindow({
    blockSize: MiB,
    blockCount,
    initialBytes: MiB + 128 * KiB,
    maxBlocks: 64,
    partBlocks: 8,
    tolerance: MiB,
  });
}

/** Read [0, bytes) in 128 KiB requests; the prefetch requests made, as [from, to) block ranges. */
function sequential(w: PrefetchWindow, bytes: number, cap = 1000, start = 0): [number, number][] {
  const out: [number, number][] = [];
  for (let off = start; off < start + bytes; off += 128 * KiB) {
    const p = w.onRead(off, off + 128 * KiB, cap);
    if (p.to > p.from) out.push([p.from, p.to]);
  }
  return out;
}

describe('prefetch window', () => {
  it('starts small at offset 0 and doubles up to the cap, in part-sized steps', () => {
    const w = window();
    const reqs = sequential(w, 200 * MiB);
    // First request: the block after the first one (blocks 0-1 = the 1 MiB + 128 KiB of mountpoint-s3).
    expect(reqs[0]).toEqual([1, 2]);
    // The window doubles (1, 2, 4, 8, 16, 32, 64 blocks ahead): each top-up
    // fills it, from where the previous requests ended.
    const sizes = reqs.map(([a, b]) => b - a);
    expect(sizes.slice(0, 6)).toEqual([1, 2, 3, 6, 12, 24]);
    expect(w.window).toBe(64);
    // Then steady part-sized top-ups, contiguous, with no gap and no overlap.
    for (const s of sizes.slice(7)) expect(s).toBe(8);
    for (let i = 1; i < reqs.length; i++) expect(reqs[i][0]).toBe(reqs[i - 1][1]);
    // Never more than the window ahead of the block being read.
    const lastRead = Math.floor((200 * MiB - 1) / MiB);
    expect(reqs[reqs.length - 1][1] - (lastRead + 1)).toBeLessThanOrEqual(64);
  });

  it('keeps requests within the file', () => {
    const w = window(5);
    const reqs = sequential(w, 5 * MiB);
    expect(reqs.flat().every((b) => b <= 5)).toBe(true);
    expect(reqs.map(([a, b]) => b - a).reduce((x, y) => x + y, 0)).toBe(4); // blocks 1..4
  });

  it('does not prefetch for random reads, and resets on a seek', () => {
    const w = window();
    expect(w.onRead(500 * MiB, 500 * MiB + 4096, 1000)).toEqual<ReadPlan>({ seek: false, from: 0, to: 0 });
    expect(w.onRead(17 * MiB, 17 * MiB + 4096, 1000)).toEqual<ReadPlan>({ seek: true, from: 0, to: 0 });
    expect(w.onRead(900 * MiB, 900 * MiB + 4096, 1000).seek).toBe(true);
    // Reading back a little (another page of the same block) does not start a stream...
    expect(w.onRead(900 * MiB - 512 * KiB, 900 * MiB - 508 * KiB, 1000)).toEqual<ReadPlan>({ seek: false, from: 0, to: 0 });
    // ...a continuation of the last read does, at the initial size.
    const p = w.onRead(900 * MiB + 4096, 900 * MiB + 8192, 1000);
    expect(p).toEqual({ seek: false, from: 901, to: 902 });
    // A sequential reader that seeks far away starts over.
    sequential(w, 40 * MiB, 1000, 900 * MiB + 8192);
    expect(w.window).toBeGreaterThan(8);
    expect(w.onRead(100 * MiB, 100 * MiB + 128 * KiB, 1000).seek).toBe(true);
    expect(w.window).toBe(0);
  });

  it('tolerates the kernel reordering its readahead requests', () => {
    const w = window();
    sequential(w, 4 * MiB);
    const before = w.window;
    // Slightly out of order: back 256 KiB, forward 512 KiB, then on.
    const offs = [4 * MiB + 256 * KiB, 4 * MiB, 4 * MiB + 128 * KiB, 4 * MiB + 768 * KiB, 4 * MiB + 384 * KiB];
    for (const o of offs) expect(w.onRead(o, o + 128 * KiB, 1000).seek).toBe(false);
    expect(w.window).toBeGreaterThanOrEqual(before);
    // A forward jump inside what is already requested is not a seek either.
    const inFlight = (w.frontier - 1) * MiB;
    expect(w.onRead(inFlight, inFlight + 128 * KiB, 1000).seek).toBe(false);
  });

  it('stays within the cap its share of the memory budget allows', () => {
    const w = window();
    const reqs = sequential(w, 100 * MiB, 4);
    for (const [a, b] of reqs) expect(b - a).toBeLessThanOrEqual(4);
    // Still contiguous: nothing is skipped because of the cap.
    for (let i = 1; i < reqs.length; i++) expect(reqs[i][0]).toBe(reqs[i - 1][1]);
  });

  it('asks again for what the budget could not grant', () => {
    const w = window();
    sequential(w, 20 * MiB);
    let o = 20 * MiB;
    let p = w.onRead(o, o + 128 * KiB, 1000);
    while (p.to <= p.from) {
      o += 128 * KiB;
      p = w.onRead(o, o + 128 * KiB, 1000);
    }
    w.granted(p.from); // nothing granted
    const again = sequential(w, 2 * MiB, 1000, o + 128 * KiB);
    expect(again[0][0]).toBe(p.from);
  });
});
