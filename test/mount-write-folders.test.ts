// Folders of a draft emptied with real tools (rm, mv, rm -r, rmdir) over a
// real `dvfs mount` of a real `dvfs serve`. On the server a folder is only
// the directoryLabel of its files, but a file system keeps a folder whose
// last entry went away until rmdir: the mount must too, also after the
// change reached the server and the listing was read again. Results are
// checked against the server's own listing.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { addFile, createCollection, createDataset, createUser, publishCollection } from './helpers/fixtures.js';
import { folderFor } from './helpers/dataset-fixture.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount, type MountProcess } from './helpers/mount.js';
import { dvfs, md5, serverFiles, sh } from './helpers/draft.js';

let srv: ServeProcess | undefined;
let ed: Api;
let edToken: string;
let work: string | undefined;
let ds: { id: number; pid: string };
const mounts: MountProcess[] = [];
let mnt: MountProcess;

const draft = () => path.join(mnt.mountpoint, 'wfold', folderFor(ds.pid), 'draft');
const at = (p: string) => path.join(draft(), p);

async function mount(opts: { mountpoint?: string; cacheDir?: string } = {}): Promise<MountProcess> {
  const m = await startMount(srv!.url, { token: edToken, ...opts, args: ['--quiet-period', '0.5'] });
  mounts.push(m);
  return m;
}

async function sync(): Promise<void> {
  const r = await dvfs(['sync', mnt.mountpoint]);
  expect(r.code, `dvfs sync: ${r.stderr}\n${mnt.output().slice(-2000)}`).toBe(0);
}

/** Make the mount read the draft's listing from the server again (SIGHUP), and wait until it did. */
async function refresh(): Promise<void> {
  const count = () => (mnt.output().match(/SIGHUP: listings refreshed/g) ?? []).length;
  const before = count();
  mnt.proc.kill('SIGHUP');
  for (let i = 0; count() === before; i++) {
    if (i > 100) throw new Error(`the mount did not refresh its listings:\n${mnt.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The draft's files as the server lists them: directoryLabel/label → id. */
async function listed(): Promise<Map<string, number>> {
  return new Map((await serverFiles(ed, ds.id)).map((f) => [f.path, f.id]));
}

/** The directoryLabel the server has for a file of the draft (by id). */
async function directoryLabelOf(id: number): Promise<string | undefined> {
  const r = await ed.get(`/api/datasets/${ds.id}/versions/:draft/files`);
  expect(r.status).toBe(200);
  const fm = (r.json.data as { directoryLabel?: string; dataFile: { id: number } }[]).find((x) => x.dataFile.id === id);
  expect(fm, `file ${id} on the server`).toBeDefined();
  return fm!.directoryLabel;
}

/** `ls` of a folder in the mount: exit code and names. */
async function ls(p: string): Promise<{ code: number; names: string[]; stderr: string }> {
  const r = await sh('ls', ['-A', at(p)]);
  return { code: r.code, names: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

async function expectEmptyFolder(p: string): Promise<void> {
  expect((await stat(at(p))).isDirectory(), `${p} is a folder`).toBe(true);
  expect(await ls(p)).toEqual({ code: 0, names: [], stderr: '' });
  const { dir, base } = { dir: path.posix.dirname(p), base: path.posix.basename(p) };
  expect(await readdir(at(dir === '.' ? '' : dir)), `its parent lists ${p}`).toContain(base);
}

async function expectGone(p: string): Promise<void> {
  await expect(stat(at(p))).rejects.toMatchObject({ code: 'ENOENT' });
  const dir = path.posix.dirname(p);
  expect(await readdir(at(dir === '.' ? '' : dir))).not.toContain(path.posix.basename(p));
}

beforeAll(async () => {
  srv = await startServe({});
  const admin = new Api(srv.url, srv.adminToken);
  edToken = (await createUser(admin, 'wfold')).token;
  await createCollection(admin, 'root', 'wfold', 'Folder Lab');
  await publishCollection(admin, 'wfold');
  const r = await admin.post('/api/dataverses/wfold/assignments', { assignee: '@wfold', role: 'curator' });
  if (r.status !== 200) throw new Error(`assign: ${r.status} ${r.text}`);
  ed = admin.as(edToken);
  ds = await createDataset(ed, 'wfold', 'Folders emptied');
  for (const [dir, name] of [
    ['notes', 'Überblick – Zusammenfassung.txt'],
    ['drafts', 'analysis-plan.md'],
    ['a/b/c', 'deep.txt'],
    ['from', 'last.txt'],
    ['keep', 'other.txt'],
  ]) {
    expect((await addFile(ed, ds.id, name, `${dir}/${name}\n`, { directoryLabel: dir })).status).toBe(200);
  }
  work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-folders-e2e-'));
  mnt = await mount();
});

afterAll(async () => {
  try {
    for (const m of [...mounts].reverse()) await m.dispose();
  } finally {
    await srv?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe('a folder emptied in a draft stays until rmdir', () => {
  it('rm of the last file keeps the folder (before and after the server has the delete); a copy lands in it; rmdir removes it', async () => {
    const last = 'notes/Überblick – Zusammenfassung.txt';
    expect((await sh('rm', [at(last)])).code).toBe(0);
    await expectEmptyFolder('notes');
    await sync();
    expect([...(await listed()).keys()].filter((p) => p.startsWith('notes/'))).toEqual([]);
    await refresh();
    await expectEmptyFolder('notes');

    const src = path.join(work!, 'replacement.txt');
    await writeFile(src, 'written again\n');
    const cp = await sh('cp', [src, at('notes/replacement.txt')]);
    expect(cp.code, cp.stderr).toBe(0);
    await sync();
    const id = (await listed()).get('notes/replacement.txt');
    expect(id, 'the copy is on the server').toBeDefined();
    expect(await directoryLabelOf(id!)).toBe('notes');
    expect((await serverFiles(ed, ds.id)).find((f) => f.id === id)?.md5).toBe(md5('written again\n'));
    await refresh();
    expect((await ls('notes')).names).toEqual(['replacement.txt']);

    // Emptied again, then removed: the ordinary `rm dir/*; rmdir dir`.
    const r = await sh('bash', ['-c', 'rm notes/* && rmdir notes'], { cwd: draft() });
    expect(r.code, r.stderr).toBe(0);
    await expectGone('notes');
    await sync();
    await refresh();
    await expectGone('notes');
    expect([...(await listed()).keys()].filter((p) => p.startsWith('notes/'))).toEqual([]);
  });

  it('rm of the last file then rmdir; rm -r of nested folders', async () => {
    const r = await sh('bash', ['-c', 'rm drafts/analysis-plan.md; rmdir drafts'], { cwd: draft() });
    expect(r.code, r.stderr).toBe(0);
    await expectGone('drafts');
    // Nested: emptying a/b/c keeps a/b/c (and a/b, which holds it).
    expect((await sh('rm', [at('a/b/c/deep.txt')])).code).toBe(0);
    await expectEmptyFolder('a/b/c');
    expect(await ls('a/b')).toMatchObject({ code: 0, names: ['c'] });
    await sync();
    await refresh();
    await expectEmptyFolder('a/b/c');
    // rm -r removes bottom up: each rmdir finds its folder, now empty.
    const rr = await sh('rm', ['-r', at('a')]);
    expect(rr.code, rr.stderr).toBe(0);
    await expectGone('a');
    await sync();
    const files = [...(await listed()).keys()];
    expect(files.filter((p) => /^(drafts|a)\//.test(p))).toEqual([]);
  });

  it('mv of the last file out keeps the folder; mv back and forth works; an emptied folder is kept across a remount, like a mkdir one', async () => {
    const before = (await listed()).get('from/last.txt')!;
    expect((await sh('mkdir', [at('to')])).code).toBe(0);
    // There, and back: the folder it left ("from", then "to" made by mkdir) stays, empty, each time.
    for (const [src, dst] of [
      ['from', 'to'],
      ['to', 'from'],
    ]) {
      const moved = await sh('mv', [at(`${src}/last.txt`), at(`${dst}/`)]);
      expect(moved.code, moved.stderr).toBe(0);
      await expectEmptyFolder(src);
      await sync();
      expect((await listed()).get(`${dst}/last.txt`)).toBe(before);
      expect(await directoryLabelOf(before)).toBe(dst);
      await refresh();
      await expectEmptyFolder(src);
    }
    let r = await sh('rmdir', [at('to')]);
    expect(r.code, r.stderr).toBe(0);
    await expectGone('to');

    // Moved out to the root, then a remount on the same cache directory: the emptied folder is in the
    // write journal, as a mkdir'ed empty folder is, so it is still there until rmdir.
    r = await sh('mv', [at('from/last.txt'), at('last.txt')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await sh('mkdir', [at('made')])).code).toBe(0);
    await sync();
    expect((await listed()).get('last.txt')).toBe(before);
    expect(await directoryLabelOf(before)).toBeUndefined();
    const { mountpoint, cacheDir } = mnt;
    expect(await mnt.stop()).toBe(0);
    mnt = await mount({ mountpoint, cacheDir });
    await expectEmptyFolder('from');
    await expectEmptyFolder('made');
    r = await sh('rmdir', [at('from'), at('made')]);
    expect(r.code, r.stderr).toBe(0);
    await expectGone('from');
    await expectGone('made');
    expect([...(await listed()).keys()]).toEqual(['keep/other.txt', 'last.txt']);
  });
});
