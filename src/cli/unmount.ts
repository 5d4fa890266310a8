// `dvfs unmount <mountpoint>` and `dvfs refresh <mountpoint>`: talk to the mount's process by signal.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { forceUnmount, isMounted } from '../fs/mount.js';
import { defaultCacheDir, runtimeFile } from './mount.js';

interface Runtime {
  pid: number;
  mountpoint: string;
}

async function runtimeOf(cacheDir: string, mnt: string): Promise<Runtime | undefined> {
  try {
    const r = JSON.parse(await readFile(runtimeFile(cacheDir, mnt), 'utf8')) as Runtime;
    process.kill(r.pid, 0); // still alive?
    return r;
  } catch {
    return undefined;
  }
}

function parse(args: string[], usage: string) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'cache-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    console.log(usage);
    return undefined;
  }
  return { mnt: path.resolve(positionals[0]), cacheDir: path.resolve(values['cache-dir'] ?? defaultCacheDir()) };
}

export async function runUnmount(args: string[]): Promise<number> {
  const p = parse(args, 'Usage: dvfs unmount <mountpoint> [--cache-dir DIR]\n\nAsks the dvfs process of the mount to unmount (it finishes its work first); clears a stale mount left by a crash.');
  if (!p) return 2;
  const rt = await runtimeOf(p.cacheDir, p.mnt);
  if (rt) {
    process.kill(rt.pid, 'SIGTERM');
    for (let i = 0; i < 600 && (await isMounted(p.mnt)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await isMounted(p.mnt))) {
      console.log(`dvfs: unmounted ${p.mnt}`);
      return 0;
    }
    console.error(`dvfs unmount: the dvfs process ${rt.pid} did not unmount ${p.mnt} within 60 s`);
    return 1;
  }
  if (!(await isMounted(p.mnt))) {
    console.error(`dvfs unmount: ${p.mnt} is not mounted`);
    return 1;
  }
  await forceUnmount(p.mnt); // no live process: a stale mount
  console.log(`dvfs: cleared the stale mount at ${p.mnt}`);
  return 0;
}

export async function runRefresh(args: string[]): Promise<number> {
  const p = parse(args, 'Usage: dvfs refresh <mountpoint> [--cache-dir DIR]\n\nForgets cached listings of drafts and collections (published versions stay cached) and re-reads --token-file.');
  if (!p) return 2;
  const rt = await runtimeOf(p.cacheDir, p.mnt);
  if (!rt) {
    console.error(`dvfs refresh: no running dvfs mount at ${p.mnt}`);
    return 1;
  }
  process.kill(rt.pid, 'SIGHUP');
  console.log(`dvfs: asked the mount at ${p.mnt} to refresh`);
  return 0;
}
