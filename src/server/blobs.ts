// Byte storage for the server: uploaded files live as plain files under
// <data-dir>/blobs; very large demo files are "synthetic" blobs whose bytes are
// computed from a seed, so a 512 MiB file costs nothing on disk.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';

/** Period of the synthetic pattern: a prime, so no power-of-two offset error goes unnoticed. */
export const SYNTHETIC_PERIOD = 1_000_003;
const SYNTHETIC_PREFIX = 'synthetic-';
const READ_CHUNK = 1 << 20;

/**
 * The synthetic byte pattern: xorshift32 from `seed` (seed 0 is replaced by 1),
 * one byte per step (the low 8 bits), repeating every SYNTHETIC_PERIOD bytes.
 * Byte at offset o = pattern[o % SYNTHETIC_PERIOD]. Tests regenerate it on their own.
 */
export function syntheticPattern(seed: number): Buffer {
  const out = Buffer.allocUnsafe(SYNTHETIC_PERIOD * 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < SYNTHETIC_PERIOD; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  out.copy(out, SYNTHETIC_PERIOD, 0, SYNTHETIC_PERIOD); // doubled: any window is one slice
  return out;
}

export function syntheticKey(seed: number, size: number): string {
  return `${SYNTHETIC_PREFIX}${seed}-${size}`;
}

function parseSynthetic(key: string): { seed: number; size: number } | undefined {
  if (!key.startsWith(SYNTHETIC_PREFIX)) return undefined;
  const [seed, size] = key.slice(SYNTHETIC_PREFIX.length).split('-').map(Number);
  return { seed, size };
}

const patterns = new Map<number, Buffer>();
function patternFor(seed: number): Buffer {
  let p = patterns.get(seed);
  if (!p) {
    p = syntheticPattern(seed);
    patterns.set(seed, p);
  }
  return p;
}

function syntheticStream(seed: number, start: number, endExclusive: number): Readable {
  const pattern = patternFor(seed);
  let pos = start;
  return new Readable({
    highWaterMark: READ_CHUNK,
    read() {
      if (pos >= endExclusive) {
        this.push(null);
        return;
      }
      const n = Math.min(READ_CHUNK, endExclusive - pos, SYNTHETIC_PERIOD);
      const off = pos % SYNTHETIC_PERIOD;
      this.push(pattern.subarray(off, off + n));
      pos += n;
    },
  });
}

export interface StoredBlob {
  key: string;
  size: number;
  md5: string;
}

export class BlobStore {
  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  pathOf(key: string): string {
    if (!/^[0-9a-f]{32}$/.test(key)) throw new Error(`not a stored blob key: ${key}`);
    return path.join(this.dir, key);
  }

  async size(key: string): Promise<number> {
    const syn = parseSynthetic(key);
    if (syn) return syn.size;
    return (await stat(this.pathOf(key))).size;
  }

  /** Stream bytes [start, endExclusive) of a blob. */
  read(key: string, start = 0, endExclusive?: number): Readable {
    const syn = parseSynthetic(key);
    if (syn) return syntheticStream(syn.seed, start, endExclusive ?? syn.size);
    if (endExclusive !== undefined && endExclusive <= start) return Readable.from([]);
    return createReadStream(this.pathOf(key), {
      start,
      end: endExclusive === undefined ? undefined : endExclusive - 1,
      highWaterMark: READ_CHUNK,
    });
  }

  async readAll(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.read(key)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  /** Store a stream as a new blob, computing its MD5 on the way. */
  async write(source: Readable, through?: Transform): Promise<StoredBlob> {
    const key = randomBytes(16).toString('hex');
    const tmp = path.join(this.dir, `${key}.part`);
    const hash = createHash('md5');
    let size = 0;
    source.on('data', (c: Buffer) => {
      hash.update(c);
      size += c.length;
    });
    try {
      if (through) await pipeline(source, through, createWriteStream(tmp));
      else await pipeline(source, createWriteStream(tmp));
      await rename(tmp, this.pathOf(key));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { key, size, md5: hash.digest('hex') };
  }

  async writeBuffer(data: Buffer): Promise<StoredBlob> {
    return this.write(Readable.from([data]));
  }

  async md5(key: string): Promise<string> {
    const hash = createHash('md5');
    for await (const chunk of this.read(key)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async remove(key: string): Promise<void> {
    if (parseSynthetic(key)) return;
    await rm(this.pathOf(key), { force: true });
  }
}
