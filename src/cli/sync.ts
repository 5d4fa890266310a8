// `dvfs sync <mountpoint>`: upload everything pending now (no quiet period)
// and wait, with a progress line; failures are listed with the server's reason.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callMount, runtimeOf, type Runtime } from './control-client.js';
import type { StatusReport, SyncReport } from './control-server.js';
import { progressLine } from './progress.js';

const HELP = `Usage: dvfs sync <mountpoint>

Uploads every change of the mount now, without waiting for the quiet period,
and returns when the server has them all (exit 0) or when some failed for
good (exit 1, with the server's reason; they stay in the write journal).`;

/** Ask the mount to upload; draw progress until it answers. */
export async function syncWithProgress(runtime: Runtime): Promise<SyncReport> {
  const progress = progressLine();
  let finished = false;
  let pause: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const poll = (async () => {
    while (!finished) {
      const r = await callMount<StatusReport>(runtime, 'GET', '/status').catch(() => undefined);
      if (r && !finished) progress.update(r);
      if (!finished) await new Promise<void>((res) => ((wake = res), (pause = setTimeout(res, 300))));
    }
  })();
  try {
    return await callMount<SyncReport>(runtime, 'POST', '/sync');
  } finally {
    // Done: end the poll's pause now rather than up to 300 ms later.
    finished = true;
    clearTimeout(pause);
    wake?.();
    await poll;
    progress.done();
  }
}

export async function runSync(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    // --help is asked for (stdout); a usage mistake is an error (stderr).
    (values.help ? console.log : console.error)(HELP);
    return values.help ? 0 : 2;
  }
  const mnt = path.resolve(positionals[0]);
  const runtime = await runtimeOf(mnt);
  if (!runtime) {
    console.error(`dvfs sync: no running dvfs mount at ${mnt}`);
    return 1;
  }
  const r = await syncWithProgress(runtime);
  for (const f of r.failed) console.error(`dvfs sync: FAILED ${f.mountPath ?? f.path}: ${f.error}`);
  if (r.pending.length) console.error(`dvfs sync: the mount is shutting down; ${r.pending.length} change(s) stay in its write journal`);
  if (r.failed.length || r.pending.length) return 1;
  console.log(`dvfs: everything written to ${mnt} is on the server`);
  return 0;
}
