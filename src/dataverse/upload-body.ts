// The multipart/form-data bodies of add and replace: a `file` part streamed
// from the staged file in 1 MiB reads, then the `jsonData` part, with a known
// Content-Length (multipartUpload); or, for a file still being written, a
// chunked body whose bytes come as they are written and whose `jsonData`
// comes last, once the final name is known (streamedUpload). undici's
// FormData over a file Blob reads through web streams in 64 KiB pieces, which
// made a 1 GiB upload CPU-bound at about half of curl's speed on this
// machine; these bodies cost one read per MiB, into one reused buffer (see
// RequestBody in transport.ts).
import { randomBytes } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { RequestBody } from './transport.js';

/** The file changed while it was read for an upload (the request is cut short: nothing is stored). */
export class StagedFileChanged extends Error {
  constructor(message: string) {
    super(`the file changed while it was uploaded: ${message}`);
    this.name = 'StagedFileChanged';
  }
}

export interface MultipartUpload {
  headers: Record<string, string>;
  body: RequestBody;
  /** Aborting it cuts the request short. */
  signal?: AbortSignal;
}

const READ_SIZE = 1 << 20;

/**
 * Read exactly `n` bytes at `pos` into `buf` (fewer only at the end of the
 * file). Whole pieces keep a reused buffer safe: every chunk but the last is
 * then 1 MiB, which undici writes out before it asks for the next one (see
 * RequestBody); a short read in the middle would leave a small chunk still
 * in the socket's queue when the buffer is filled again.
 */
export async function readPiece(fh: FileHandle, buf: Buffer, n: number, pos: number): Promise<Buffer> {
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * The body for `file` (sent as `partName` with `contentType`) and `jsonData`.
 * If the file's size or mtime differs from now by the end of the read, the
 * body fails with StagedFileChanged.
 */
export async function multipartUpload(file: string, partName: string, contentType: string, jsonData: string): Promise<MultipartUpload> {
  const before = await stat(file);
  const size = before.size;
  const boundary = `----dvfs${randomBytes(16).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escapeName(partName)}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="jsonData"\r\n\r\n${jsonData}\r\n--${boundary}--\r\n`);
  const unchanged = (now: { size: number; mtimeMs: number }) => now.size === size && now.mtimeMs === before.mtimeMs;
  // Opened when the body is first read, so a request that fails before sending leaves no open file behind.
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    const fh = await open(file, 'r');
    try {
      if (!unchanged(await fh.stat())) throw new StagedFileChanged(`${file} was written to`);
      const buf = Buffer.allocUnsafeSlow(Math.min(READ_SIZE, size));
      for (let pos = 0; pos < size; ) {
        const piece = await readPiece(fh, buf, Math.min(READ_SIZE, size - pos), pos);
        if (piece.length < Math.min(READ_SIZE, size - pos)) throw new StagedFileChanged(`${file} is shorter than ${size} bytes`);
        pos += piece.length;
        yield piece;
      }
      if (!unchanged(await fh.stat())) throw new StagedFileChanged(`${file} was written to`);
    } finally {
      await fh.close();
    }
    yield tail;
  }
  return {
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + size + tail.length),
    },
    body: parts(),
  };
}

/**
 * A chunked body (no Content-Length): the `file` part with the bytes `file`
 * yields, then the `jsonData` part once `jsonData` resolves. The server
 * takes the parts in any order (Jersey's FormDataMultiPart; busboy in `dvfs
 * serve`) and acts only on a complete body: a body cut short (an error from
 * `file`, or `signal`) stores nothing. The body is the async iterable itself
 * (see RequestBody): `file` may reuse its buffer from one chunk to the next.
 */
export function streamedUpload(
  partName: string,
  contentType: string,
  file: AsyncIterable<Buffer>,
  jsonData: Promise<string>,
  signal: AbortSignal,
): MultipartUpload {
  const boundary = `----dvfs${randomBytes(16).toString('hex')}`;
  async function* parts(): AsyncGenerator<Buffer> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escapeName(partName)}"\r\nContent-Type: ${contentType}\r\n\r\n`);
    yield* file;
    const json = await jsonData;
    yield Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="jsonData"\r\n\r\n${json}\r\n--${boundary}--\r\n`);
  }
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: parts(), signal };
}

/** A file name in a quoted Content-Disposition parameter, escaped as browsers and undici do (WHATWG). */
function escapeName(name: string): string {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}
