// Reading multipart (and urlencoded) form bodies with busboy. The upload part
// streams straight into the blob store: uploads can be 1 GiB and are never
// held in memory.
import busboy from 'busboy';
import { Transform, type TransformCallback } from 'node:stream';
import { apiError, jaxrsError, type Ctx } from './http.js';
import type { StoredBlob } from './blobs.js';

export interface FormFile {
  /** The part's file name as sent (path kept); undefined when the part had none. */
  filename: string | undefined;
  /** type/subtype of the part's Content-Type header; undefined when the part had no such header. */
  partType: string | undefined;
  blob: StoredBlob;
  /** Set when the upload is bigger than `maxFileSize`: the blob then holds only a prefix. */
  tooLarge: boolean;
}

export interface FormBody {
  fields: Map<string, string>;
  file?: FormFile;
}

export interface ReadFormOptions {
  /** Name of the part to store as a blob (e.g. "file"); other file parts are read as fields or dropped. */
  fileField?: string;
  /** Stop writing the upload after this many bytes (its full size is still counted). */
  maxFileSize?: number;
}

const FIELD_LIMIT = 1 << 20;

export function isFormRequest(ctx: Ctx): boolean {
  const type = (ctx.req.headers['content-type'] ?? '').toLowerCase();
  return type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded');
}

/**
 * Read a form body. Text fields (and small file parts that are not the upload,
 * e.g. `jsonData` sent with curl -F jsonData=@x.json) end up in `fields`.
 */
export async function readForm(ctx: Ctx, opts: ReadFormOptions = {}): Promise<FormBody> {
  if (!isFormRequest(ctx)) throw jaxrsError(ctx, 415, 'HTTP 415 Unsupported Media Type');
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: ctx.req.headers, preservePath: true, defParamCharset: 'utf8', limits: { fieldSize: FIELD_LIMIT } });
  } catch (e) {
    throw apiError(400, `Bad Request. ${(e as Error).message}`);
  }
  const sniffer = new PartHeaderSniffer(boundaryOf(ctx.req.headers['content-type'] ?? ''), opts.fileField);
  const fields = new Map<string, string>();
  const pending: Promise<unknown>[] = [];
  let file: FormFile | undefined;
  let fileWrite: Promise<void> | undefined;

  bb.on('field', (name, value) => {
    if (!fields.has(name)) fields.set(name, value);
  });
  bb.on('file', (name, stream, info) => {
    if (opts.fileField !== undefined && name === opts.fileField && !fileWrite) {
      const header = sniffer.fileHeader;
      const partType = header?.hasContentType ? info.mimeType : undefined;
      const limiter = new SizeLimiter(opts.maxFileSize);
      fileWrite = ctx.store.blobs.write(stream, limiter).then((blob) => {
        file = { filename: info.filename, partType, blob, tooLarge: limiter.exceeded };
      });
      fileWrite.catch(() => {}); // observed below; never an unhandled rejection
      pending.push(fileWrite);
      return;
    }
    // A small file part that is not the upload: keep it as a field.
    const parts: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= FIELD_LIMIT) parts.push(c);
    });
    pending.push(
      new Promise<void>((resolve) =>
        stream.on('end', () => {
          if (!fields.has(name)) fields.set(name, Buffer.concat(parts).toString('utf8'));
          resolve();
        }),
      ),
    );
  });

  const finished = new Promise<void>((resolve, reject) => {
    bb.on('close', () => resolve());
    bb.on('error', (e: Error) => reject(apiError(400, `Bad Request. ${e.message}`)));
    // A client that goes away mid-upload: stop busboy, which ends the blob write (its temp file is removed).
    const abort = () => {
      if (!ctx.req.complete) bb.destroy(new Error('The request was aborted.'));
    };
    ctx.req.on('error', abort);
    ctx.req.on('close', abort);
  });
  ctx.req.pipe(sniffer).pipe(bb);
  try {
    await finished;
    await Promise.all(pending);
  } catch (e) {
    // The blob store removes partial writes; a finished upload must go too.
    await Promise.allSettled(pending);
    if (file) await ctx.store.blobs.remove(file.blob.key);
    throw e;
  }
  return { fields, file };
}

function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Passes bytes on, dropping everything past `limit` (busboy keeps reading; the size is still counted). */
class SizeLimiter extends Transform {
  private seen = 0;
  exceeded = false;
  constructor(private readonly limit: number | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.limit === undefined) return cb(null, chunk);
    const room = this.limit - this.seen;
    this.seen += chunk.length;
    if (this.seen > this.limit) this.exceeded = true;
    cb(null, room >= chunk.length ? chunk : room > 0 ? chunk.subarray(0, room) : undefined);
  }
}

interface PartHeader {
  name: string | undefined;
  hasContentType: boolean;
}

/**
 * busboy reports "text/plain" for a part without a Content-Type header, so it
 * cannot tell "no header" (which /add treats as application/octet-stream) from
 * an explicit text/plain. This pass-through watches the raw part headers until
 * it has seen the upload part's own header block, then only forwards bytes.
 */
class PartHeaderSniffer extends Transform {
  fileHeader: PartHeader | undefined;
  private readonly delimiter: Buffer | undefined;
  private carry = Buffer.alloc(0);
  private inHeaders = false;
  private done: boolean;

  constructor(boundary: string | undefined, private readonly fileField: string | undefined) {
    super();
    this.delimiter = boundary ? Buffer.from(`--${boundary}\r\n`) : undefined;
    this.done = !this.delimiter || fileField === undefined;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.done) this.scan(chunk);
    cb(null, chunk);
  }

  private scan(chunk: Buffer): void {
    const delim = this.delimiter!;
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    for (;;) {
      if (this.inHeaders) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          // Header blocks are small; give up on absurd ones.
          if (buf.length > 64 * 1024) this.done = true;
          this.carry = this.done ? Buffer.alloc(0) : Buffer.from(buf);
          return;
        }
        const header = parseHeaderBlock(buf.subarray(0, end).toString('utf8'));
        buf = buf.subarray(end + 4);
        this.inHeaders = false;
        if (header.name === this.fileField) {
          this.fileHeader = header;
          this.done = true;
          this.carry = Buffer.alloc(0);
          return;
        }
        continue;
      }
      const at = buf.indexOf(delim);
      if (at < 0) {
        // Keep just enough to find a delimiter split across chunks.
        this.carry = Buffer.from(buf.subarray(Math.max(0, buf.length - delim.length + 1)));
        return;
      }
      buf = buf.subarray(at + delim.length);
      this.inHeaders = true;
    }
  }
}

function parseHeaderBlock(text: string): PartHeader {
  let name: string | undefined;
  let hasContentType = false;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1);
    if (key === 'content-type' && value.trim() !== '') hasContentType = true;
    if (key === 'content-disposition') {
      const m = /(?:^|;)\s*name="([^"]*)"/i.exec(value) ?? /(?:^|;)\s*name=([^;\s]+)/i.exec(value);
      if (m) name = m[1];
    }
  }
  return { name, hasContentType };
}
