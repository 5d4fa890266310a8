// The mount process's control channel: HTTP on a unix socket next to its
// runtime file (mode 0600, in the 0700 cache directory), for `dvfs status`,
// `dvfs sync`, `dvfs publish` and `dvfs unmount`. No child process, no TCP
// port, and nothing it answers ever holds the token.
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import type { CacheStats } from '../cache/types.js';
import type { Counters, PendingItem } from '../write/index.js';

export interface StatusItem extends PendingItem {
  /** The file's path in the mount, when its dataset folder was seen. */
  mountPath?: string;
}

export interface StatusReport {
  mountpoint: string;
  server: string;
  pid: number;
  /** Unmounting: the process is waiting for uploads before it exits. */
  closing: boolean;
  writes?: {
    pending: StatusItem[];
    failed: StatusItem[];
    bytesPending: number;
    counters: Counters;
    quietSeconds: number;
  };
  cache: CacheStats & { maxBytes: number; dir: string };
  requests: { apiRequests: number; rangeRequests: number; zipRequests: number; bytesRead: number; retries: number; redirects: number };
}

export interface SyncReport {
  failed: StatusItem[];
  pending: StatusItem[];
}

export interface PublishReport {
  pid: string;
  version: string;
}

export interface ControlHandlers {
  status(): StatusReport;
  sync(): Promise<SyncReport>;
  publish(path: string, type: 'major' | 'minor'): Promise<PublishReport>;
  unmount(force: boolean): void;
}

/** An error the client shows as it is (a sentence for the user). */
export class ControlError extends Error {}

async function body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startControlServer(socket: string, handlers: ControlHandlers, log: (line: string) => void): Promise<{ close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    void (async () => {
      try {
        const route = `${req.method} ${req.url}`;
        if (route === 'GET /status') return reply(200, handlers.status());
        if (route === 'POST /sync') return reply(200, await handlers.sync());
        if (route === 'POST /publish') {
          const b = await body(req);
          const type = b.type === 'minor' ? 'minor' : 'major';
          return reply(200, await handlers.publish(String(b.path ?? '/'), type));
        }
        if (route === 'POST /unmount') {
          const b = await body(req);
          reply(202, { ok: true });
          return handlers.unmount(b.force === true);
        }
        reply(404, { error: `unknown request ${route}` });
      } catch (e) {
        if (!(e instanceof ControlError)) log(`control ${req.method} ${req.url}: ${(e as Error).message}`);
        if (!res.headersSent) reply(400, { error: (e as Error).message });
      }
    })();
  });
  // A sync or publish takes as long as it takes.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 1000;
  await rm(socket, { force: true }); // left by a process that died
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  await chmod(socket, 0o600);
  return {
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socket, { force: true });
    },
  };
}
