// Routing, the request context and the response envelopes of the
// Dataverse-compatible server (dataverse-api-notes.md §0–§1).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Store } from './store.js';
import type { UserRec } from './model.js';
import type { ServerConfig } from './config.js';
import type { RequestLogEntry } from './request-log.js';

export const GENERIC_403 =
  'Not authorized to access this object via this API endpoint. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.';
export const GENERIC_404 =
  'API endpoint does not exist on this server. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.';
export const GENERIC_405 =
  'API endpoint does not support this method. Consult our API guide at http://guides.dataverse.org.';

/** A failure that becomes an HTTP response. `body` is sent as JSON unless `text` is set. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
  }
}

/** Standard error envelope: {"status":"ERROR","message":...}. */
export function apiError(status: number, message: string): ApiError {
  return new ApiError(status, { status: 'ERROR', message });
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The path after /api or /api/v1, without a leading slash. */
  apiPath: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The caller; undefined is the guest. */
  user?: UserRec;
  /** Whether the request carried an API token (header or key=). */
  tokenSent: boolean;
  store: Store;
  config: ServerConfig;
  /** This request's entry in the request log. */
  logEntry?: RequestLogEntry;
}

/** Errors raised by JAX-RS exceptions (notes §1.2): code, message, requestUrl, requestMethod. */
export function jaxrsError(ctx: Ctx, status: number, message?: string): ApiError {
  const fixed: Record<number, string> = { 403: GENERIC_403, 404: GENERIC_404, 405: GENERIC_405 };
  const msg = message ?? fixed[status] ?? 'Bad Request.';
  const body: Record<string, unknown> = { status: 'ERROR', code: status, message: msg };
  // A message starting with "datafile" (any case) is passed through and requestUrl is omitted.
  if (!msg.toLowerCase().startsWith('datafile')) {
    body.requestUrl = `${ctx.config.publicUrl}${ctx.url.pathname}${ctx.url.search}`;
    body.requestMethod = ctx.req.method;
  }
  return new ApiError(status, body);
}

export function internalError(): ApiError {
  return new ApiError(500, {
    status: 'ERROR',
    code: 500,
    message: 'Internal server error. More details available at the server logs.',
    incidentId: randomUUID(),
  });
}

// --- responses ---

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  send(ctx, status, { 'Content-Type': 'application/json', ...headers }, data);
}

/** {"status":"OK","data":...} with optional totalCount/message before data. */
export function ok(ctx: Ctx, data: unknown, extra: { message?: unknown; totalCount?: number } = {}): void {
  const body: Record<string, unknown> = { status: 'OK' };
  if (extra.message !== undefined) body.message = extra.message;
  if (extra.totalCount !== undefined) body.totalCount = extra.totalCount;
  body.data = data;
  sendJson(ctx, 200, body);
}

/** ok(String msg): {"status":"OK","data":{"message":...}}. */
export function okMessage(ctx: Ctx, message: string): void {
  ok(ctx, { message });
}

export function created(ctx: Ctx, location: string, data: unknown): void {
  sendJson(ctx, 201, { status: 'OK', data }, { Location: location });
}

export function sendText(ctx: Ctx, status: number, text: string, contentType = 'text/plain'): void {
  send(ctx, status, { 'Content-Type': contentType }, Buffer.from(text));
}

/**
 * Send a response. Bodies pass through the shaping hooks (bandwidth cap,
 * resets, stalls) so every response is subject to the configured faults.
 */
export function send(
  ctx: Ctx,
  status: number,
  headers: Record<string, string | number>,
  body: Buffer | Readable | null,
): void {
  const { res } = ctx;
  if (Buffer.isBuffer(body) && headers['Content-Length'] === undefined) headers['Content-Length'] = body.length;
  res.writeHead(status, headers);
  if (body === null || ctx.req.method === 'HEAD') {
    if (body instanceof Readable) body.destroy();
    res.end();
    return;
  }
  const stream = ctx.config.shaping.wrapBody(ctx, Buffer.isBuffer(body) ? Readable.from([body]) : body);
  const entry = ctx.logEntry;
  if (entry) stream.on('data', (c: Buffer) => (entry.bytes += c.length));
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

// --- request bodies ---

export async function readBody(ctx: Ctx, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw apiError(413, 'Request body too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

export async function readJson<T = unknown>(ctx: Ctx, errorMessage = 'Error parsing Json: invalid JSON'): Promise<T> {
  const text = (await readBody(ctx)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw apiError(400, errorMessage);
  }
}

// --- routing ---

export type Handler = (ctx: Ctx) => Promise<void> | void;

export interface Route {
  method: string;
  /**
   * Segments after /api/v1; ':name' captures one segment, '*name' the rest of
   * the path, '=:me' is the literal segment ':me'.
   */
  pattern: string;
  handler: Handler;
  /** false for endpoints that are not @AuthRequired (a bad token is ignored). */
  auth?: boolean;
}

export class Router {
  private routes: { route: Route; segs: string[] }[] = [];

  add(method: string, pattern: string, handler: Handler, opts: { auth?: boolean } = {}): void {
    this.routes.push({ route: { method, pattern, handler, ...opts }, segs: pattern.split('/') });
  }
  get(p: string, h: Handler, o?: { auth?: boolean }): void {
    this.add('GET', p, h, o);
  }
  post(p: string, h: Handler, o?: { auth?: boolean }): void {
    this.add('POST', p, h, o);
  }
  put(p: string, h: Handler, o?: { auth?: boolean }): void {
    this.add('PUT', p, h, o);
  }
  delete(p: string, h: Handler, o?: { auth?: boolean }): void {
    this.add('DELETE', p, h, o);
  }

  /** Find the route for a method and path; `methodMismatch` when only the method is wrong. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | 'methodMismatch' | undefined {
    const segs = path.split('/').map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
    let pathMatched = false;
    const m = method === 'HEAD' ? 'GET' : method;
    for (const { route, segs: pat } of this.routes) {
      const params = matchSegments(pat, segs);
      if (!params) continue;
      if (route.method === m) return { route, params };
      pathMatched = true;
    }
    return pathMatched ? 'methodMismatch' : undefined;
  }
}

function matchSegments(pat: string[], segs: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i];
    if (p.startsWith('*')) {
      if (i >= segs.length) return undefined;
      params[p.slice(1)] = segs.slice(i).join('/');
      return params;
    }
    if (i >= segs.length) return undefined;
    if (p.startsWith('=')) {
      if (p.slice(1) !== segs[i]) return undefined;
    } else if (p.startsWith(':')) {
      if (segs[i] === '') return undefined;
      params[p.slice(1)] = segs[i];
    } else if (p !== segs[i]) return undefined;
  }
  return pat.length === segs.length ? params : undefined;
}
