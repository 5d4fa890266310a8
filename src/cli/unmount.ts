// `dvfs unmount <mountpoint>` and `dvfs refresh <mountpoint>`: talk to the mount's process.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { forceUnmount, isMounted, isStale } from '../fs/mount.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { callMount, runtimeOf, type Runtime } from './control-client.js';
import { isRunning } from './runtime.js';
import type { StatusReport } from './control-server.js';
import { progressLine } from './progress.js';

/** The mount point and --force; or the exit code once the usage was printed (0 for --help, 2 for a mistake). */
function parse(args: string[], usage: string): { mnt: string; force: boolean } | number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(usage);
    return 2;
  }
  return { mnt: path.resolve(positionals[0]), force: values.force! };
}


/** Wait for the mount's process to exit, showing its upload progress; false if it neither exits nor answers for 60 s. */
async function waitForExit(rt: Runtime): Promise<boolean> {
  const progress = progressLine();
  let lastSign = Date.now();
  try {
    while (isRunning(rt.pid, rt.started)) {
      const r = await callMount<StatusReport>(rt, 'GET', '/status').catch(() => undefined);
      if (r) {
        progress.update(r);
        lastSign = Date.now();
      } else if (Date.now() - lastSign > 60_000) return false;
      await sleep(200);
    }
    return true;
  } finally {
    progress.done();
  }
}

export async function runUnmount(args: string[]): Promise<number> {
  const p = parse(
    args,
    `Usage: dvfs unmount <mountpoint> [--force]

Asks the dvfs process of the mount to unmount. It first uploads every change
still pending (progress is shown) and exits when the server has them; with
--force it stops waiting and leaves what is left in its write journal, for the
next mount to finish. Also clears a stale mount left by a crash.`,
  );
  if (typeof p === 'number') return p;
  const rt = await runtimeOf(p.mnt);
  if (rt) {
    try {
      await callMount(rt, 'POST', '/unmount', { force: p.force });
    } catch {
      process.kill(rt.pid, 'SIGTERM'); // no control channel: the signal does the same (without --force)
    }
    if (!(await waitForExit(rt))) {
      console.error(`dvfs unmount: the dvfs process ${rt.pid} did not finish unmounting ${p.mnt}`);
      return 1;
    }
    if (await isMounted(p.mnt)) {
      console.error(`dvfs unmount: the dvfs process ${rt.pid} exited but ${p.mnt} is still mounted (busy?); try again or use fusermount -uz`);
      return 1;
    }
    console.log(`dvfs: unmounted ${p.mnt}`);
    return 0;
  }
  if (!(await isMounted(p.mnt))) {
    console.error(`dvfs unmount: ${p.mnt} is not mounted`);
    return 1;
  }
  if (!(await isStale(p.mnt))) {
    // Something answers there but no dvfs process of ours says it is its mount: leave it alone.
    console.error(`dvfs unmount: ${p.mnt} is a live FUSE mount of another program (or another user's dvfs); use fusermount -u ${p.mnt}`);
    return 1;
  }
  await forceUnmount(p.mnt); // no live process: a stale mount
  console.log(`dvfs: cleared the stale mount at ${p.mnt}`);
  return 0;
}

export async function runRefresh(args: string[]): Promise<number> {
  const p = parse(args, 'Usage: dvfs refresh <mountpoint>\n\nForgets cached listings of drafts and collections (published versions stay cached) and re-reads --token-file.');
  if (typeof p === 'number') return p;
  const rt = await runtimeOf(p.mnt);
  if (!rt) {
    console.error(`dvfs refresh: no running dvfs mount at ${p.mnt}`);
    return 1;
  }
  process.kill(rt.pid, 'SIGHUP');
  console.log(`dvfs: asked the mount at ${p.mnt} to refresh`);
  return 0;
}
