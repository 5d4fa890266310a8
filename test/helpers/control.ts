// The control endpoint of `dvfs serve` (faults, request log, injected locks)
// and a raw HTTP GET that reports exactly what arrived before an error.
import http from 'node:http';
import { Api } from './api.js';

export interface LogEntry {
  seq: number;
  origin: 'api' | 'blob';
  method: string;
  path: string;
  range?: string;
  status?: number;
  aborted?: boolean;
  bytes: number;
  tokenSent: boolean;
  ms?: number;
}

export class Control {
  private readonly api: Api;
  constructor(base: string) {
    this.api = new Api(base);
  }

  async faults(): Promise<Record<string, unknown>> {
    const r = await this.api.get('/api/control/faults');
    if (r.status !== 200) throw new Error(`GET faults: ${r.status} ${r.text}`);
    return r.json.data;
  }
  async setFaults(settings: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.api.post('/api/control/faults', settings);
    if (r.status !== 200) throw new Error(`POST faults: ${r.status} ${r.text}`);
    return r.json.data;
  }
  async resetFaults(): Promise<void> {
    const r = await this.api.delete('/api/control/faults');
    if (r.status !== 200) throw new Error(`DELETE faults: ${r.status} ${r.text}`);
  }
  async requests(since = 0): Promise<{ last: number; entries: LogEntry[] }> {
    const r = await this.api.get(`/api/control/requests?since=${since}`);
    if (r.status !== 200) throw new Error(`GET requests: ${r.status} ${r.text}`);
    return r.json.data;
  }
  /** The sequence number of the newest log entry (use as `since` for what follows). */
  async mark(): Promise<number> {
    return (await this.requests(Number.MAX_SAFE_INTEGER)).last;
  }
  async clearRequests(): Promise<void> {
    const r = await this.api.delete('/api/control/requests');
    if (r.status !== 200) throw new Error(`DELETE requests: ${r.status} ${r.text}`);
  }
  async lock(datasetId: number, type: string, seconds: number): Promise<void> {
    const r = await this.api.post(`/api/control/locks/${datasetId}?type=${type}&seconds=${seconds}`);
    if (r.status !== 200) throw new Error(`POST lock: ${r.status} ${r.text}`);
  }
}

export interface RawGet {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the connection failed before the body was complete. */
  error?: Error;
  ms: number;
}

/** GET over a fresh connection; resolves (never rejects) with what arrived, plus the error if the body was cut. */
export function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawGet> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let error: Error | undefined;
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', (e) => (error = e));
      res.on('close', () => {
        if (!res.complete && !error) error = new Error('connection closed before the body was complete');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), error, ms: performance.now() - started });
      });
    });
    req.on('error', reject);
  });
}
