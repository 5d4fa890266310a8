// The request log tests read (through the control endpoint) to count and
// inspect requests: method, path, range, status, bytes, whether a token was sent.
import type { Ctx } from './http.js';

export interface RequestLogEntry {
  seq: number;
  time: string;
  origin: 'api' | 'blob';
  method: string;
  /** Path and query, with any key= parameter value masked. */
  path: string;
  range?: string;
  status?: number;
  /** Response body bytes handed to the socket (counted by send()). */
  bytes: number;
  tokenSent: boolean;
  ms?: number;
}

const MAX_ENTRIES = 200_000;

export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;

  begin(ctx: Pick<Ctx, 'req' | 'res' | 'url' | 'tokenSent'>, origin: 'api' | 'blob'): RequestLogEntry {
    const { req, res, url } = ctx;
    const query = new URLSearchParams(url.search);
    if (query.has('key')) query.set('key', '***');
    const q = query.toString();
    const entry: RequestLogEntry = {
      seq: ++this.seq,
      time: new Date().toISOString(),
      origin,
      method: req.method ?? 'GET',
      path: url.pathname + (q ? `?${q}` : ''),
      range: typeof req.headers.range === 'string' ? req.headers.range : undefined,
      tokenSent: ctx.tokenSent,
      bytes: 0,
    };
    const started = Date.now();
    const done = () => {
      if (entry.status !== undefined) return;
      entry.status = res.statusCode;
      entry.ms = Date.now() - started;
    };
    res.on('finish', done);
    res.on('close', done);
    this.entries.push(entry);
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    return entry;
  }

  /** Entries with seq greater than `since`. */
  list(since = 0): RequestLogEntry[] {
    return this.entries.filter((e) => e.seq > since);
  }

  lastSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
  }
}
