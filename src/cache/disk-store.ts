// The on-disk half of the block cache: one file per block.
//
//   <root>/<h[0..2]>/<h[2..]>/<block index>   block files (header + data, block-format.ts)
//   <root>/<h[0..2]>/<h[2..]>/key             JSON {cacheKey, size, blockSize}, for people and tools
//   <root>/<h[0..2]>/<h[2..]>/verified        present once the whole file matched its checksum
//
// A file of one block (small files, read in thousands by rsync or cp -r)
// costs four file system calls instead of eleven: no key file (the block's
// header tells the cache all it needs), no verified file (the mark is kept
// in memory; after a restart the next whole read checks it again, cheaper
// than creating the marker), and no temp+rename: its block is written in
// place, since a torn or half-written block fails its header or CRC check
// and is then a miss, never wrong bytes (while the index loads, such a read
// may unlink the file being written: the record then finds no file, a miss).
//
// where h = SHA-256 of the cache key. One file per block (mountpoint-s3's
// layout) rather than sparse files + bitmap (rclone, HTTPDirFS) because each
// block is then written atomically by temp+rename (a crash leaves a stray
// temp file, never a torn block or a bitmap that lies), evicted by one unlink
// (Node cannot punch holes in a sparse file, so rclone evicts whole files),
// validated on its own, and the index is rebuilt from directory listings.
//
// The index lives in memory: a Map in LRU order (oldest first). Across
// restarts the order comes from file mtimes (touched at most every 10 min on
// use). Blocks being read are pinned and never evicted; blocks being written
// are not in the index until their rename, so eviction cannot see them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { dataCrc, decodeHeader, encodeHeader, entryTag, HEADER_SIZE } from './block-format.js';

export interface DiskStoreOptions {
  /** Directory owned by the store (created with mode 0700). */
  root: string;
  blockSize: number;
  /** Cap on the bytes of block files; least recently used unpinned blocks go first. */
  maxBytes: number;
  log: (line: string) => void;
  /**
   * CRC-32 of buf[offset..] for checking a block read back (hash-service.ts
   * runs it off the main thread); the buffer is handed over until the
   * result, which carries it back.
   */
  crc32?: (buf: Buffer, offset: number) => Promise<{ crc: number; buf: Buffer }>;
}

interface BlockRecord {
  hash: string;
  index: number;
  /** Size of the file (header included). */
  bytes: number;
  pins: number;
  /** Last mtime set on the file (ms). */
  touched: number;
  /** Data CRC checked (or written) by this process: later reads skip the check. */
  checked: boolean;
}

interface Entry {
  blocks: number;
  verified: boolean;
  /** Bumped by purge: writes that started before it are discarded. */
  generation: number;
  dirReady?: Promise<void>;
  purging?: Promise<void>;
}

/** Hex SHA-256 of a cache key: the entry's directory name. */
export function keyHash(cacheKey: string): string {
  return createHash('sha256').update(cacheKey).digest('hex');
}

const TOUCH_EVERY_MS = 10 * 60_000;

export class DiskStore {
  private readonly records = new Map<string, BlockRecord>();
  private readonly entries = new Map<string, Entry>();
  private readonly unlinking = new Map<string, Promise<void>>();
  private readonly writes = new Set<Promise<void>>();
  private loaded = false;
  private tmpSeq = 0;
  private readonly reported = new Set<string>();
  /** Resolves once the index has been rebuilt from disk. */
  readonly ready: Promise<void>;
  bytes = 0;
  evictions = 0;
  /** Bytes of blocks handed to write() and not yet on disk. */
  pendingWriteBytes = 0;

  private readonly crc32: NonNullable<DiskStoreOptions['crc32']>;

  constructor(private readonly opts: DiskStoreOptions) {
    this.crc32 = opts.crc32 ?? (async (buf, offset) => ({ crc: dataCrc(buf.subarray(offset)), buf }));
    this.ready = this.load();
    this.ready.catch(() => undefined);
  }

  get blockCount(): number {
    return this.records.size;
  }

  /** True when the block is indexed, or may be on disk while the index is still loading. */
  mayHave(hash: string, index: number): boolean {
    return !this.loaded || this.records.has(id(hash, index));
  }

  /** The block is in the index now (written and not evicted or purged since). */
  holds(hash: string, index: number): boolean {
    return this.records.has(id(hash, index));
  }

  /** True when the whole file's blocks are on disk and were verified against its checksum. */
  isVerified(hash: string, blockCount: number): boolean {
    const e = this.entries.get(hash);
    return !!e && e.verified && e.blocks === blockCount;
  }

  /** Keep a block from eviction until unpin() (reads pin the block they read). */
  pin(hash: string, index: number): boolean {
    const rec = this.records.get(id(hash, index));
    if (rec) rec.pins++;
    return rec !== undefined;
  }

  unpin(hash: string, index: number): void {
    const rec = this.records.get(id(hash, index));
    if (rec && rec.pins > 0) rec.pins--;
    this.evict();
  }

  /** The block's data, or undefined when absent or not valid (then it is removed). */
  async read(hash: string, index: number, length: number): Promise<Buffer | undefined> {
    const key = id(hash, index);
    let rec = this.records.get(key);
    if (!rec && this.loaded) return undefined;
    if (rec) {
      rec.pins++;
      this.touch(key, rec);
    }
    try {
      const file = this.blockPath(hash, index);
      const buf = Buffer.allocUnsafe(HEADER_SIZE + length);
      let bytesRead: number;
      try {
        const fd = await openFd(file, 'r');
        try {
          bytesRead = await readFd(fd, buf, 0, buf.length, 0);
        } finally {
          await closeFd(fd);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.report('read', e);
        if (rec) this.remove(key, rec, false);
        return undefined;
      }
      const h = bytesRead === buf.length ? decodeHeader(buf) : undefined;
      let valid =
        h !== undefined &&
        h.blockSize === this.opts.blockSize &&
        h.index === index &&
        h.length === length &&
        h.entryTag === entryTag(hash) &&
        (rec === undefined || rec.bytes === buf.length);
      let data: Buffer = buf.subarray(HEADER_SIZE);
      if (valid && !rec?.checked) {
        try {
          const r = await this.crc32(buf, HEADER_SIZE);
          data = r.buf.subarray(HEADER_SIZE);
          valid = r.crc === h!.dataCrc;
        } catch {
          return undefined; // could not check it: a miss this time
        }
      }
      if (!valid) {
        this.opts.log(`cache: block ${index} of entry ${hash.slice(0, 12)} is damaged on disk; fetching it again`);
        if (rec) this.remove(key, rec, true);
        else void this.unlinkFile(key, file);
        return undefined;
      }
      if (!rec && !this.records.has(key)) {
        // Found before the index finished loading: index it now.
        rec = { hash, index, bytes: buf.length, pins: 1, touched: Date.now(), checked: true };
        this.add(key, rec);
      } else if (rec) {
        rec.checked = true;
      }
      return data;
    } finally {
      if (rec) {
        rec.pins--;
        if (rec.pins === 0) this.evict();
      }
    }
  }

  /**
   * Store a block (temp file + rename). Never rejects: a failed write only
   * means the block is not cached. `label` is written to the entry's key file.
   */
  write(hash: string, index: number, data: Buffer, label: { cacheKey: string; size: number }): Promise<void> {
    this.pendingWriteBytes += data.length;
    const p = this.doWrite(hash, index, data, label)
      .catch((e) => this.report('write', e))
      .finally(() => {
        this.pendingWriteBytes -= data.length;
        this.writes.delete(p);
      });
    this.writes.add(p);
    return p;
  }

  private async doWrite(hash: string, index: number, data: Buffer, label: { cacheKey: string; size: number }): Promise<void> {
    const key = id(hash, index);
    if (this.records.has(key)) return;
    const entry = this.entry(hash);
    const generation = entry.generation;
    const final = this.blockPath(hash, index);
    const whole = label.size <= this.opts.blockSize;
    const tmp = whole ? final : `${final}.tmp-${process.pid}-${++this.tmpSeq}`;
    // Written in place: an unlink of a damaged copy must not catch the new one.
    if (whole) await this.unlinking.get(key);
    // On this thread: sending the block to the worker would take a copy (it is shared with readers).
    const header = encodeHeader({ blockSize: this.opts.blockSize, index, length: data.length, dataCrc: dataCrc(data), entryTag: entryTag(hash) });
    for (let attempt = 0; ; attempt++) {
      await this.ensureDir(hash, entry, label);
      try {
        const fd = await openFd(tmp, 'w', 0o600);
        try {
          const n = await writevFd(fd, [header, data], 0);
          if (n !== header.length + data.length) {
            const rest = Buffer.concat([header, data]).subarray(n);
            if ((await writeFd(fd, rest, 0, rest.length, n)) !== rest.length) throw new Error(`short write to ${tmp}`);
          }
        } finally {
          await closeFd(fd);
        }
        break;
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        // The entry directory was removed under us (purge): make it again, once.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) {
          entry.dirReady = undefined;
          continue;
        }
        throw e;
      }
    }
    await this.unlinking.get(key);
    if (!whole) {
      try {
        await rename(tmp, final);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
    }
    if (entry.generation !== generation) {
      // Purged while we wrote: these bytes belong to the purged content.
      await unlink(final).catch(() => undefined);
      return;
    }
    if (this.records.has(key)) return;
    this.add(key, { hash, index, bytes: header.length + data.length, pins: 0, touched: Date.now(), checked: true });
    this.evict();
  }

  /** Record that the whole file matched its checksum (kept across restarts with `persist`, see the top). */
  async markVerified(hash: string, persist = true): Promise<void> {
    const entry = this.entry(hash);
    entry.verified = true;
    if (!persist) return;
    const generation = entry.generation;
    await entry.dirReady?.catch(() => undefined);
    await writeFile(path.join(this.entryDir(hash), 'verified'), '', { mode: 0o600 }).catch((e) => this.report('write', e));
    if (entry.generation !== generation) await unlink(path.join(this.entryDir(hash), 'verified')).catch(() => undefined);
  }

  /** Drop every block of an entry, on disk too; writes in flight for it are discarded. */
  async purge(hash: string): Promise<void> {
    const entry = this.entry(hash);
    entry.generation++;
    entry.verified = false;
    for (const [key, rec] of this.records) if (rec.hash === hash) this.remove(key, rec, false);
    await entry.purging;
    entry.dirReady = undefined;
    entry.purging = rm(this.entryDir(hash), { recursive: true, force: true }).catch((e) => this.report('purge', e));
    await entry.purging;
    entry.purging = undefined;
  }

  /** Resolves when at most `limit` bytes wait to be written (undefined: already so). */
  backlogBelow(limit: number): Promise<void> | undefined {
    if (this.pendingWriteBytes <= limit) return undefined;
    return (async () => {
      while (this.pendingWriteBytes > limit && this.writes.size > 0) await Promise.race([...this.writes]);
    })();
  }

  /** Wait for writes in flight. */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
    await Promise.all([...this.unlinking.values()]);
  }

  // --- index ---

  private add(key: string, rec: BlockRecord): void {
    this.records.set(key, rec);
    this.bytes += rec.bytes;
    this.entry(rec.hash).blocks++;
  }

  private remove(key: string, rec: BlockRecord, unlinkIt: boolean): void {
    if (this.records.get(key) !== rec) return;
    this.records.delete(key);
    this.bytes -= rec.bytes;
    const entry = this.entry(rec.hash);
    entry.blocks--;
    if (entry.verified) {
      // The verified mark covers exactly the blocks that were checked together.
      entry.verified = false;
      void unlink(path.join(this.entryDir(rec.hash), 'verified')).catch(() => undefined);
    }
    if (unlinkIt) void this.unlinkFile(key, this.blockPath(rec.hash, rec.index));
  }

  private unlinkFile(key: string, file: string): Promise<void> {
    const p = unlink(file)
      .catch(() => undefined)
      .finally(() => {
        if (this.unlinking.get(key) === p) this.unlinking.delete(key);
      });
    this.unlinking.set(key, p);
    return p;
  }

  private touch(key: string, rec: BlockRecord): void {
    this.records.delete(key);
    this.records.set(key, rec);
    const now = Date.now();
    if (now - rec.touched > TOUCH_EVERY_MS) {
      rec.touched = now;
      const t = new Date(now);
      void utimes(this.blockPath(rec.hash, rec.index), t, t).catch(() => undefined);
    }
  }

  /** Evict least recently used unpinned blocks until under the cap. */
  private evict(): void {
    if (!this.loaded || this.bytes <= this.opts.maxBytes) return;
    for (const [key, rec] of this.records) {
      if (this.bytes <= this.opts.maxBytes) break;
      if (rec.pins > 0) continue;
      this.remove(key, rec, true);
      this.evictions++;
    }
  }

  private entry(hash: string): Entry {
    let e = this.entries.get(hash);
    if (!e) {
      e = { blocks: 0, verified: false, generation: 0 };
      this.entries.set(hash, e);
    }
    return e;
  }

  private ensureDir(hash: string, entry: Entry, label: { cacheKey: string; size: number }): Promise<void> {
    if (!entry.dirReady) {
      const dir = this.entryDir(hash);
      entry.dirReady = (async () => {
        await entry.purging;
        // A plain mkdir (a third of a recursive one's main-thread time); the shard folder the first time.
        await mkdirFd(dir, 0o700).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return mkdir(dir, { recursive: true, mode: 0o700 });
          if (e.code !== 'EEXIST') throw e;
        });
        if (label.size <= this.opts.blockSize) return;
        const keyFile = path.join(dir, 'key');
        const text = JSON.stringify({ cacheKey: label.cacheKey, size: label.size, blockSize: this.opts.blockSize }) + '\n';
        await writeFile(keyFile, text, { mode: 0o600 });
      })();
      entry.dirReady.catch(() => {
        entry.dirReady = undefined;
      });
    }
    return entry.dirReady;
  }

  private entryDir(hash: string): string {
    return path.join(this.opts.root, hash.slice(0, 2), hash.slice(2));
  }

  private blockPath(hash: string, index: number): string {
    return path.join(this.entryDir(hash), String(index));
  }

  private report(what: string, e: unknown): void {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    if (this.reported.has(`${what}:${code}`)) return;
    this.reported.add(`${what}:${code}`);
    this.opts.log(`cache: ${what} failed in ${this.opts.root}: ${(e as Error).message} (blocks are served without caching)`);
  }

  // --- start-up ---

  /** Rebuild the index from the directory tree (async; reads work meanwhile). */
  private async load(): Promise<void> {
    await mkdir(this.opts.root, { recursive: true, mode: 0o700 });
    await chmod(this.opts.root, 0o700);
    const found: Found[] = [];
    for (const shard of await readdir(this.opts.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const rest of await readdir(path.join(this.opts.root, shard)).catch(() => [] as string[])) {
        const hash = shard + rest;
        if (!/^[0-9a-f]{64}$/.test(hash)) continue;
        await this.loadEntry(hash, found);
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    // Blocks written or read while loading are the most recent: they go last.
    const existing = [...this.records];
    const seen = new Set(this.records.keys());
    this.records.clear();
    this.bytes = 0;
    for (const e of this.entries.values()) e.blocks = 0;
    for (const f of found) {
      if (this.entry(f.rec.hash).generation === f.generation && !seen.has(f.key)) this.add(f.key, f.rec);
    }
    for (const [k, rec] of existing) this.add(k, rec);
    this.loaded = true;
    this.evict();
  }

  private async loadEntry(hash: string, found: Found[]): Promise<void> {
    const dir = this.entryDir(hash);
    const entry = this.entry(hash);
    const generation = entry.generation;
    const names = await readdir(dir).catch(() => [] as string[]);
    let meta: { blockSize?: number } = {};
    try {
      meta = JSON.parse(await readFile(path.join(dir, 'key'), 'utf8'));
    } catch {
      // no or bad key file: the block headers still say everything needed
    }
    if (meta.blockSize !== undefined && meta.blockSize !== this.opts.blockSize) {
      // Written with another block size: none of it is usable.
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      return;
    }
    const blocks: string[] = [];
    for (const n of names) {
      if (/^\d+$/.test(n)) blocks.push(n);
      else if (n.includes('.tmp-')) await unlink(path.join(dir, n)).catch(() => undefined);
      else if (n === 'verified') entry.verified = true;
    }
    const BATCH = 256;
    for (let i = 0; i < blocks.length; i += BATCH) {
      await Promise.all(
        blocks.slice(i, i + BATCH).map(async (n) => {
          const s = await stat(path.join(dir, n)).catch(() => undefined);
          if (!s?.isFile()) return;
          const index = Number(n);
          const rec = { hash, index, bytes: s.size, pins: 0, touched: s.mtimeMs, checked: false };
          found.push({ key: id(hash, index), rec, mtime: s.mtimeMs, generation });
        }),
      );
    }
  }
}

// Callback fs on the hot path: lighter than fs/promises FileHandles.
const openFd = promisify(fs.open);
const closeFd = promisify(fs.close);
const mkdirFd = promisify(fs.mkdir);
function readFd(fd: number, b: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, b, off, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
}
function writeFd(fd: number, b: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, b, off, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
}
function writevFd(fd: number, bufs: Buffer[], pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, bufs, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

interface Found {
  key: string;
  rec: BlockRecord;
  mtime: number;
  generation: number;
}

function id(hash: string, index: number): string {
  return `${hash}/${index}`;
}
