// `dvfs status [mountpoint]`: what each mount is doing — pending uploads,
// failed ones with the server's reason, cache usage, request counters.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callMount, listMounts, runtimeOf, type Runtime } from './control-client.js';
import type { StatusItem, StatusReport } from './control-server.js';
import { formatSize } from './sizes.js';

const HELP = `Usage: dvfs status [mountpoint] [--json]

Shows, for one mount (or every dvfs mount of this user): the
changes not yet on the server (with their state: writing, waiting for the
quiet period, queued, uploading, failed with the server's reason), the cache
usage and the request counters. --json prints the same as JSON.`;

function itemLine(i: StatusItem): string {
  const size = i.op === 'add' || i.op === 'replace' ? `  ${formatSize(i.size)}` : '';
  const where = i.mountPath ?? `${i.path} (dataset ${i.datasetId})`;
  return `  ${i.state.padEnd(9)} ${i.op.padEnd(8)} ${where}${size}${i.error ? `\n            reason: ${i.error}` : ''}`;
}

export function formatStatus(r: StatusReport): string {
  const lines = [`${r.mountpoint}  (${r.server}, process ${r.pid}${r.closing ? ', unmounting' : ''})`];
  const w = r.writes;
  if (!w) lines.push('  writes: none (read-only mount)');
  else {
    const changes = w.pending.filter((i) => i.op !== 'local' && i.op !== 'folder');
    const local = w.pending.length - changes.length;
    const failed = changes.filter((i) => i.state === 'failed');
    lines.push(
      `  pending: ${changes.length - failed.length} change(s), ${formatSize(w.bytesPending)} to upload; failed: ${failed.length}` +
        (local ? `; ${local} local-only item(s) (junk files, empty folders)` : '') +
        `; quiet period ${w.quietSeconds} s`,
    );
    for (const i of changes) lines.push(itemLine(i));
    const c = w.counters;
    lines.push(
      `  done: ${c.added} added, ${c.replaced} replaced, ${c.deleted} deleted, ${c.renamed} moved, ${c.metadataUpdated} metadata, ` +
        `${c.identicalSkipped} identical (not sent), ${formatSize(c.bytesUploaded)} uploaded; ${c.retries} retries, ${c.lockWaits} lock waits, ${c.failures} failures`,
    );
  }
  const k = r.cache;
  lines.push(`  cache: ${formatSize(k.diskBytes)} of ${formatSize(k.maxBytes)} on disk in ${k.dir} (${k.hits} hits, ${k.misses} misses, ${formatSize(k.bytesDownloaded)} downloaded)`);
  const q = r.requests;
  lines.push(`  requests: ${q.apiRequests} API, ${q.rangeRequests} range, ${q.zipRequests} zip (${formatSize(q.bytesRead)}), ${q.retries} retries, ${q.redirects} redirects`);
  return lines.join('\n');
}

export async function runStatus(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length > 1) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  let mounts: Runtime[];
  if (positionals.length === 1) {
    const r = await runtimeOf(positionals[0]);
    if (!r) {
      console.error(`dvfs status: no running dvfs mount at ${path.resolve(positionals[0])}`);
      return 1;
    }
    mounts = [r];
  } else {
    mounts = await listMounts();
    if (!mounts.length) {
      console.log('no dvfs mounts');
      return 0;
    }
  }
  // One mount that does not answer (hung, or exiting) must not hide the others.
  const answers = await Promise.allSettled(mounts.map((m) => callMount<StatusReport>(m, 'GET', '/status')));
  const reports: StatusReport[] = [];
  answers.forEach((a, i) => {
    if (a.status === 'fulfilled') reports.push(a.value);
    else console.error(`dvfs status: the mount at ${mounts[i].mountpoint} (process ${mounts[i].pid}) does not answer: ${(a.reason as Error).message}`);
  });
  if (values.json) {
    const out = positionals.length === 1 ? reports[0] : reports;
    if (out) console.log(JSON.stringify(out, null, 2));
  } else if (reports.length) console.log(reports.map(formatStatus).join('\n\n'));
  return reports.length === answers.length ? 0 : 1;
}
