// The on-disk block store (src/cache/disk-store.ts): layout, atomic writes,
// validation of what is read back, the LRU cap with pins, the index rebuilt
// at start, purge.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, truncate, utimes, writeFile, copyFile, rename, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskStore, keyHash } from '../src/cache/disk-store.js';
import { HEADER_SIZE } from '../src/cache/block-format.js';
import { tempDir } from './cache-helpers.js';

const B = 64 * 1024; // small blocks keep the test fast; the store does not care
const KEY = '41?format=original#MD5:0123456789abcdef0123456789abcdef';
const H = keyHash(KEY);
const LABEL = { cacheKey: KEY, size: 10 * B };

let dir: string;
let dispose: () => Promise<void>;
let logs: string[];

beforeEach(async () => {
  ({ dir, dispose } = await tempDir());
  logs = [];
});
afterEach(async () => dispose());

function open(maxBytes = 1 << 30, blockSize = B): DiskStore {
  return new DiskStore({ root: path.join(dir, 'blocks'), blockSize, maxBytes, log: (l) => logs.push(l) });
}

const blockFile = (index: number, hash = H) => path.join(dir, 'blocks', hash.slice(0, 2), hash.slice(2), String(index));

async function filled(s: DiskStore, n: number): Promise<Buffer[]> {
  const blocks = Array.from({ length: n }, () => randomBytes(B));
  await Promise.all(blocks.map((b, i) => s.write(H, i, b, LABEL)));
  return blocks;
}

describe('disk store', () => {
  it('stores blocks as files under a hash of the key, private to the user', async () => {
    const s = open();
    await s.ready;
    const [b0, b1] = await filled(s, 2);
    expect((await s.read(H, 0, B))!.equals(b0)).toBe(true);
    expect((await s.read(H, 1, B))!.equals(b1)).toBe(true);
    expect(s.blockCount).toBe(2);
    expect(s.bytes).toBe(2 * (B + HEADER_SIZE));
    expect((await stat(path.join(dir, 'blocks'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(blockFile(0)))).mode & 0o777).toBe(0o700);
    expect((await stat(blockFile(0))).mode & 0o777).toBe(0o600);
    // The key file names the content; nothing else (no URL, no token) is stored.
    const key = JSON.parse(await readFile(path.join(path.dirname(blockFile(0)), 'key'), 'utf8'));
    expect(key).toEqual({ cacheKey: KEY, size: 10 * B, blockSize: B });
    expect((await readdir(path.dirname(blockFile(0)))).sort()).toEqual(['0', '1', 'key']);
  });

  it('treats a damaged block as a miss and removes it', async () => {
    const s = open();
    await s.ready;
    await filled(s, 4);
    // One flipped data byte.
    const f0 = await readFile(blockFile(0));
    f0[HEADER_SIZE + 1000] ^= 0x40;
    await writeFile(blockFile(0), f0);
    // A short (torn) file.
    await truncate(blockFile(1), HEADER_SIZE + 10);
    // Another block's file in its place (right entry, wrong index).
    await copyFile(blockFile(3), blockFile(2));

    // A fresh store checks the data of every block it has not written itself.
    const t = open();
    await t.ready;
    expect(t.blockCount).toBe(4);
    expect(await t.read(H, 0, B)).toBeUndefined();
    expect(await t.read(H, 1, B)).toBeUndefined();
    expect(await t.read(H, 2, B)).toBeUndefined();
    expect(await t.read(H, 3, B)).toBeDefined();
    expect(t.blockCount).toBe(1);
    expect(logs.filter((l) => l.includes('damaged')).length).toBe(3);
    await t.flush();
    expect((await readdir(path.dirname(blockFile(0)))).sort()).toEqual(['3', 'key']);
  });

  it('rejects a block file moved from another entry', async () => {
    const s = open();
    await s.ready;
    const other = keyHash('other key');
    await s.write(other, 0, randomBytes(B), { cacheKey: 'other key', size: B });
    await filled(s, 1);
    await rename(blockFile(0, other), blockFile(0));
    const t = open();
    await t.ready;
    expect(await t.read(H, 0, B)).toBeUndefined();
  });

  it('rebuilds its index at start, oldest first, and drops leftover temp files', async () => {
    const s = open();
    await s.ready;
    const blocks = await filled(s, 6);
    // Make block i older than block i+1, except that block 0 was used last.
    for (let i = 0; i < 6; i++) {
      const t = new Date(Date.now() - (100 - i) * 60_000);
      await utimes(blockFile(i), t, t);
    }
    const now = new Date();
    await utimes(blockFile(0), now, now);
    await writeFile(blockFile(7) + '.tmp-999-1', 'half a block');

    // Room for 3 blocks: the 3 least recently used go (1, 2, 3).
    const t = open(3 * (B + HEADER_SIZE));
    await t.ready;
    expect(t.blockCount).toBe(3);
    expect(t.evictions).toBe(3);
    await t.flush();
    expect((await readdir(path.dirname(blockFile(0)))).sort()).toEqual(['0', '4', '5', 'key']);
    expect((await t.read(H, 0, B))!.equals(blocks[0])).toBe(true);
    expect((await t.read(H, 5, B))!.equals(blocks[5])).toBe(true);
  });

  it('keeps to its size cap, evicting least recently used blocks but never pinned ones', async () => {
    const cap = 4 * (B + HEADER_SIZE);
    const s = open(cap);
    await s.ready;
    const blocks = await filled(s, 4);
    expect(s.evictions).toBe(0);
    // Use block 0 so that it is the most recent; pin block 1.
    await s.read(H, 0, B);
    expect(s.pin(H, 1)).toBe(true);
    await s.write(H, 4, randomBytes(B), LABEL);
    await s.write(H, 5, randomBytes(B), LABEL);
    // 2 and 3 went; 1 stayed although it is the oldest.
    expect(s.bytes).toBeLessThanOrEqual(cap);
    expect(await s.read(H, 2, B)).toBeUndefined();
    expect(await s.read(H, 3, B)).toBeUndefined();
    expect((await s.read(H, 1, B))!.equals(blocks[1])).toBe(true);
    // Once unpinned it is the least recently used... after 0 was read again.
    s.unpin(H, 1);
    await s.read(H, 0, B);
    await s.write(H, 6, randomBytes(B), LABEL);
    expect(s.evictions).toBe(3);
    expect((await s.read(H, 0, B))!.equals(blocks[0])).toBe(true);
    await s.flush();
    expect(s.bytes).toBeLessThanOrEqual(cap);
  });

  it('can overshoot its cap when everything is pinned, and catches up on unpin', async () => {
    const s = open(2 * (B + HEADER_SIZE));
    await s.ready;
    await filled(s, 2);
    s.pin(H, 0);
    s.pin(H, 1);
    await s.write(H, 2, randomBytes(B), LABEL);
    // Block 2 is the only unpinned one and the newest: it goes... once it is the only choice.
    expect(s.blockCount).toBe(2);
    expect(await s.read(H, 2, B)).toBeUndefined();
    s.unpin(H, 0);
    s.unpin(H, 1);
    expect(s.blockCount).toBe(2);
  });

  it('purges an entry, including a write that was in flight', async () => {
    const s = open();
    await s.ready;
    await filled(s, 3);
    const late = s.write(H, 3, randomBytes(B), LABEL);
    await s.purge(H);
    await late;
    await s.flush();
    expect(s.blockCount).toBe(0);
    expect(s.bytes).toBe(0);
    for (let i = 0; i < 4; i++) expect(await s.read(H, i, B)).toBeUndefined();
    const left = await readdir(path.dirname(blockFile(0))).catch(() => [] as string[]);
    expect(left.filter((n) => /^\d+$/.test(n))).toEqual([]);
    // And the entry works again afterwards.
    const b = randomBytes(B);
    await s.write(H, 0, b, LABEL);
    expect((await s.read(H, 0, B))!.equals(b)).toBe(true);
  });

  it('remembers a verified file across restarts until one of its blocks leaves', async () => {
    const s = open();
    await s.ready;
    await filled(s, 3);
    expect(s.isVerified(H, 3)).toBe(false);
    await s.markVerified(H);
    expect(s.isVerified(H, 3)).toBe(true);
    expect(s.isVerified(H, 4)).toBe(false); // not all of a 4-block file is here
    const t = open();
    await t.ready;
    expect(t.isVerified(H, 3)).toBe(true);
    // A damaged block is dropped: the mark goes with it.
    await truncate(blockFile(2), 5);
    expect(await t.read(H, 2, B)).toBeUndefined();
    expect(t.isVerified(H, 3)).toBe(false);
    await t.flush();
    const u = open();
    await u.ready;
    expect(u.isVerified(H, 2)).toBe(false);
  });

  it('discards blocks written with another block size', async () => {
    const s = open();
    await s.ready;
    await filled(s, 2);
    const t = open(1 << 30, 2 * B);
    await t.ready;
    expect(t.blockCount).toBe(0);
    expect(await t.read(H, 0, 2 * B)).toBeUndefined();
  });

  it('reads blocks found on disk while its index is still loading', async () => {
    const s = open();
    await s.ready;
    const [b0] = await filled(s, 1);
    const t = open();
    // No await of t.ready: the read goes to the file directly.
    expect((await t.read(H, 0, B))!.equals(b0)).toBe(true);
    expect(await t.read(H, 1, B)).toBeUndefined();
    await t.ready;
    expect(t.blockCount).toBe(1);
  });

  it('does not fail a read or a write when the disk refuses', async () => {
    const s = open();
    await s.ready;
    // The entry's directory is a file: every write fails.
    await mkdir(path.dirname(path.dirname(blockFile(0))), { recursive: true });
    await writeFile(path.dirname(blockFile(0)), 'in the way');
    await s.write(H, 0, randomBytes(B), LABEL);
    expect(s.blockCount).toBe(0);
    expect(await s.read(H, 0, B)).toBeUndefined();
    expect(logs.some((l) => l.includes('write failed'))).toBe(true);
  });
});
