// The CLI side of the control channel (control-server.ts): find the mount a
// path belongs to through its runtime file, and talk to its process.
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { isRunning, registryDir, runtimeFile } from './runtime.js';

/** What a mount process writes next to its socket (never the token). */
export interface Runtime {
  pid: number;
  mountpoint: string;
  server: string;
  socket?: string;
  /** processStart() of the mount process: a pid reused by another process does not match. */
  started?: string;
}

async function readRuntimeFile(file: string): Promise<Runtime | undefined> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as Runtime;
    return isRunning(r.pid, r.started) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The live mount process of a mount point, if any. */
export function runtimeOf(mnt: string): Promise<Runtime | undefined> {
  return readRuntimeFile(runtimeFile(mnt));
}

/** Every live mount of this user. */
export async function listMounts(): Promise<Runtime[]> {
  const dir = registryDir();
  const names = await readdir(dir).catch(() => [] as string[]);
  const found = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readRuntimeFile(path.join(dir, n))));
  return found.filter((r): r is Runtime => r !== undefined);
}

/** The mount a path is in (the path itself or an ancestor is a mount point), and the path inside it ("/lab/…"). */
export async function mountOf(p: string): Promise<{ runtime: Runtime; inside: string } | undefined> {
  const abs = path.resolve(p);
  for (let dir = abs; ; dir = path.dirname(dir)) {
    const runtime = await runtimeOf(dir);
    if (runtime) return { runtime, inside: '/' + path.relative(dir, abs).split(path.sep).filter(Boolean).join('/') };
    if (dir === path.dirname(dir)) return undefined;
  }
}

/** One request to a mount process; rejects with the process's own message on an error answer. */
export function callMount<T>(runtime: Runtime, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  if (!runtime.socket) return Promise.reject(new Error(`the dvfs process ${runtime.pid} has no control channel (an older version?)`));
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = http.request(
      { socketPath: runtime.socket, method, path: route, headers: data ? { 'content-type': 'application/json' } : {} },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          let value: unknown;
          try {
            value = JSON.parse(Buffer.concat(parts).toString('utf8'));
          } catch {
            return reject(new Error(`the dvfs process ${runtime.pid} answered ${res.statusCode} without JSON`));
          }
          if ((res.statusCode ?? 500) >= 400) reject(new Error((value as { error?: string }).error ?? `HTTP ${res.statusCode}`));
          else resolve(value as T);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
