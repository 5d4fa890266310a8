// The separate blob origin of redirect mode: a second HTTP server on another
// port that plays the part of S3 behind Dataverse's download redirect
// (dataverse-api-notes.md §5.5). Downloads answer 303 to a signed URL here;
// the URL needs no API token, expires, and serves single ranges like S3.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ServerConfig } from './config.js';
import type { Faults } from './faults.js';
import { send, type Ctx } from './http.js';
import { javaUrlEncode } from './json.js';
import type { RequestLog } from './request-log.js';
import type { Store } from './store.js';
import { requestToken } from './auth.js';
import { s3Error } from './faults/s3-errors.js';

/** Where the signing secret lives in the data directory (so URLs survive a restart). */
export const BLOB_SECRET_FILE = 'blob-secret';

export interface BlobTarget {
  /** Key in the blob store. */
  blob: string;
  /** Name for Content-Disposition. */
  filename: string;
  contentType: string;
}

// The secret of each running server, found from its config (signBlobUrl only gets the config).
const secrets = new WeakMap<ServerConfig, Buffer>();

function signature(secret: Buffer, blob: string, filename: string, contentType: string, expires: string): string {
  return createHmac('sha256', secret).update([blob, filename, contentType, expires].join('\n')).digest('hex');
}

/**
 * A signed, expiring URL of the blob origin for one blob:
 * <blobOrigin>/blob/<key>?filename=…&contentType=…&expires=<epoch s>&sig=<HMAC-SHA256 hex>.
 * Lifetime is config.signedUrlSeconds.
 */
export function signBlobUrl(config: ServerConfig, target: BlobTarget): string {
  const secret = secrets.get(config);
  if (!secret || !config.blobOrigin) throw new Error('the blob origin is not listening');
  const expires = String(Math.floor(Date.now() / 1000) + config.signedUrlSeconds);
  const q = new URLSearchParams({
    filename: target.filename,
    contentType: target.contentType,
    expires,
    sig: signature(secret, target.blob, target.filename, target.contentType, expires),
  });
  return `${config.blobOrigin}/blob/${encodeURIComponent(target.blob)}?${q.toString()}`;
}

async function loadSecret(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, BLOB_SECRET_FILE);
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const secret = randomBytes(32);
  await writeFile(file, `${secret.toString('hex')}\n`, { mode: 0o600 });
  return secret;
}

type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * S3's reading of a Range header: one `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * A header S3 cannot use (malformed, several ranges) is ignored (whole object,
 * 200); a well-formed range outside the object is 416 InvalidRange.
 */
export function parseS3Range(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined; // invalid: ignored like S3
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** `attachment; filename*=UTF-8''<encoded>` as the presigned URL's response-content-disposition sets it. */
export function rfc5987Disposition(filename: string): string {
  return `attachment; filename*=UTF-8''${javaUrlEncode(filename)}`;
}

export class BlobOrigin {
  private server?: http.Server;

  constructor(
    private readonly store: Store,
    private readonly config: ServerConfig,
    private readonly faults: Faults,
    private readonly requestLog: RequestLog,
  ) {}

  /** Start listening on a free port of `host`; returns the origin's base URL. */
  async listen(host: string): Promise<string> {
    secrets.set(this.config, await loadSecret(this.store.dataDir));
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.blobPort ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.config.blobOrigin ?? 'http://127.0.0.1');
    const ctx: Ctx = {
      req,
      res,
      url,
      apiPath: '',
      params: {},
      query: url.searchParams,
      tokenSent: false,
      store: this.store,
      config: this.config,
    };
    // Recorded so tests can check a token never reaches this origin; the token itself is ignored.
    ctx.tokenSent = requestToken(ctx) !== undefined;
    ctx.logEntry = this.requestLog.begin(ctx, 'blob');
    req.resume();
    try {
      if (await this.faults.beforeRequest(ctx, 'blob')) return;
      await this.serve(ctx);
    } catch {
      if (res.headersSent) res.destroy();
      else s3Error(ctx, 500, 'InternalError', 'We encountered an internal error. Please try again.');
    }
  }

  private async serve(ctx: Ctx): Promise<void> {
    const { req, url } = ctx;
    const m = /^\/blob\/([^/]+)$/.exec(url.pathname);
    if (!m) return s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return s3Error(ctx, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    const blob = decodeURIComponent(m[1]);
    const q = url.searchParams;
    const filename = q.get('filename');
    const contentType = q.get('contentType');
    const expires = q.get('expires');
    const sig = q.get('sig');
    if (filename === null || contentType === null || expires === null || sig === null) {
      return s3Error(ctx, 403, 'AccessDenied', 'Access Denied');
    }
    const secret = secrets.get(this.config)!;
    const want = Buffer.from(signature(secret, blob, filename, contentType, expires), 'hex');
    const got = Buffer.from(/^[0-9a-f]{64}$/.test(sig) ? sig : '', 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return s3Error(
        ctx,
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
    }
    if (!/^\d+$/.test(expires) || Number(expires) * 1000 <= Date.now()) {
      return s3Error(ctx, 403, 'AccessDenied', 'Request has expired');
    }

    let size: number;
    try {
      size = await this.store.blobs.size(blob);
    } catch {
      return s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
    }
    const headers: Record<string, string | number> = {
      'Accept-Ranges': 'bytes',
      'Content-Type': contentType,
      'Content-Disposition': rfc5987Disposition(filename),
    };
    // Old-server mode is about Dataverse's Access API; S3 always honours ranges.
    const range = parseS3Range(header(req.headers.range), size);
    if (range === 'unsatisfiable') {
      return s3Error(ctx, 416, 'InvalidRange', 'The requested range is not satisfiable', {
        'Content-Range': `bytes */${size}`,
      });
    }
    if (range === undefined) {
      headers['Content-Length'] = size;
      return send(ctx, 200, headers, this.store.blobs.read(blob, 0, size));
    }
    headers['Content-Length'] = range.end - range.start + 1;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    send(ctx, 206, headers, this.store.blobs.read(blob, range.start, range.end + 1));
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
