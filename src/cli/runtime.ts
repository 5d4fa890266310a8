// Where a mount keeps the files other dvfs commands find it by: the runtime
// file (pid, mount point, server, control socket) and the control socket, one
// pair per mount point, in one per-user registry that does not depend on the
// mount's --cache-dir (so `dvfs unmount <mnt>` finds every mount).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'dvfs');
}

function mountKey(mountpoint: string): string {
  return createHash('sha256').update(path.resolve(mountpoint)).digest('hex').slice(0, 16);
}

/** $XDG_RUNTIME_DIR/dvfs where the session has one (cleared at logout, like the mounts), else ~/.cache/dvfs/mounts. */
export function registryDir(): string {
  const run = process.env.XDG_RUNTIME_DIR;
  return run ? path.join(run, 'dvfs') : path.join(defaultCacheDir(), 'mounts');
}

/** The per-mount runtime file: lets `dvfs unmount/refresh/status/sync/publish` find the process. */
export function runtimeFile(mountpoint: string): string {
  return path.join(registryDir(), `${mountKey(mountpoint)}.json`);
}

/** The control socket next to it (or in the temp folder when that path is too long for a unix socket). */
export function socketFile(mountpoint: string): string {
  const p = path.join(registryDir(), `${mountKey(mountpoint)}.sock`);
  return Buffer.byteLength(p) < 100 ? p : path.join(os.tmpdir(), `dvfs-${process.getuid?.() ?? 0}-${mountKey(mountpoint)}.sock`);
}

/**
 * When a process started (Linux: clock ticks since boot, from /proc), so a
 * runtime file left by a killed mount is not taken for a later process that
 * got the same pid. undefined where there is no /proc or no such process.
 */
export function processStart(pid: number): string | undefined {
  try {
    // The fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether process `pid` runs and, when `started` is given, is the one that started then (not a reused pid). */
export function isRunning(pid: number, started?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return started === undefined || processStart(pid) === started;
}
