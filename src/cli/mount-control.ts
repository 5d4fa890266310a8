// What a mount process answers on its control channel: status (pending
// uploads, failures, cache, counters), sync, publish and unmount.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlockCache } from '../cache/block-cache.js';
import type { DataverseClient } from '../dataverse/client.js';
import { DataverseWrites } from '../dataverse/writes.js';
import type { Namespace } from '../tree/namespace.js';
import { DRAFT, versionFolderName } from '../tree/names.js';
import type { DraftWriter, PendingItem } from '../write/index.js';
import { ControlError, type ControlHandlers, type PublishReport, type StatusItem, type StatusReport } from './control-server.js';

export interface ControlDeps {
  mountpoint: string;
  server: string;
  client: DataverseClient;
  ns: Namespace;
  cache: BlockCache;
  cacheDir: string;
  cacheMaxBytes: number;
  writer?: DraftWriter;
  quietSeconds: number;
  /** True once unmounting started. */
  closing(): boolean;
  unmount(force: boolean): void;
  log: (line: string) => void;
}

const LOCK_WAIT_MS = 10 * 60_000;


export function makeControlHandlers(d: ControlDeps): ControlHandlers {
  const writes = new DataverseWrites(d.client);
  const withPath = (i: PendingItem): StatusItem => {
    const ds = d.ns.datasetPath(i.datasetId);
    return ds ? { ...i, mountPath: `${d.mountpoint}${ds}/${DRAFT}${i.path ? `/${i.path}` : ''}` } : i;
  };

  async function waitForLocks(datasetId: number): Promise<void> {
    const end = Date.now() + LOCK_WAIT_MS;
    for (let delay = 200; ; delay = Math.min(delay * 1.5, 2000)) {
      const locks = await d.client.locks(datasetId);
      if (locks.length === 0) return;
      if (Date.now() > end) throw new ControlError(`the dataset is still locked (${locks.map((l) => l.lockType).join(', ')}) after ${LOCK_WAIT_MS / 60_000} minutes`);
      await sleep(delay);
    }
  }

  return {
    status(): StatusReport {
      const report: StatusReport = {
        mountpoint: d.mountpoint,
        server: d.server,
        pid: process.pid,
        closing: d.closing(),
        cache: { ...d.cache.stats(), maxBytes: d.cacheMaxBytes, dir: d.cacheDir },
        requests: { ...d.client.stats },
      };
      if (d.writer) {
        const s = d.writer.status();
        report.writes = {
          pending: s.pending.map(withPath),
          failed: s.failed.map(withPath),
          bytesPending: s.bytesPending,
          counters: s.counters,
          quietSeconds: d.quietSeconds,
        };
      }
      return report;
    },

    async sync() {
      if (!d.writer) return { failed: [], pending: [] };
      const r = await d.writer.sync();
      return { failed: r.failed.map(withPath), pending: r.pending.map(withPath) };
    },

    async publish(inside, type): Promise<PublishReport> {
      const ds = await d.ns.datasetAt(inside).catch(() => undefined);
      if (!ds) throw new ControlError(`${d.mountpoint}${inside} is not a dataset folder (or a folder inside one)`);
      // A mount that writes nothing (--read-only, or a guest) publishes nothing either: it cannot be undone.
      if (!d.writer) throw new ControlError(`${d.mountpoint} is a read-only mount (--read-only, or no API token): it does not publish`);
      // What was written into the draft goes first: a publish must not leave it out.
      const r = await d.writer.sync(ds.id);
      const stuck = [...r.failed, ...r.pending];
      if (stuck.length) {
        throw new ControlError(`${stuck.length} change(s) of this dataset did not reach the server (see dvfs status), so it was not published: ${stuck.map((i) => `${i.path}: ${i.error ?? i.state}`).join('; ')}`);
      }
      try {
        await writes.publish(ds.id, type);
      } catch (e) {
        throw new ControlError(`the server refused to publish ${ds.pid}: ${(e as Error).message}`);
      }
      await waitForLocks(ds.id);
      d.ns.datasetChanged(ds.id);
      const released = (await d.client.versions(ds.id)).filter((v) => v.versionState === 'RELEASED');
      const newest = released
        .map((v) => ({ major: v.versionNumber ?? 0, minor: v.versionMinorNumber ?? 0 }))
        .sort((a, b) => b.major - a.major || b.minor - a.minor)[0];
      d.log(`published ${ds.pid} as version ${newest ? versionFolderName(newest.major, newest.minor) : '?'}`);
      return { pid: ds.pid, version: newest ? versionFolderName(newest.major, newest.minor) : '?' };
    },

    unmount(force) {
      d.unmount(force);
    },
  };
}
