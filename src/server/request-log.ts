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
  /** Set when the response ended; 499 (nginx's "client closed request") when the connection closed before any answer. */
  status?: number;
  /** The connection closed before the response was complete (the client gave up, or cut its request body short). */
  aborted?: boolean;
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
    // Tokens never enter the log: key= (API token) and token= (signed URLs) are masked,
    // and no header is kept beyond Range.
    const query = new URLSearchParams(url.search);
    for (const secret of ['key', 'token']) if (query.has(secret)) query.set(secret, '***');
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
      entry.status = res.headersSent || res.writableFinished ? res.statusCode : 499;
      if (!res.writableFinished) entry.aborted = true;
      entry.ms = Date.now() - started;
    };
    res.on('finish', done);
    res.on('close', done);
    this.entries.push(entry);
    // Trim in batches so a long run does not shift the whole array on every request.
    if (this.entries.length > MAX_ENTRIES * 1.1) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    return entry;
  }

  /** Entries with seq greater than `since` (oldest first). */
  list(since = 0): RequestLogEntry[] {
    // Entries are in seq order: find the first newer one from the end.
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1].seq > since) i--;
    return this.entries.slice(i);
  }

  lastSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
  }
}
