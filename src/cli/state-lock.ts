// One process per folder of state: two mounts appending to the same write
// journal and uploading the same staged files would send things twice; two
// servers on one data directory would overwrite each other's state. A lock
// file holds the owner's pid and start time (a pid alone can be reused after
// a crash); a lock whose owner is gone is taken over.
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { isRunning, processStart } from './runtime.js';

interface Owner {
  pid: number;
  /** Start time of the process (processStart), to tell a reused pid apart. */
  start: string;
  /** Who holds it, for the message of whoever is refused ("dvfs mount at /mnt"). */
  what: string;
}

export interface StateLock {
  release(): Promise<void>;
}

/**
 * Take the lock file `<dir>/lock` for `what` (a phrase such as "dvfs mount at
 * /mnt"), or fail naming who holds it, what it is used for, and `advice`.
 */
export async function lockDir(dir: string, what: string, usedFor: string, advice: string): Promise<StateLock> {
  const file = path.join(dir, 'lock');
  const me: Owner = { pid: process.pid, start: processStart(process.pid) ?? '', what };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      return { release: () => rm(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: Owner | undefined;
    try {
      owner = JSON.parse(await readFile(file, 'utf8')) as Owner;
    } catch {
      owner = undefined; // torn by a crash while it was written: nobody holds it
    }
    if (owner && isRunning(owner.pid, owner.start)) throw new Error(`another ${owner.what ?? 'dvfs process'} (process ${owner.pid}) uses ${usedFor} in ${dir}; ${advice}`);
    await rm(file, { force: true }); // left by a process that is gone
  }
  throw new Error(`could not take the lock ${file}`);
}
