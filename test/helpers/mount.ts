// Runs a real `dvfs mount` process for a test; unmounts in every case.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './serve.js';

export interface MountProcess {
  mountpoint: string;
  cacheDir: string;
  proc: ChildProcess;
  output(): string;
  /** Ctrl-C: SIGINT and wait for the process to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stop, make sure nothing stays mounted, remove temp dirs. */
  dispose(): Promise<void>;
}

export interface MountOptions {
  token?: string;
  args?: string[];
  mountpoint?: string;
  cacheDir?: string;
  /** Resolve when the process exits instead of when it mounts (for failing mounts). */
  expectExit?: boolean;
}

export function isMounted(mnt: string): boolean {
  return execFileSync('cat', ['/proc/mounts']).toString().split('\n').some((l) => l.split(' ')[1] === mnt);
}

export function lazyUnmount(mnt: string): void {
  try {
    execFileSync('fusermount', ['-uz', mnt], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
}

export async function startMount(url: string, opts: MountOptions = {}): Promise<MountProcess> {
  const mountpoint = opts.mountpoint ?? (await mkdtemp(path.join(os.tmpdir(), 'dvfs-mnt-')));
  const ownCache = opts.cacheDir === undefined;
  const cacheDir = opts.cacheDir ?? (await mkdtemp(path.join(os.tmpdir(), 'dvfs-cache-')));
  const env = { ...process.env };
  delete env.DATAVERSE_API_TOKEN;
  if (opts.token) env.DATAVERSE_API_TOKEN = opts.token;
  const proc = spawn(process.execPath, [CLI, 'mount', url, mountpoint, '--cache-dir', cacheDir, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  if (!opts.expectExit) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dvfs mount did not mount:\n${out}`)), 30_000);
      const check = () => {
        if (/dvfs: mounted /.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`dvfs mount exited with ${code}:\n${out}`));
      });
    });
  } else {
    await exited;
  }
  const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return {
    mountpoint,
    cacheDir,
    proc,
    output: () => out,
    stop,
    async dispose() {
      await stop();
      if (isMounted(mountpoint)) lazyUnmount(mountpoint);
      if (!opts.mountpoint) await rm(mountpoint, { recursive: true, force: true });
      if (ownCache) await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

export async function readTokensFile(dataDir: string): Promise<Record<string, { token: string }>> {
  return JSON.parse(await readFile(path.join(dataDir, 'demo-tokens.json'), 'utf8')).users;
}
