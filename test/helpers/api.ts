// A small HTTP client for tests: raw responses, so tests can check status
// codes, headers and bodies exactly as the server sent them.
export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface RequestOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  redirect?: RequestRedirect;
}

export class Api {
  constructor(
    readonly base: string,
    readonly token?: string,
  ) {}

  as(token: string | undefined): Api {
    return new Api(this.base, token);
  }

  async request(path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token ?? this.token;
    if (token !== undefined) headers['X-Dataverse-key'] = token;
    const res = await fetch(path.startsWith('http') ? path : `${this.base}${path}`, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body,
      redirect: opts.redirect ?? 'manual',
    });
    const body = Buffer.from(await res.arrayBuffer());
    const text = body.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body, text, json };
  }

  get(path: string, opts: RequestOptions = {}) {
    return this.request(path, { ...opts, method: 'GET' });
  }
  delete(path: string, opts: RequestOptions = {}) {
    return this.request(path, { ...opts, method: 'DELETE' });
  }
  post(path: string, body?: unknown, opts: RequestOptions = {}) {
    const isRaw = typeof body === 'string' || body instanceof FormData || body instanceof Uint8Array;
    return this.request(path, {
      ...opts,
      method: 'POST',
      body: body === undefined ? undefined : isRaw ? (body as BodyInit) : JSON.stringify(body),
      headers: { ...(isRaw || body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(opts.headers ?? {}) },
    });
  }
  put(path: string, body?: unknown, opts: RequestOptions = {}) {
    const isRaw = typeof body === 'string' || body instanceof Uint8Array;
    return this.request(path, {
      ...opts,
      method: 'PUT',
      body: body === undefined ? undefined : isRaw ? (body as BodyInit) : JSON.stringify(body),
    });
  }
}
