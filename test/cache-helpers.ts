// Helpers of the block-cache tests: files uploaded to a real `dvfs serve`,
// a client for it, a tiny origin of our own (for counting and for a server
// that ignores Range), and a reference check of bytes read through a reader.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataverseClient } from '../src/dataverse/client.js';
import type { FileSource } from '../src/cache/types.js';
import { Api } from './helpers/api.js';
import { addFile, createDataset } from './helpers/fixtures.js';
import type { ServeProcess } from './helpers/serve.js';

export const MiB = 1024 * 1024;

export function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

/** Random bytes, generated in 1 MiB steps (randomBytes has a 2 GiB cap and is slow in one piece). */
export function randomData(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += MiB) randomBytes(Math.min(MiB, size - at)).copy(out, at);
  return out;
}

export function sourceOf(fileId: number, data: Buffer, opts: { query?: string; checksum?: FileSource['checksum'] } = {}): FileSource {
  const checksum = 'checksum' in opts ? opts.checksum : { type: 'MD5' as const, value: md5(data) };
  return {
    fileId,
    query: opts.query ?? '',
    size: data.length,
    checksum,
    cacheKey: `${fileId}?${opts.query ?? ''}#${checksum ? `${checksum.type}:${checksum.value}` : `size:${data.length}`}`,
  };
}

/** Upload bytes as a new file of a new draft dataset; the source the server lists for it. */
export async function uploadFile(srv: ServeProcess, name: string, data: Buffer): Promise<FileSource> {
  const api = new Api(srv.url, srv.adminToken);
  const ds = await createDataset(api, 'root', `cache test ${name}`);
  const r = await addFile(api, ds.id, name, data, { contentType: 'application/octet-stream' });
  if (r.status !== 200) throw new Error(`add ${name}: ${r.status} ${r.text}`);
  const df = r.json.data.files[0].dataFile as { id: number; filesize: number; checksum?: { type: 'MD5'; value: string } };
  if (df.filesize !== data.length) throw new Error(`server says ${df.filesize} bytes, uploaded ${data.length}`);
  if (df.checksum?.value !== md5(data)) throw new Error(`server checksum ${df.checksum?.value} is not the MD5 of the upload`);
  return sourceOf(df.id, data, { checksum: df.checksum });
}

export function clientFor(url: string, token?: string): DataverseClient {
  return new DataverseClient({ baseUrl: url, token: () => token, baseDelayMs: 20, maxDelayMs: 200 });
}

export async function tempDir(prefix = 'dvfs-cache-'): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export interface Origin {
  url: string;
  /** Range headers (or 'none') of the download requests received. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A minimal Access API origin serving `files` at /api/v1/access/datafile/{id}.
 * With `ignoreRange` it answers every request 200 with the whole body, like
 * Dataverse before 5.12.
 */
export async function startOrigin(files: Map<number, Buffer>, opts: { ignoreRange?: boolean } = {}): Promise<Origin> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const m = /^\/api\/v1\/access\/datafile\/(\d+)/.exec(req.url ?? '');
    const data = m ? files.get(Number(m[1])) : undefined;
    if (!data) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"ERROR","message":"not found"}');
      return;
    }
    const range = req.headers.range;
    requests.push(range ?? 'none');
    const r = range && !opts.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (r) {
      const start = Number(r[1]);
      const end = r[2] ? Math.min(Number(r[2]) + 1, data.length) : data.length;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${data.length}`, 'content-length': end - start });
      res.end(data.subarray(start, end));
      return;
    }
    res.writeHead(200, { 'content-length': data.length });
    // Written in pieces so a reader that stops early really stops the transfer.
    let at = 0;
    const pump = () => {
      while (at < data.length) {
        const piece = data.subarray(at, at + 256 * 1024);
        at += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => (at = data.length));
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `count` random reads (offset, length) checked against `data`. */
export async function randomReads(
  read: (offset: number, length: number) => Promise<Buffer>,
  data: Buffer,
  count: number,
  seed = 1,
): Promise<void> {
  let s = seed;
  const rnd = () => {
    // xorshift32: reproducible offsets for a failing run
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let k = 0; k < count; k++) {
    const offset = Math.floor(rnd() * data.length);
    const length = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 3 * MiB : 128 * 1024));
    const got = await read(offset, length);
    const want = data.subarray(offset, Math.min(data.length, offset + length));
    if (!got.equals(want)) throw new Error(`read ${offset}+${length}: ${got.length} bytes differ from the source (${want.length} expected)`);
  }
}

/** Read a whole file the way the kernel does: 128 KiB requests, `depth` in flight, slightly out of order. */
export async function readLikeKernel(read: (offset: number, length: number) => Promise<Buffer>, size: number, depth = 4): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  const REQ = 128 * 1024;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const offset = next;
      if (offset >= size) return;
      next += REQ;
      const b = await read(offset, REQ);
      if (b.length !== Math.min(REQ, size - offset)) throw new Error(`short read at ${offset}: ${b.length}`);
      b.copy(out, offset);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  return out;
}
