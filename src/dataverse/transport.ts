// HTTP transport to one Dataverse origin: keep-alive pools (undici), the API
// token sent to that origin only, and retries with capped exponential
// back-off for idempotent requests.
import { Agent, type Dispatcher } from 'undici';
import { dispatchGet } from './chunk-body.js';
import { DataverseError, kindForStatus, messageFromBody } from './errors.js';

export interface TransportOptions {
  /** Installation URL, e.g. https://demo.dataverse.org (a path prefix is kept). */
  baseUrl: string;
  /** Returns the current API token (re-read on SIGHUP); undefined = guest. */
  token: () => string | undefined;
  /** Keep-alive connections per origin. */
  connections?: number;
  /** Attempts for idempotent requests (first try included). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest Retry-After honoured. */
  maxRetryAfterMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Called before each retry (for logs and counters). */
  onRetry?: (info: { request: string; attempt: number; delayMs: number; reason: string }) => void;
}

/**
 * A request body. undici's writeIterable asks an async iterable for its next
 * chunk at once when socket.write() returns true, which it does only for a
 * chunk below the socket's high-water mark (16 KiB); a bigger chunk makes it
 * wait for 'drain', i.e. until the socket has written every byte. So an
 * iterable may reuse a buffer for its next chunk only after a chunk of at
 * least 16 KiB (see readPiece in upload-body.ts).
 */
export type RequestBody = Dispatcher.DispatchOptions['body'] | AsyncIterable<Buffer>;

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
}

/** What callers use of a response body: a GET's ChunkBody, or undici's Readable for other requests. */
export interface ResponseBody extends AsyncIterable<Buffer> {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  once(event: 'end', fn: () => void): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  dump(): Promise<void>;
  text(): Promise<string>;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export function isRetryableError(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  return code !== undefined && RETRY_CODES.has(code);
}

/** Errors that retrying does not cure: no such host, no route, a TLS handshake or certificate that fails. */
function isUnreachable(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code ?? '';
  return ['ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) || /SSL|TLS|CERT|UNABLE_TO_VERIFY|SELF_SIGNED/.test(code);
}

export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUS.has(status);
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unparsable. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class Transport {
  readonly base: URL;
  readonly origin: string;
  private readonly agent: Agent;
  private readonly opts: Required<Omit<TransportOptions, 'onRetry'>> & Pick<TransportOptions, 'onRetry'>;

  constructor(options: TransportOptions) {
    this.opts = {
      connections: 16,
      maxAttempts: 6,
      baseDelayMs: 200,
      maxDelayMs: 10_000,
      maxRetryAfterMs: 60_000,
      headersTimeoutMs: 60_000,
      bodyTimeoutMs: 60_000,
      ...options,
    };
    this.base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
    this.origin = this.base.origin;
    this.agent = new Agent({
      connections: this.opts.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: this.opts.headersTimeoutMs,
      bodyTimeout: this.opts.bodyTimeoutMs,
    });
  }

  /** Absolute URL of an API path like `api/v1/info/version`. */
  url(path: string): URL {
    return new URL(path.replace(/^\/+/, ''), this.base);
  }

  /**
   * One HTTP exchange, no retries. The token goes only to the configured
   * origin: a redirect target elsewhere (object storage) never sees it.
   */
  async send(
    method: string,
    url: URL,
    init: { headers?: Record<string, string>; body?: RequestBody; signal?: AbortSignal } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = { 'user-agent': 'dvfs/0.1', ...init.headers };
    if (url.origin === this.origin) {
      const token = this.opts.token();
      if (token) headers['x-dataverse-key'] = token;
    }
    const opts = { origin: url.origin, path: url.pathname + url.search, method: method as Dispatcher.HttpMethod, headers };
    // GETs (every download) through the dispatch handler: a quarter of the CPU of a Readable body.
    // undici sends an async iterable body chunk by chunk (its types do not list it).
    const body = init.body as Dispatcher.DispatchOptions['body'];
    const res = method === 'GET' && body === undefined ? await dispatchGet(this.agent, opts) : await this.agent.request({ ...opts, body, signal: init.signal });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /**
   * An idempotent request with retries on 429/5xx, resets and timeouts,
   * honouring Retry-After. Other statuses are returned to the caller.
   */
  async sendWithRetry(
    method: string,
    url: URL,
    headers: Record<string, string> = {},
  ): Promise<RawResponse> {
    const label = `${method} ${url.pathname}`;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let hinted: number | undefined;
      try {
        const res = await this.send(method, url, { headers });
        if (!isRetryableStatus(res.status)) return res;
        const text = await res.body.text().catch(() => '');
        reason = `HTTP ${res.status}: ${messageFromBody(text)}`;
        hinted = retryAfterMs(res.headers['retry-after']);
        if (attempt >= this.opts.maxAttempts) {
          throw new DataverseError(kindForStatus(res.status, messageFromBody(text)), messageFromBody(text), res.status, label);
        }
      } catch (e) {
        if (e instanceof DataverseError) throw e;
        if (isUnreachable(e)) throw new DataverseError('network', (e as Error).message, undefined, label);
        if (!isRetryableError(e)) throw e;
        reason = (e as Error).message;
        if (attempt >= this.opts.maxAttempts) {
          throw new DataverseError('network', `${reason} after ${attempt} attempts`, undefined, label);
        }
      }
      const delayMs = this.backoff(attempt, hinted);
      this.opts.onRetry?.({ request: label, attempt, delayMs, reason });
      await sleep(delayMs);
    }
  }

  /** Capped exponential back-off with full jitter; Retry-After wins when given. */
  backoff(attempt: number, retryAfter?: number): number {
    if (retryAfter !== undefined) return Math.min(retryAfter, this.opts.maxRetryAfterMs);
    const cap = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  get maxAttempts(): number {
    return this.opts.maxAttempts;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
