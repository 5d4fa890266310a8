// The MD5 of a staged file kept while it is written front to back, so a copy
// needs no second read before its upload. Hashing on the FUSE thread would
// cost ~1.5 ms per MiB and halve the speed of writes into the mount, so it
// runs in a worker thread. Each write's bytes are copied once, into a pooled
// buffer that first goes to the staged file and then, transferred (not
// copied), to the worker, which hashes the pieces in the order they were
// written and sends the buffer back for reuse. Whole files (an entry without
// a running hash) are hashed through the block cache's hash service.
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { HashService } from '../cache/hash-service.js';
import type { Checksum } from '../dataverse/types.js';

type ToWorker =
  | { t: 'start'; id: number }
  | { t: 'data'; id: number; seq: number; n: number; data: ArrayBuffer }
  | { t: 'end'; id: number }
  | { t: 'abort'; id: number };
type FromWorker = { t: 'back'; data: ArrayBuffer } | { t: 'digest'; id: number; hex: string | null };

// CommonJS, evaluated in the worker. Pieces may arrive out of order (the disk writes finish in any order):
// they wait until the ones before them came.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
const back = (data) => parentPort.postMessage({ t: 'back', data }, [data]);
parentPort.on('message', (m) => {
  if (m.t === 'start') jobs.set(m.id, { hash: createHash('md5'), next: 0, waiting: new Map() });
  else if (m.t === 'data') {
    const j = jobs.get(m.id);
    if (!j) return back(m.data);
    j.waiting.set(m.seq, m);
    while (j.waiting.has(j.next)) {
      const d = j.waiting.get(j.next);
      j.waiting.delete(j.next);
      j.hash.update(new Uint8Array(d.data, 0, d.n));
      j.next++;
      back(d.data);
    }
  } else if (m.t === 'end') {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    const complete = j && j.waiting.size === 0;
    if (j) for (const d of j.waiting.values()) back(d.data);
    parentPort.postMessage({ t: 'digest', id: m.id, hex: complete ? j.hash.digest('hex') : null });
  } else if (m.t === 'abort') {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    if (j) for (const d of j.waiting.values()) back(d.data);
  }
});
`;

/** The size of a FUSE write request with big_writes: one pooled buffer each. */
const PIECE = 128 * 1024;
/** Buffers kept for reuse (the write-behind and the worker's queue hold the rest). */
const MAX_POOLED = 256;

export class HashWorker {
  private worker?: Worker;
  private failed = false;
  private nextId = 1;
  private readonly pool: Buffer[] = [];
  private readonly digests = new Map<number, (hex: string | undefined) => void>();

  constructor(private readonly log: (line: string) => void) {}

  /** A buffer for `n` bytes (pooled when it is a usual write's size); its own memory, so it can be transferred. */
  take(n: number): Buffer {
    if (n <= PIECE) {
      const b = this.pool.pop() ?? Buffer.allocUnsafeSlow(PIECE);
      return b.subarray(0, n);
    }
    return Buffer.allocUnsafeSlow(n);
  }

  /** A buffer from take() that was not handed to a hash. */
  give(buf: Buffer): void {
    if (buf.buffer.byteLength === PIECE && this.pool.length < MAX_POOLED) this.pool.push(Buffer.from(buf.buffer, 0, PIECE));
  }

  /** A new running MD5, or undefined without a worker (the file is then hashed whole before its upload). */
  start(): RunningHash | undefined {
    const w = this.ensure();
    if (!w) return undefined;
    const id = this.nextId++;
    w.postMessage({ t: 'start', id } satisfies ToWorker);
    return new RunningHash(this, id);
  }

  /** @internal */
  post(m: ToWorker, transfer?: ArrayBuffer[]): boolean {
    if (!this.worker) return false;
    this.worker.postMessage(m, transfer);
    return true;
  }

  /** @internal */
  end(id: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      if (!this.post({ t: 'end', id })) return resolve(undefined);
      this.digests.set(id, resolve);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed = true;
    for (const r of this.digests.values()) r(undefined);
    this.digests.clear();
    if (w) await w.terminate();
  }

  private ensure(): Worker | undefined {
    if (this.worker || this.failed) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 8 } });
      w.unref();
      w.on('message', (m: FromWorker) => {
        if (m.t === 'back') this.give(Buffer.from(m.data));
        else {
          this.digests.get(m.id)?.(m.hex ?? undefined);
          this.digests.delete(m.id);
        }
      });
      const died = (why: string) => {
        if (this.worker !== w) return;
        this.worker = undefined;
        this.failed = true;
        this.log(`write path: the hash worker stopped (${why}); files are hashed whole before their upload`);
        for (const r of this.digests.values()) r(undefined);
        this.digests.clear();
      };
      w.on('error', (e) => died(e.message));
      w.on('exit', (code) => died(`exit code ${code}`));
      this.worker = w;
      return w;
    } catch (e) {
      this.failed = true;
      this.log(`write path: no hash worker (${(e as Error).message}); files are hashed whole before their upload`);
      return undefined;
    }
  }
}

export class RunningHash {
  /** Bytes submitted so far (the next sequential write must start here). */
  pos = 0;
  private seq = 0;
  private ended = false;

  constructor(
    private readonly owner: HashWorker,
    private readonly id: number,
  ) {}

  /** Reserve the next piece (`n` bytes at `pos`); feed it its bytes with feed() once they are on disk. */
  reserve(n: number): number {
    this.pos += n;
    return this.seq++;
  }

  /** Hand over a reserved piece's bytes: the buffer (from HashWorker.take) is transferred, not to be used again. */
  feed(seq: number, buf: Buffer): void {
    const whole = buf.byteOffset === 0 && (buf.buffer.byteLength === buf.length || buf.buffer.byteLength === PIECE);
    if (this.ended || !whole || !this.owner.post({ t: 'data', id: this.id, seq, n: buf.length, data: buf.buffer as ArrayBuffer }, [buf.buffer as ArrayBuffer])) {
      this.owner.give(buf);
      if (!whole) this.abort(); // never happens with buffers from take(); a gap makes the digest undefined
    }
  }

  /** The MD5 (hex) of every piece, or undefined when one is missing; ends the hash. */
  digest(): Promise<string | undefined> {
    if (this.ended) return Promise.resolve(undefined);
    this.ended = true;
    return this.owner.end(this.id);
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.post({ t: 'abort', id: this.id });
  }
}

/**
 * A whole file's checksum (MD5, SHA-1, SHA-256, SHA-512), hashed in the worker: the FUSE thread only reads.
 * If the worker dies meanwhile, the service has switched to the main thread: hash again there.
 */
export async function hashFileOffThread(service: HashService, file: string, type: Checksum['type']): Promise<string> {
  try {
    return await hashWith(service, file, type);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== undefined) throw e; // the file, not the worker
    return hashWith(service, file, type);
  }
}

async function hashWith(service: HashService, file: string, type: Checksum['type']): Promise<string> {
  const job = service.start(type);
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const room = job.update(chunk as Buffer);
      if (room) await room;
    }
  } catch (e) {
    job.abort();
    throw e;
  }
  return job.digest();
}
