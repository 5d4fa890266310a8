// One mount per write journal: two processes appending to the same journal
// and uploading the same staged files would send things twice. A lock file
// holds the owner's pid and start time (a pid alone can be reused after a
// crash); a lock whose owner is gone is taken over.
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

interface Owner {
  pid: number;
  /** Start time of the process (/proc/<pid>/stat field 22), to tell a reused pid apart. */
  start: string;
  mountpoint: string;
}

async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // Fields after "(comm)": state is field 3, starttime field 22.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

async function alive(owner: Owner): Promise<boolean> {
  try {
    process.kill(owner.pid, 0);
  } catch {
    return false;
  }
  return (await startTime(owner.pid)) === owner.start;
}

export interface StateLock {
  release(): Promise<void>;
}

/** Take the lock of a write-state folder, or fail with who holds it. */
export async function lockStateDir(dir: string, mountpoint: string): Promise<StateLock> {
  const file = path.join(dir, 'lock');
  const me: Owner = { pid: process.pid, start: (await startTime(process.pid)) ?? '', mountpoint };
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
    if (owner && (await alive(owner))) {
      throw new Error(
        `another dvfs mount (process ${owner.pid}, at ${owner.mountpoint}) uses the write journal in ${dir}; ` +
          'unmount it first, or give this mount its own --cache-dir',
      );
    }
    await rm(file, { force: true }); // left by a process that is gone
  }
  throw new Error(`could not take the lock ${file}`);
}
