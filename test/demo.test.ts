// `dvfs demo` end to end: a real demo process (its server and its FUSE mount),
// stopped the ways a user stops it: Ctrl-C in a terminal (SIGINT to the whole
// process group, server included), SIGINT to the demo alone, and kill -9. What
// reached the server is checked with the server's own API, never through a mount.
// The tests share one data directory: the first run seeds it, the others reuse it.
import { execFile as execFileCb, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { md5, serverFiles } from './helpers/draft.js';
import { CLI, startServe } from './helpers/serve.js';
import { isMounted } from './helpers/mount.js';

const execFile = promisify(execFileCb);

let work: string;
let dataDir: string;
let home: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-demo-'));
  dataDir = path.join(work, 'data');
  home = path.join(work, 'home');
});
afterAll(async () => {
  killLeftovers();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Pids of the processes whose command line names this test's data directory (the demo and its server). */
function pidsOfDataDir(): number[] {
  if (!dataDir) return [];
  let out = '';
  try {
    // timeout: reading /proc/<pid>/cmdline can block on a process stuck in a hung FUSE mount.
    // The pattern goes in on stdin: neither sh nor grep may have it on their own command line.
    out = execFileSync('sh', ['-c', 'timeout 2 grep -lFf - /proc/[0-9]*/cmdline 2>/dev/null; true'], { input: dataDir }).toString();
  } catch {
    // timed out: what was printed is still read below
  }
  return out
    .split('\n')
    .map((l) => /^\/proc\/(\d+)\/cmdline$/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number)
    .filter((p) => p !== process.pid);
}

function killLeftovers(): void {
  for (const pid of pidsOfDataDir()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function unmountLazily(mnt: string): void {
  try {
    execFileSync('timeout', ['5', 'fusermount', '-uz', mnt], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
}

interface Demo {
  p: ChildProcess;
  mnt: string;
  output(): string;
  exited: Promise<number | null>;
  /** Absolute path of the survey dataset's folder (from the tips the demo prints). */
  survey(): string;
}

/** Start `dvfs demo` in its own process group (as a terminal runs it) and wait until it is mounted. */
async function startDemo(mnt: string): Promise<Demo> {
  const p = spawn(process.execPath, [CLI, 'demo', mnt, '--data-dir', dataDir], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), DATAVERSE_API_TOKEN: '' },
  });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d));
  p.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  const demo: Demo = {
    p,
    mnt,
    output: () => out,
    exited,
    survey: () => path.resolve(work, /ls -l (\S+)\s+# one folder per version/.exec(out)![1]),
  };
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`demo did not mount:\n${out}`)), 150_000);
    p.stdout!.on('data', () => {
      if (/Ctrl-C unmounts and stops/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    void exited.then((c) => {
      clearTimeout(t);
      reject(new Error(`demo exited ${c}:\n${out}`));
    });
  });
  return demo;
}

async function exitWithin(d: Demo, ms: number): Promise<number | null> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`the demo did not exit within ${ms} ms:\n${d.output()}`)), ms);
  });
  try {
    return await Promise.race([d.exited, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** The draft of the survey dataset as the server lists it (admin token from the data directory). */
async function surveyDraft(url: string) {
  const api = new Api(url, (await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim());
  const found = await api.get(`/api/search?q=*&type=dataset&per_page=100`);
  const item = (found.json.data.items as { name: string; global_id: string }[]).find((i) => i.name === 'Household Survey 2024')!;
  const ds = await api.get(`/api/datasets/:persistentId?persistentId=${encodeURIComponent(item.global_id)}`);
  return serverFiles(api, ds.json.data.id as number);
}

async function cleanUp(d: Demo | undefined, mnt: string): Promise<void> {
  if (d && d.p.exitCode === null && d.p.signalCode === null) d.p.kill('SIGKILL');
  killLeftovers();
  if (isMounted(mnt)) unmountLazily(mnt);
}

describe('dvfs demo', () => {
  it('first run: says it builds the demo data, mounts, and Ctrl-C stops both; the cache lives in the data dir', async () => {
    const mnt = path.join(work, 'mnt1');
    let d: Demo | undefined;
    try {
      d = await startDemo(mnt);
      const out = d.output();
      expect(out).toMatch(/creating the demo data in .* \(about 30 s the first time\)/);
      expect(out.indexOf('creating the demo data')).toBeLessThan(out.indexOf('dvfs: mounted'));
      expect(out).toMatch(/Try:/);
      expect((await readdir(mnt)).sort()).toEqual(['earth-sciences', 'social-science']);
      const sqlite = /sqlite3 (\S+stations\.sqlite)/.exec(out)![1];
      const { stdout } = await execFile('sqlite3', [path.resolve(work, sqlite), 'select count(*) from stations']);
      expect(stdout.trim()).toBe('40');
      d.p.kill('SIGINT'); // the demo alone (e.g. kill -INT <pid>)
      expect(await exitWithin(d, 30_000)).toBe(0);
      expect(isMounted(mnt)).toBe(false);
      const url = /demo Dataverse is at (http:\/\/\S+?);/.exec(out)![1];
      await expect(fetch(`${url}/api/info/version`)).rejects.toThrow(); // the server stopped too
      expect(pidsOfDataDir()).toEqual([]);
      // The block cache and the write journal are the data directory's, not one per (random) port.
      expect((await stat(path.join(dataDir, 'mount-cache', 'write'))).isDirectory()).toBe(true);
      const cacheHome = await readdir(path.join(home, '.cache', 'dvfs')).catch(() => [] as string[]);
      expect(cacheHome.filter((n) => n !== 'mounts')).toEqual([]);
    } finally {
      await cleanUp(d, mnt);
    }
  }, 240_000);

  it('Ctrl-C in a terminal (SIGINT to the process group) right after a cp: the file reaches the server, then the demo exits 0', async () => {
    const mnt = path.join(work, 'mnt2');
    let d: Demo | undefined;
    let check: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      d = await startDemo(mnt);
      expect(d.output()).not.toMatch(/creating the demo data/); // seeded by the first run
      const src = path.join(work, 'ctrl-c.bin');
      const bytes = randomBytes(200_000);
      await writeFile(src, bytes);
      await execFile('cp', [src, path.join(d.survey(), 'draft', 'ctrl-c.bin')]);
      process.kill(-d.p.pid!, 'SIGINT'); // what a terminal's Ctrl-C does: the whole foreground group
      expect(await exitWithin(d, 30_000)).toBe(0);
      expect(d.output()).not.toMatch(/left in the write journal|ECONNREFUSED/);
      expect(isMounted(mnt)).toBe(false);
      expect(pidsOfDataDir()).toEqual([]);
      // The server's own view, from a server started on the same data directory.
      check = await startServe({ dataDir });
      const f = (await surveyDraft(check.url)).find((x) => x.path === 'ctrl-c.bin');
      expect(f?.size).toBe(bytes.length);
      expect(f?.md5).toBe(md5(bytes));
    } finally {
      await check?.stop();
      await cleanUp(d, mnt);
    }
  }, 240_000);

  it('kill -9 of the demo: its server stops by itself, and the next demo finishes the change it left in the journal', async () => {
    const mnt = path.join(work, 'mnt3');
    let d: Demo | undefined;
    let again: Demo | undefined;
    try {
      d = await startDemo(mnt);
      const demoPid = d.p.pid!;
      const serverPids = pidsOfDataDir().filter((p) => p !== demoPid);
      expect(serverPids.length).toBe(1);
      const bytes = randomBytes(100_000);
      await writeFile(path.join(work, 'killed.bin'), bytes);
      await execFile('cp', [path.join(work, 'killed.bin'), path.join(d.survey(), 'draft', 'killed.bin')]);
      d.p.kill('SIGKILL'); // before the 3 s quiet period is over: the change stays in the journal
      await d.exited;
      const deadline = Date.now() + 5000;
      while (pidsOfDataDir().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(pidsOfDataDir()).toEqual([]);
      unmountLazily(mnt); // the mount a killed process leaves ("Transport endpoint is not connected")
      expect(isMounted(mnt)).toBe(false);

      // The next demo with the same data directory finds the journal (the port differs).
      again = await startDemo(mnt);
      expect(again.output()).toMatch(/write journal \(.*mount-cache.*\): finishing 1 change\(s\) left by the last mount/);
      const url = /demo Dataverse is at (http:\/\/\S+?);/.exec(again.output())![1];
      let f: Awaited<ReturnType<typeof surveyDraft>>[number] | undefined;
      for (let i = 0; i < 100 && !f; i++) {
        f = (await surveyDraft(url)).find((x) => x.path === 'killed.bin');
        if (!f) await new Promise((r) => setTimeout(r, 200));
      }
      expect(f?.md5).toBe(md5(bytes));
      process.kill(-again.p.pid!, 'SIGINT');
      expect(await exitWithin(again, 30_000)).toBe(0);
      expect(isMounted(mnt)).toBe(false);
      expect(pidsOfDataDir()).toEqual([]);
      const cacheHome = await readdir(path.join(home, '.cache', 'dvfs')).catch(() => [] as string[]);
      expect(cacheHome.filter((n) => n !== 'mounts')).toEqual([]);
    } finally {
      await cleanUp(again, mnt);
      await cleanUp(d, mnt);
    }
  }, 300_000);
});
