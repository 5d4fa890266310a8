// Every Native/Access API call dvfs makes, typed. Paths, inodes and FUSE are
// not known here (design.md: dataverse/ layer).
import PQueue from 'p-queue';
import { DataverseError, kindForStatus, messageFromBody } from './errors.js';
import { isRetryableError, sleep, Transport, type RawResponse, type TransportOptions } from './transport.js';
import type {
  CollectionInfo,
  ContentsEntry,
  DatasetInfo,
  FileMetadataInfo,
  LockInfo,
  UserInfo,
  VersionInfo,
} from './types.js';

export interface ClientOptions extends TransportOptions {
  /** Concurrent metadata (JSON) requests. */
  apiConcurrency?: number;
  /** Page size for versions/{v}/files. */
  filesPageSize?: number;
  /** How long a redirect target (signed URL) is reused before asking the API again. */
  redirectTtlMs?: number;
}

export interface ServerVersion {
  version: string;
  major: number;
  minor: number;
}

export interface DatasetPermissions {
  canViewUnpublishedDataset?: boolean;
  canEditDataset?: boolean;
  canPublishDataset?: boolean;
  canManageDatasetPermissions?: boolean;
  canDeleteDatasetDraft?: boolean;
}

interface Redirect {
  url: URL;
  until: number;
}

/** A byte range [start, end) of a file; `query` picks the Access API variant (e.g. format=original). */
export interface RangeRequest {
  fileId: number;
  query?: string;
  start: number;
  end: number;
}

export class DataverseClient {
  readonly transport: Transport;
  private readonly api: PQueue;
  private readonly pageSize: number;
  private readonly redirectTtlMs: number;
  private readonly redirects = new Map<string, Redirect>();
  private serverVersion?: ServerVersion;
  /** False once the server answered a Range request with 200 (Dataverse before 5.12 behaves so). */
  rangeSupported = true;
  /** Counters for `dvfs status` and benchmarks. */
  readonly stats = { apiRequests: 0, rangeRequests: 0, zipRequests: 0, bytesRead: 0, retries: 0, redirects: 0 };

  constructor(options: ClientOptions) {
    this.transport = new Transport({
      ...options,
      onRetry: (info) => {
        this.stats.retries++;
        options.onRetry?.(info);
      },
    });
    this.api = new PQueue({ concurrency: options.apiConcurrency ?? 8 });
    this.pageSize = options.filesPageSize ?? 1000;
    this.redirectTtlMs = options.redirectTtlMs ?? 5 * 60_000;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  // --- JSON calls ---

  /** GET an API path and return `data` of the {"status":"OK"} envelope (or the whole body if there is none). */
  async getJson<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<{ data: T; totalCount?: number }> {
    const url = this.transport.url(`api/v1/${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return this.api.add(async () => {
      this.stats.apiRequests++;
      const res = await this.transport.sendWithRetry('GET', url, { accept: 'application/json' });
      const text = await res.body.text();
      if (res.status < 200 || res.status >= 300) throw errorFrom(res.status, text, `GET ${url.pathname}`);
      let body: { status?: string; data?: T; totalCount?: number };
      try {
        body = JSON.parse(text);
      } catch {
        throw new DataverseError('protocol', `not JSON: ${text.slice(0, 200)}`, res.status, `GET ${url.pathname}`);
      }
      return body.status === 'OK' ? { data: body.data as T, totalCount: body.totalCount } : { data: body as T };
    }) as Promise<{ data: T; totalCount?: number }>;
  }

  async version(): Promise<ServerVersion> {
    if (this.serverVersion) return this.serverVersion;
    const { data } = await this.getJson<{ version: string }>('info/version');
    const [major, minor] = data.version.split('.').map((x) => parseInt(x, 10));
    this.serverVersion = { version: data.version, major: major || 0, minor: minor || 0 };
    return this.serverVersion;
  }

  async me(): Promise<UserInfo> {
    return (await this.getJson<UserInfo>('users/:me')).data;
  }

  /** When the caller's token expires, from GET /api/users/token ("Token … expires on 2027-01-01 10:00:00.0"). */
  async tokenExpiry(): Promise<Date | undefined> {
    const { data } = await this.getJson<{ message: string }>('users/token');
    const m = /expires on (\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(data.message ?? '');
    return m ? new Date(`${m[1]}T${m[2]}Z`) : undefined;
  }

  async collection(idOrAlias: string | number): Promise<CollectionInfo> {
    return (await this.getJson<CollectionInfo>(`dataverses/${encodeURIComponent(String(idOrAlias))}`)).data;
  }

  async contents(idOrAlias: string | number): Promise<ContentsEntry[]> {
    return (await this.getJson<ContentsEntry[]>(`dataverses/${encodeURIComponent(String(idOrAlias))}/contents`)).data;
  }

  /** A dataset by database id or PID ("doi:10.5072/FK2/ABC"). */
  async dataset(idOrPid: number | string): Promise<DatasetInfo> {
    if (typeof idOrPid === 'number' || /^\d+$/.test(idOrPid)) {
      return (await this.getJson<DatasetInfo>(`datasets/${idOrPid}`)).data;
    }
    return (await this.getJson<DatasetInfo>('datasets/:persistentId/', { persistentId: idOrPid })).data;
  }

  /** Versions visible to the caller, newest first, without files. */
  async versions(datasetId: number): Promise<VersionInfo[]> {
    return (await this.getJson<VersionInfo[]>(`datasets/${datasetId}/versions`, { excludeFiles: true })).data;
  }

  async versionInfo(datasetId: number, version: string): Promise<VersionInfo> {
    return (await this.getJson<VersionInfo>(`datasets/${datasetId}/versions/${version}`, { excludeFiles: true })).data;
  }

  /**
   * All files of a version, page by page (limit/offset since 6.1; before
   * that the server sends everything at once and ignores the parameters).
   */
  async versionFiles(datasetId: number, version: string): Promise<FileMetadataInfo[]> {
    const all: FileMetadataInfo[] = [];
    const v = await this.version();
    const paged = v.major > 6 || (v.major === 6 && v.minor >= 1);
    for (let offset = 0; ; ) {
      const { data, totalCount } = await this.getJson<FileMetadataInfo[]>(
        `datasets/${datasetId}/versions/${version}/files`,
        paged ? { limit: this.pageSize, offset } : {},
      );
      all.push(...data);
      offset += data.length;
      const done = !paged || data.length < this.pageSize || data.length > this.pageSize || (totalCount !== undefined && offset >= totalCount);
      if (done || data.length === 0) return all;
    }
  }

  /** What the caller may do with a dataset (GET /api/datasets/{id}/userPermissions). */
  async userPermissions(datasetId: number): Promise<DatasetPermissions> {
    return (await this.getJson<DatasetPermissions>(`datasets/${datasetId}/userPermissions`)).data;
  }

  async locks(datasetId: number): Promise<LockInfo[]> {
    return (await this.getJson<LockInfo[]>(`datasets/${datasetId}/locks`)).data;
  }

  // --- file bytes ---

  /**
   * The whole body of a small generated download (DDI, thumbnails, bundles,
   * subsets, zips…), for variants whose size the listing does not tell.
   * Refuses bodies over `maxBytes`. A redirect (an external zipper, object
   * storage) is followed; another origin never gets the token. `once`: no
   * retries; `counter`: the request's line in the stats.
   */
  async getBytes(
    path: string,
    query = '',
    { maxBytes = 256 * 1024 * 1024, once = false, counter = 'apiRequests' }: { maxBytes?: number; once?: boolean; counter?: 'apiRequests' | 'zipRequests' } = {},
  ): Promise<Buffer> {
    const url = this.transport.url(`api/v1/${path}`);
    if (query) url.search = query;
    const get = (u: URL) => (once ? this.transport.send('GET', u) : this.transport.sendWithRetry('GET', u));
    let res = await get(url);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      await res.body.dump();
      res = await get(new URL(String(res.headers.location), url));
    }
    if (res.status !== 200) throw errorFrom(res.status, await res.body.text().catch(() => ''), `GET ${url.pathname}`);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new DataverseError('protocol', `download larger than ${maxBytes} bytes`, 200, `GET ${url.pathname}`);
      }
      parts.push(chunk);
    }
    this.stats[counter]++;
    return Buffer.concat(parts);
  }

  /**
   * A zip of several files of one dataset (`GET /api/access/datafiles/{ids}`,
   * dataverse-api-notes.md §5.6), whole. The server leaves out files the
   * caller may not read or that exceed its zip size limit (naming them in
   * MANIFEST.TXT): the caller fetches what the zip did not bring one by one.
   * One attempt: readers wait for the files of a zip, and whatever it misses
   * is fetched alone anyway.
   */
  async downloadZip(fileIds: number[], query: string, maxBytes: number): Promise<Buffer> {
    const zip = await this.getBytes(`access/datafiles/${fileIds.join(',')}`, query, { maxBytes, once: true, counter: 'zipRequests' });
    this.stats.bytesRead += zip.length;
    return zip;
  }

  /** The full size of a file variant, from the Content-Range of a 1-byte range request. */
  async probeSize(fileId: number, query = ''): Promise<number> {
    const res = await this.fetchRange({ fileId, query, start: 0, end: 1 }, 0, 1);
    if (res.status === 206) {
      await res.body.dump();
      const cr = parseContentRange(res.headers['content-range']);
      if (cr?.total !== undefined) return cr.total;
    } else if (res.status === 200) {
      const len = Number(res.headers['content-length']);
      res.body.destroy();
      if (Number.isFinite(len)) return len;
    } else {
      throw errorFrom(res.status, await res.body.text().catch(() => ''), `GET /api/v1/access/datafile/${fileId}`);
    }
    throw new DataverseError('protocol', 'the server did not tell the size', res.status, `GET /api/v1/access/datafile/${fileId}`);
  }

  /**
   * Bytes [start, end) of a file. Copes with: 206 (validated Content-Range),
   * 200 to a Range request (old servers: read from 0 and keep the slice),
   * 303 to another origin (followed without the token; the target is reused
   * until it fails, then re-resolved through the API), resets mid-body
   * (resumed from the last byte received).
   */
  async readRange(req: RangeRequest): Promise<Buffer> {
    const length = req.end - req.start;
    const out = Buffer.allocUnsafe(length);
    let got = 0;
    let failures = 0;
    const label = `GET /api/v1/access/datafile/${req.fileId}`;
    while (got < length) {
      const from = req.start + got;
      try {
        const res = await this.fetchRange(req, from, req.end);
        got += await this.consumeRange(res, req, from, out, got, label);
      } catch (e) {
        if (e instanceof DataverseError) throw e;
        if (!isRetryableError(e) && !(e instanceof ShortBody)) throw e;
        if (++failures >= this.transport.maxAttempts) {
          throw new DataverseError('network', `${(e as Error).message} after ${failures} attempts`, undefined, label);
        }
        this.stats.retries++;
        await sleep(this.transport.backoff(failures));
      }
    }
    this.stats.bytesRead += length;
    return out;
  }

  /**
   * Streams bytes [start, end) of a file to `onData` as they arrive, without
   * buffering the range (added for the block cache: it fills blocks as data
   * passes, and on an old server it reads a whole file in one pass).
   * Same redirect, retry and resume handling as readRange; each byte is
   * delivered once, in order, with its file position. A 200 answer to the
   * Range header (old servers) is skipped up to the current position.
   * `onData` may return a promise (back-pressure: the body is not read
   * meanwhile) or `false` to stop early.
   */
  async streamRange(
    req: RangeRequest,
    onData: (chunk: Buffer, position: number) => void | boolean | Promise<void | boolean>,
  ): Promise<void> {
    let pos = req.start;
    let failures = 0;
    const label = `GET /api/v1/access/datafile/${req.fileId}`;
    while (pos < req.end) {
      try {
        const res = await this.fetchRange(req, pos, req.end);
        const r = await this.consumeStream(res, req, pos, onData, label);
        pos += r.n;
        this.stats.bytesRead += r.n;
        if (r.stopped) return;
      } catch (e) {
        if (e instanceof StreamProgress) {
          // The body broke after some bytes: keep them, resume from there.
          pos += e.n;
          this.stats.bytesRead += e.n;
          continue;
        }
        if (e instanceof DataverseError) throw e;
        if (!isRetryableError(e) && !(e instanceof ShortBody)) throw e;
        if (++failures >= this.transport.maxAttempts) {
          throw new DataverseError('network', `${(e as Error).message} after ${failures} attempts`, undefined, label);
        }
        this.stats.retries++;
        await sleep(this.transport.backoff(failures));
      }
    }
  }

  /** Deliver the answer for [from, end) to onData; `n` bytes were delivered. */
  private async consumeStream(
    res: RawResponse,
    req: RangeRequest,
    from: number,
    onData: (chunk: Buffer, position: number) => void | boolean | Promise<void | boolean>,
    label: string,
  ): Promise<{ n: number; stopped: boolean }> {
    const want = req.end - from;
    let skip: number;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers['content-range']);
      if (!cr || cr.start !== from || cr.end < from) {
        await res.body.dump();
        throw new DataverseError('protocol', `bad Content-Range '${res.headers['content-range']}' for bytes=${from}-`, 206, label);
      }
      if (cr.end + 1 < req.end) {
        res.body.destroy();
        throw new DataverseError('protocol', `range ended at ${cr.end + 1}, before ${req.end} (file shorter than expected)`, 206, label);
      }
      skip = 0;
    } else if (res.status === 200) {
      this.rangeSupported = false;
      skip = from;
    } else {
      const text = await res.body.text().catch(() => '');
      throw errorFrom(res.status, text, label);
    }
    // 'data' events rather than for-await: async iteration costs a promise
    // per 64 KiB chunk and halves the throughput on loopback.
    const body = res.body;
    const r = await new Promise<{ n: number; stopped: boolean; error?: unknown }>((resolve) => {
      let n = 0;
      let done = false;
      const finish = (stopped: boolean, error?: unknown) => {
        if (done) return;
        done = true;
        body.off('data', onChunk);
        resolve({ n, stopped, error });
      };
      const onChunk = (raw: Buffer) => {
        if (done) return;
        let chunk = raw;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            return;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (chunk.length > want - n) chunk = chunk.subarray(0, want - n);
        const at = from + n;
        n += chunk.length;
        let ret: void | boolean | Promise<void | boolean>;
        try {
          ret = onData(chunk, at);
        } catch (e) {
          return finish(false, e);
        }
        if (ret === false) return finish(true);
        if (ret instanceof Promise) {
          body.pause();
          ret.then(
            (v) => {
              if (v === false) finish(true);
              else if (n >= want) finish(false);
              else if (!done) body.resume();
            },
            (e: unknown) => finish(false, e),
          );
          return;
        }
        if (n >= want) finish(false);
      };
      body.on('data', onChunk);
      body.once('end', () => finish(false));
      body.once('error', (e: unknown) => finish(false, e));
    });
    if (r.stopped || r.n >= want || res.status === 200 || r.error) body.destroy();
    if (r.error !== undefined) {
      if (r.n > 0 && isRetryableError(r.error)) throw new StreamProgress(r.n);
      throw r.error;
    }
    if (!r.stopped && r.n < want) {
      if (r.n > 0) throw new StreamProgress(r.n);
      throw new ShortBody();
    }
    return { n: r.n, stopped: r.stopped };
  }

  /** Send the range request, following a redirect to the blob origin. */
  private async fetchRange(req: RangeRequest, from: number, end: number): Promise<RawResponse> {
    const key = `${req.fileId}?${req.query ?? ''}`;
    const headers = { range: `bytes=${from}-${end - 1}` };
    this.stats.rangeRequests++;
    const cached = this.redirects.get(key);
    if (cached && cached.until > Date.now()) {
      const res = await this.transport.sendWithRetry('GET', cached.url, headers);
      if (res.status < 300) return res;
      // Expired or revoked signed URL: forget it and ask the API again.
      await res.body.dump();
      this.redirects.delete(key);
    }
    const url = this.transport.url(`api/v1/access/datafile/${req.fileId}`);
    if (req.query) url.search = req.query;
    const res = await this.transport.sendWithRetry('GET', url, headers);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      await res.body.dump();
      const target = new URL(String(res.headers.location), url);
      this.redirects.set(key, { url: target, until: Date.now() + this.redirectTtlMs });
      this.stats.redirects++;
      return this.transport.sendWithRetry('GET', target, headers);
    }
    return res;
  }

  /** Copy the answer for [from, end) into out[at…]; returns the bytes copied. */
  private async consumeRange(
    res: RawResponse,
    req: RangeRequest,
    from: number,
    out: Buffer,
    at: number,
    label: string,
  ): Promise<number> {
    const want = req.end - from;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers['content-range']);
      if (!cr || cr.start !== from || cr.end < from) {
        await res.body.dump();
        throw new DataverseError('protocol', `bad Content-Range '${res.headers['content-range']}' for bytes=${from}-`, 206, label);
      }
      let n = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          const take = Math.min(chunk.length, want - n);
          chunk.copy(out, at + n, 0, take);
          n += take;
          if (n >= want) break;
        }
      } catch (e) {
        if (n > 0) return n; // keep what arrived; the caller resumes
        throw e;
      }
      if (n < want && cr.end + 1 < req.end) {
        throw new DataverseError('protocol', `range ended at ${cr.end + 1}, before ${req.end} (file shorter than expected)`, 206, label);
      }
      if (n < want) {
        if (n > 0) return n;
        throw new ShortBody();
      }
      return n;
    }
    if (res.status === 200) {
      // The server ignored Range: skip to `from`, keep [from, end).
      this.rangeSupported = false;
      let pos = 0;
      let n = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          const cStart = pos;
          pos += chunk.length;
          if (pos <= from) continue;
          const s = Math.max(0, from - cStart);
          const take = Math.min(chunk.length - s, want - n);
          chunk.copy(out, at + n, s, s + take);
          n += take;
          if (n >= want) break;
        }
      } finally {
        res.body.destroy();
      }
      if (n < want) {
        if (n > 0) return n;
        throw new ShortBody();
      }
      return n;
    }
    const text = await res.body.text().catch(() => '');
    throw errorFrom(res.status, text, label);
  }
}

class ShortBody extends Error {
  constructor() {
    super('response body ended early');
  }
}

/** streamRange: the body broke after `n` bytes were delivered (they count; resume after them). */
class StreamProgress extends Error {
  constructor(readonly n: number) {
    super(`response body broke after ${n} bytes`);
  }
}

export function parseContentRange(h: string | string[] | undefined): { start: number; end: number; total?: number } | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

export function errorFrom(status: number, body: string, request: string): DataverseError {
  const message = messageFromBody(body);
  return new DataverseError(kindForStatus(status, message), message, status, request);
}
