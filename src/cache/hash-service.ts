// Whole-file checksums (MD5, SHA-1, SHA-256, SHA-512) computed off the read
// path. MD5 runs at ~700 MiB/s here, so hashing on the main thread would
// stall FUSE and HTTP for ~1.5 ms per MiB. Instead a small worker thread
// hashes copies of the blocks (a copy costs ~0.05 ms per MiB on the main
// thread) while the reader goes on; the worker never touches FUSE. The copies
// travel in a few ArrayBuffers passed back and forth (transferred, so never
// copied again and never garbage), and the bytes queued for the worker are
// bounded (back-pressure on the verifying reader): memory stays small and
// fixed when the disk and network outrun the hash.
//
// The same worker checks the CRC-32 of blocks read back from disk
// (block-format.ts): zlib's crc32 costs ~0.35 ms per MiB, a third of the main
// thread's work when serving cached blocks. A block just read from disk
// travels to the worker and back without a copy (its memory is transferred).
// (Blocks being written are shared with readers, so sending one would take a
// copy: their CRC is computed where they are, measured cheaper overall.)
//
// Without worker threads (option off, or the worker failed to start) the
// hashes run on the main thread, one block at a time. The block cache turns
// the worker off on machines of 2 cores, where it cost memory and gained no
// speed (block-cache.ts).
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { Checksum } from '../dataverse/types.js';

const NODE_ALGORITHM: Record<Checksum['type'], string> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
};

export function nodeAlgorithm(type: string): string | undefined {
  return (NODE_ALGORITHM as Record<string, string>)[type];
}

/** One running hash of one file. */
export interface HashJob {
  /** Add bytes; resolves when the queue has room again (undefined: it has). */
  update(data: Buffer): Promise<void> | undefined;
  /** Hex digest of everything added. */
  digest(): Promise<string>;
  abort(): void;
}

type ToWorker =
  | { t: 'start'; id: number; algorithm: string }
  | { t: 'data'; id: number; data: ArrayBuffer; n: number }
  | { t: 'end'; id: number }
  | { t: 'abort'; id: number }
  | { t: 'crc'; id: number; data: ArrayBuffer; off: number; n: number };
type FromWorker =
  | { t: 'ack'; id: number; n: number; data: ArrayBuffer }
  | { t: 'digest'; id: number; hex: string }
  | { t: 'crc'; id: number; crc: number; data: ArrayBuffer }
  | { t: 'error'; id: number; message: string };

/** CRC-32 of part of a buffer, and the buffer (the same bytes, possibly a new Buffer object). */
export interface CrcResult {
  crc: number;
  buf: Buffer;
}

/** Size of the copy buffers (a block fits; larger inputs get their own). */
const SLOT = 1024 * 1024;
/** Copy buffers kept for reuse. */
const MAX_FREE = 6;
/** digest() hashes buffers up to this size on the calling thread. */
const INLINE_DIGEST = 64 * 1024;

// CommonJS, evaluated in the worker (eval: works the same from .ts under test and from dist/).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
const jobs = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.t === 'crc') {
      const crc = crc32(new Uint8Array(m.data, m.off, m.n)) >>> 0;
      parentPort.postMessage({ t: 'crc', id: m.id, crc, data: m.data }, [m.data]);
    } else if (m.t === 'start') jobs.set(m.id, createHash(m.algorithm));
    else if (m.t === 'data') {
      const h = jobs.get(m.id);
      if (h) h.update(new Uint8Array(m.data, 0, m.n));
      parentPort.postMessage({ t: 'ack', id: m.id, n: m.n, data: m.data }, [m.data]);
    } else if (m.t === 'end') {
      const h = jobs.get(m.id);
      jobs.delete(m.id);
      parentPort.postMessage({ t: 'digest', id: m.id, hex: h ? h.digest('hex') : '' });
    } else if (m.t === 'abort') jobs.delete(m.id);
  } catch (e) {
    parentPort.postMessage({ t: 'error', id: m.id, message: String(e && e.message || e) });
  }
});
`;

interface WorkerJob {
  queued: number;
  roomWaiters: (() => void)[];
  digest?: { resolve(hex: string): void; reject(e: Error): void };
}

export class HashService {
  private worker?: Worker;
  private workerFailed = false;
  private closed = false;
  private nextId = 1;
  private readonly jobs = new Map<number, WorkerJob>();
  /** Copy buffers back from the worker, ready for reuse. */
  private readonly free: ArrayBuffer[] = [];
  private readonly crcs = new Map<number, { resolve(r: { crc: number; data: ArrayBuffer }): void; reject(e: Error): void }>();

  constructor(
    private readonly opts: {
      /** Hash in a worker thread (default) or on the main thread. */
      useWorker: boolean;
      /** Bytes queued for the worker before update() makes the caller wait. */
      maxQueued: number;
      log: (line: string) => void;
    },
  ) {}

  start(type: Checksum['type']): HashJob {
    const algorithm = nodeAlgorithm(type);
    if (!algorithm) throw new Error(`unknown checksum algorithm ${type}`);
    const worker = this.ensureWorker();
    return worker ? this.workerJob(worker, algorithm) : mainThreadJob(createHash(algorithm));
  }

  /**
   * Hex digest of one buffer. Up to 64 KiB (~0.1 ms of MD5) on this thread:
   * less than the worker's round trip; larger ones go through a job.
   */
  async digest(type: Checksum['type'], data: Buffer): Promise<string> {
    const algorithm = nodeAlgorithm(type);
    if (!algorithm) throw new Error(`unknown checksum algorithm ${type}`);
    if (data.length <= INLINE_DIGEST) return createHash(algorithm).update(data).digest('hex');
    const job = this.start(type);
    await job.update(data);
    return job.digest();
  }

  /**
   * CRC-32 of `buf[offset..]`. The caller hands the buffer over until the
   * promise resolves: its memory goes to the worker and comes back in the
   * result's `buf`, without a copy (a buffer sharing its memory with others
   * is copied instead).
   */
  async crc32(buf: Buffer, offset: number): Promise<CrcResult> {
    const worker = this.ensureWorker();
    if (!worker) return { crc: crc32(buf.subarray(offset)) >>> 0, buf };
    try {
      return await this.crcInWorker(worker, buf, offset);
    } catch (e) {
      // The worker died: a copy can be done here; a buffer handed over is lost with it.
      if (buf.buffer.byteLength === 0 || buf.length === 0) throw e;
      return { crc: crc32(buf.subarray(offset)) >>> 0, buf };
    }
  }

  private async crcInWorker(worker: Worker, buf: Buffer, offset: number): Promise<CrcResult> {
    const n = buf.length - offset;
    const whole = buf.byteOffset === 0 && buf.buffer.byteLength === buf.length && !(buf.buffer instanceof SharedArrayBuffer);
    let ab: ArrayBuffer;
    if (whole) ab = buf.buffer as ArrayBuffer;
    else {
      ab = (n <= SLOT && this.free.pop()) || (Buffer.allocUnsafeSlow(Math.max(SLOT, n)).buffer as ArrayBuffer);
      buf.copy(Buffer.from(ab, 0, n), 0, offset);
    }
    const moved = ab === buf.buffer;
    const total = buf.length; // a moved buffer reads as empty until it comes back
    const id = this.nextId++;
    const r = await new Promise<{ crc: number; data: ArrayBuffer }>((resolve, reject) => {
      this.crcs.set(id, { resolve, reject });
      worker.postMessage({ t: 'crc', id, data: ab, off: moved ? offset : 0, n } satisfies ToWorker, [ab]);
    });
    if (moved) return { crc: r.crc, buf: Buffer.from(r.data, 0, total) };
    this.recycle(r.data);
    return { crc: r.crc, buf };
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    for (const j of this.jobs.values()) j.digest?.reject(new Error('hash service closed'));
    this.jobs.clear();
    for (const c of this.crcs.values()) c.reject(new Error('hash service closed'));
    this.crcs.clear();
    if (w) await w.terminate();
  }

  private recycle(ab: ArrayBuffer): void {
    if (ab.byteLength === SLOT && this.free.length < MAX_FREE) this.free.push(ab);
  }

  private ensureWorker(): Worker | undefined {
    if (!this.opts.useWorker || this.workerFailed || this.closed) return undefined;
    if (this.worker) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 8 } });
      w.unref();
      w.on('message', (m: FromWorker) => this.onMessage(m));
      w.on('error', (e) => this.onWorkerDeath(e));
      w.on('exit', (code) => {
        if (this.worker === w) this.onWorkerDeath(new Error(`hash worker exited with code ${code}`));
      });
      this.worker = w;
      return w;
    } catch (e) {
      this.workerFailed = true;
      this.opts.log(`cache: no hash worker (${(e as Error).message}); checksums are computed on the main thread`);
      return undefined;
    }
  }

  private onWorkerDeath(e: Error): void {
    this.worker = undefined;
    this.workerFailed = true;
    this.opts.log(`cache: hash worker stopped (${e.message}); checksums are computed on the main thread`);
    for (const j of this.jobs.values()) {
      j.digest?.reject(e);
      for (const w of j.roomWaiters.splice(0)) w();
    }
    this.jobs.clear();
    for (const c of this.crcs.values()) c.reject(e);
    this.crcs.clear();
  }

  private onMessage(m: FromWorker): void {
    if (m.t === 'crc') {
      const c = this.crcs.get(m.id);
      this.crcs.delete(m.id);
      c?.resolve({ crc: m.crc, data: m.data });
      return;
    }
    if (m.t === 'error' && this.crcs.has(m.id)) {
      this.crcs.get(m.id)!.reject(new Error(`hash worker: ${m.message}`));
      this.crcs.delete(m.id);
      return;
    }
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.t === 'ack') {
      this.recycle(m.data);
      job.queued -= m.n;
      if (job.queued <= this.opts.maxQueued) for (const w of job.roomWaiters.splice(0)) w();
    } else if (m.t === 'digest') {
      this.jobs.delete(m.id);
      job.digest?.resolve(m.hex);
    } else {
      this.jobs.delete(m.id);
      job.digest?.reject(new Error(`hash worker: ${m.message}`));
      for (const w of job.roomWaiters.splice(0)) w();
    }
  }

  private workerJob(worker: Worker, algorithm: string): HashJob {
    const id = this.nextId++;
    const job: WorkerJob = { queued: 0, roomWaiters: [] };
    this.jobs.set(id, job);
    const post = (m: ToWorker, transfer?: ArrayBuffer[]) => worker.postMessage(m, transfer);
    post({ t: 'start', id, algorithm });
    let failed: Error | undefined;
    return {
      update: (data) => {
        if (!this.jobs.has(id)) {
          failed ??= new Error('hash worker stopped');
          return undefined;
        }
        // A private copy the worker can own (transferred, not cloned again).
        const ab = (data.length <= SLOT && this.free.pop()) || Buffer.allocUnsafeSlow(Math.max(SLOT, data.length)).buffer as ArrayBuffer;
        data.copy(Buffer.from(ab, 0, data.length));
        job.queued += data.length;
        post({ t: 'data', id, data: ab, n: data.length }, [ab]);
        if (job.queued <= this.opts.maxQueued) return undefined;
        return new Promise<void>((resolve) => job.roomWaiters.push(resolve));
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (failed || !this.jobs.has(id)) return reject(failed ?? new Error('hash worker stopped'));
          job.digest = { resolve, reject };
          post({ t: 'end', id });
        }),
      abort: () => {
        if (this.jobs.delete(id)) post({ t: 'abort', id });
      },
    };
  }
}

function mainThreadJob(h: Hash): HashJob {
  return {
    update: (data) => {
      h.update(data);
      return undefined;
    },
    digest: async () => h.digest('hex'),
    abort: () => undefined,
  };
}
