// The write path under trouble, end to end: server errors and connection
// resets during uploads, a dataset lock held for a while, and kill -9 of the
// mount with uploads pending. Whatever happens, every file written into the
// mount must land on the server exactly once, under its own name.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { Control } from './helpers/control.js';
import { createCollection, createDataset, createUser, publishCollection } from './helpers/fixtures.js';
import { folderFor } from './helpers/dataset-fixture.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount, type MountProcess } from './helpers/mount.js';
import { downloadMd5, dvfs, serverFiles, sh, sourceFiles, type SourceFile } from './helpers/draft.js';

let srv: ServeProcess;
let ed: Api;
let control: Control;
let edToken: string;
let work: string;
const ds: Record<'errors' | 'lock' | 'kill', { id: number; pid: string }> = {} as never;
const mounts: MountProcess[] = [];

const draftOf = (m: MountProcess, d: { pid: string }) => path.join(m.mountpoint, 'wfault', folderFor(d.pid), 'draft');

async function mount(opts: { mountpoint?: string; cacheDir?: string; quiet?: string } = {}): Promise<MountProcess> {
  const m = await startMount(srv.url, { token: edToken, mountpoint: opts.mountpoint, cacheDir: opts.cacheDir, args: ['--quiet-period', opts.quiet ?? '0.3'] });
  mounts.push(m);
  return m;
}

/** `n` files of varied sizes under `dir/sub`, written locally. */
async function makeFiles(dir: string, n: number): Promise<SourceFile[]> {
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < n; i++) {
    const size = i % 7 === 0 ? 0 : 1000 + ((i * 37_411) % 300_000);
    await writeFile(path.join(dir, i % 2 ? 'sub' : '', `file-${String(i).padStart(3, '0')}.dat`), randomBytes(size));
  }
  return sourceFiles(dir);
}

/** The server has exactly these files (names, folders, bytes): none missing, none twice, none renamed. */
async function expectExactly(d: { id: number }, files: SourceFile[], prefix: string): Promise<void> {
  const listed = await serverFiles(ed, d.id);
  expect(listed.map((f) => `${f.path}\t${f.md5}`)).toEqual(files.map((f) => `${prefix}${f.path}\t${f.md5}`));
  for (const f of listed) expect(await downloadMd5(ed, f.id), f.path).toBe(files.find((s) => prefix + s.path === f.path)!.md5);
}

async function sync(m: MountProcess): Promise<void> {
  const r = await dvfs(['sync', m.mountpoint]);
  expect(r.code, `${r.stderr}\n${m.output().slice(-3000)}`).toBe(0);
}

beforeAll(async () => {
  srv = await startServe({ args: ['--publish-seconds', '0.2'] });
  const admin = new Api(srv.url, srv.adminToken);
  control = new Control(srv.url);
  edToken = (await createUser(admin, 'fed')).token;
  await createCollection(admin, 'root', 'wfault');
  await publishCollection(admin, 'wfault');
  const r = await admin.post('/api/dataverses/wfault/assignments', { assignee: '@fed', role: 'curator' });
  if (r.status !== 200) throw new Error(`assign: ${r.status} ${r.text}`);
  ed = admin.as(edToken);
  for (const name of ['errors', 'lock', 'kill'] as const) ds[name] = await createDataset(ed, 'wfault', `Faults ${name}`);
  work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-write-faults-'));
});

afterAll(async () => {
  await control?.resetFaults().catch(() => {});
  for (const m of mounts) await m.dispose();
  await srv?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('uploads under faults', () => {
  it('with server errors, 429s and connection resets after the server acted, every file lands exactly once', async () => {
    const src = path.join(work, 'errors');
    const files = await makeFiles(src, 40);
    const m = await mount();
    await control.setFaults({
      seed: 7,
      rules: [
        { path: '/add$', method: 'POST', status: 503, probability: 0.15 },
        // The add happens, but its answer is cut: the mount must find the file instead of sending it again.
        { path: '/add$', method: 'POST', resetAfterBytes: 20, probability: 0.15 },
        { path: '/add$', method: 'POST', status: 429, retryAfter: 1, count: 2 },
      ],
    });
    const mark = await control.mark();
    try {
      const r = await sh('cp', ['-r', `${src}/.`, `${draftOf(m, ds.errors)}/in/`]);
      expect(r.code, `${r.stderr}\n${m.output().slice(-3000)}`).toBe(0);
      await sync(m);
    } finally {
      await control.resetFaults();
    }
    await expectExactly(ds.errors, files, 'in/');
    const adds = (await control.requests(mark)).entries.filter((e) => e.method === 'POST' && e.path.endsWith('/add'));
    expect(adds.filter((e) => e.status === 503).length).toBeGreaterThan(0);
    expect(adds.filter((e) => e.status === 429)).toHaveLength(2);
    // The resets really happened (the log says it checked the server instead of sending again).
    expect(m.output()).toMatch(/already on the server .*not sent again|reached the server/);
  });

  it('with the dataset locked for a while, uploads wait for the lock and land once', async () => {
    const src = path.join(work, 'lock');
    const files = await makeFiles(src, 6);
    const m = mounts[0];
    await control.lock(ds.lock.id, 'EditInProgress', 4);
    const started = Date.now();
    const r = await sh('cp', ['-r', `${src}/.`, `${draftOf(m, ds.lock)}/`]);
    expect(r.code, r.stderr).toBe(0);
    await sync(m);
    expect(Date.now() - started).toBeGreaterThan(3000);
    expect(m.output()).toMatch(/is locked \(EditInProgress\)/);
    await expectExactly(ds.lock, files, '');
  });

  it('kill -9 of the mount with many uploads pending: the next mount finishes them, no duplicates', async () => {
    const src = path.join(work, 'kill');
    const files = await makeFiles(src, 30);
    const first = await mount({ quiet: '0.1' });
    const { mountpoint, cacheDir } = first;
    // Slow adds: at the kill, some files are on the server, one is in flight, the rest wait.
    await control.setFaults({ rules: [{ path: '/add$', method: 'POST', latencyMs: 250 }] });
    try {
      const r = await sh('cp', ['-r', `${src}/.`, `${draftOf(first, ds.kill)}/`]);
      expect(r.code, r.stderr).toBe(0);
      for (let i = 0; i < 200 && (await serverFiles(ed, ds.kill.id).catch(() => [])).length < 5; i++) await new Promise((res) => setTimeout(res, 50));
      first.proc.kill('SIGKILL');
      await new Promise((res) => first.proc.once('exit', res));
    } finally {
      await control.resetFaults();
    }
    const landed = (await serverFiles(ed, ds.kill.id)).length;
    expect(landed).toBeGreaterThanOrEqual(5);
    expect(landed).toBeLessThan(files.length);
    const second = await mount({ mountpoint, cacheDir });
    expect(second.output()).toMatch(/finishing \d+ change\(s\) left by the last mount/);
    await sync(second);
    await expectExactly(ds.kill, files, '');
  });
});
