// Spawns a real `dvfs serve` process for a test and talks to it over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI; DVFS_CLI points elsewhere (parallel builds into .build/<name>). */
export const CLI = process.env.DVFS_CLI ? path.resolve(process.env.DVFS_CLI) : path.join(REPO, 'dist', 'cli', 'main.js');

export interface ServeProcess {
  url: string;
  dataDir: string;
  adminToken: string;
  proc: ChildProcess;
  output(): string;
  /** Stop the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stop and remove the data directory (unless it was given by the caller). */
  dispose(): Promise<void>;
}

export interface ServeOptions {
  args?: string[];
  dataDir?: string;
  /** Wait this long for the "listening" line (the demo seed takes a while). */
  startTimeoutMs?: number;
  /** Remove the data directory on dispose even though the caller gave it (a restart of a test's own server). */
  ownsDataDir?: boolean;
}

export async function startServe(opts: ServeOptions = {}): Promise<ServeProcess> {
  const ownDir = opts.dataDir === undefined || opts.ownsDataDir === true;
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'dvfs-serve-')));
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dvfs serve did not start:\n${out}`)), opts.startTimeoutMs ?? 30_000);
    const check = () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dvfs serve exited with ${code}:\n${out}`));
    });
  });
  const adminToken = (await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return {
    url,
    dataDir,
    adminToken,
    proc,
    output: () => out,
    stop,
    async dispose() {
      await stop();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
