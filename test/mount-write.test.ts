// The write path end to end: a real `dvfs mount` of a real `dvfs serve`,
// written to with real tools (rsync, cp, mv, rm, mkdir, sed, vi, python,
// setfattr, touch), checked against the server's own listing, downloads and
// request log — never against what the mount says about itself.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readlink, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { Control } from './helpers/control.js';
import { addFile, createCollection, createDataset, createUser, publishCollection, publishDataset } from './helpers/fixtures.js';
import { folderFor } from './helpers/dataset-fixture.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount, type MountProcess } from './helpers/mount.js';
import { buildTree, downloadMd5, dvfs, md5, serverFiles, sh, sourceFiles, writeRequests, type ServerFile } from './helpers/draft.js';

const BIG = 200 * 1024 * 1024;

let srv: ServeProcess;
let admin: Api;
let ed: Api;
let control: Control;
let edToken: string;
let memberToken: string;
let readerToken: string;
let mnt: MountProcess;
let work: string;
const ds: Record<'tree' | 'edit' | 'ops' | 'other' | 'pub' | 'meta', { id: number; pid: string }> = {} as never;

/** The draft folder of a dataset in a mount. */
const draftOf = (m: MountProcess, d: { pid: string }) => path.join(m.mountpoint, 'wlab', folderFor(d.pid), 'draft');
const datasetDir = (m: MountProcess, d: { pid: string }) => path.join(m.mountpoint, 'wlab', folderFor(d.pid));

async function sync(m: MountProcess = mnt): Promise<void> {
  const r = await dvfs(['sync', m.mountpoint]);
  expect(r.code, `dvfs sync: ${r.stderr}`).toBe(0);
}

const fileAt = async (d: { id: number }, p: string): Promise<ServerFile | undefined> => (await serverFiles(ed, d.id)).find((f) => f.path === p);

beforeAll(async () => {
  srv = await startServe({ args: ['--publish-seconds', '0.2', '--ingest-seconds', '0.5'] });
  admin = new Api(srv.url, srv.adminToken);
  control = new Control(srv.url);
  edToken = (await createUser(admin, 'wed')).token;
  memberToken = (await createUser(admin, 'wmember')).token;
  readerToken = (await createUser(admin, 'wreader')).token;
  await createCollection(admin, 'root', 'wlab', 'Write Lab');
  await publishCollection(admin, 'wlab');
  for (const [who, role] of [['@wed', 'curator'], ['@wmember', 'member']]) {
    const r = await admin.post('/api/dataverses/wlab/assignments', { assignee: who, role });
    if (r.status !== 200) throw new Error(`assign ${who}: ${r.status} ${r.text}`);
  }
  ed = admin.as(edToken);
  for (const name of ['tree', 'edit', 'ops', 'other', 'pub', 'meta'] as const) ds[name] = await createDataset(ed, 'wlab', `Write ${name}`);
  // A published version whose file has metadata a replace must keep.
  const notes = await addFile(ed, ds.edit.id, 'notes.txt', 'alpha beta gamma\n', { directoryLabel: 'data', description: 'Field notes', categories: ['Data'] });
  expect(notes.status).toBe(200);
  for (const [name, body] of [['keep.txt', 'keep me\n'], ['move-me.txt', 'moving\n'], ['delete-me.txt', 'bye\n']]) {
    expect((await addFile(ed, ds.ops.id, name, body, { directoryLabel: 'docs' })).status).toBe(200);
  }
  expect((await addFile(ed, ds.meta.id, 'table.txt', 'x\n')).status).toBe(200);
  expect((await addFile(ed, ds.other.id, 'there.txt', 'other dataset\n')).status).toBe(200);
  await publishDataset(ed, ds.edit.id);
  await publishDataset(ed, ds.ops.id);
  work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-write-e2e-'));
  mnt = await startMount(srv.url, { token: edToken, args: ['--quiet-period', '0.5'] });
});

afterAll(async () => {
  await mnt?.dispose();
  await srv?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('rsync -a of a tree into a draft', () => {
  it('lands byte for byte under the same names and folders; a second rsync -a transfers nothing', async () => {
    const src = path.join(work, 'tree');
    await buildTree(src, BIG);
    const expected = await sourceFiles(src);
    const dest = draftOf(mnt, ds.tree);
    // The source folder's mtime equal to what the draft folder shows now: rsync then never sets the
    // draft folder's time, and what it shows must stay put while the uploads land (and after a remount).
    const shown = (await stat(dest)).mtime;
    await utimes(src, shown, shown);
    const mark = await control.mark();

    const first = await sh('rsync', ['-a', `${src}/`, `${dest}/`]);
    expect(first.code, first.stderr).toBe(0);
    // Before the uploads: the local state already answers like the source.
    expect((await sh('rsync', ['-a', '--itemize-changes', `${src}/`, `${dest}/`])).stdout).toBe('');
    await sync();

    // The server's own listing and downloads equal the source.
    const listed = await serverFiles(ed, ds.tree.id);
    expect(listed.map((f) => `${f.path}\t${f.size}\t${f.md5}`)).toEqual(expected.map((f) => `${f.path}\t${f.size}\t${f.md5}`));
    for (const f of listed) expect(await downloadMd5(ed, f.id), f.path).toBe(expected.find((e) => e.path === f.path)!.md5);
    // One add per file (the zip goes under a neutral name and is renamed: one metadata call), nothing else.
    const writes = await writeRequests(control, mark);
    expect(writes.filter((w) => w === `POST /api/v1/datasets/${ds.tree.id}/add`)).toHaveLength(expected.length);
    expect(writes.filter((w) => !w.endsWith('/add') && !w.endsWith('/metadata'))).toEqual([]);

    // Uploaded: mtimes are remembered, so rsync finds nothing to do — also after a remount.
    expect((await sh('rsync', ['-a', '--itemize-changes', `${src}/`, `${dest}/`])).stdout).toBe('');
    const cacheDir = mnt.cacheDir;
    expect(await mnt.stop()).toBe(0);
    mnt = await startMount(srv.url, { token: edToken, mountpoint: mnt.mountpoint, cacheDir, args: ['--quiet-period', '0.5'] });
    const again = await sh('rsync', ['-a', '--itemize-changes', `${src}/`, `${draftOf(mnt, ds.tree)}/`]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('');
    expect(await writeRequests(control, mark)).toEqual(writes);
    await rm(src, { recursive: true, force: true });
  });
});

describe('editing a file in place', () => {
  const notesPath = 'data/notes.txt';

  /** Run an edit; exactly one replace of the file must follow, keeping folder, description and categories. */
  async function oneReplace(edit: (file: string) => Promise<unknown>, expected: string): Promise<void> {
    const before = (await fileAt(ds.edit, notesPath))!;
    const mark = await control.mark();
    await edit(path.join(draftOf(mnt, ds.edit), notesPath));
    await sync();
    expect(await writeRequests(control, mark)).toEqual([`POST /api/v1/files/${before.id}/replace`]);
    const after = (await fileAt(ds.edit, notesPath))!;
    expect(after).toMatchObject({ path: notesPath, description: 'Field notes', categories: ['Data'], size: Buffer.byteLength(expected) });
    expect(await downloadMd5(ed, after.id)).toBe(md5(expected));
    expect(await readFile(path.join(draftOf(mnt, ds.edit), notesPath), 'utf8')).toBe(expected);
  }

  it('sed -i makes one replace', async () => {
    await oneReplace(async (f) => expect((await sh('sed', ['-i', 's/beta/BETA/', f])).code).toBe(0), 'alpha BETA gamma\n');
  });

  it('vi makes one replace', async () => {
    await oneReplace(async (f) => {
      const r = await sh('vi', ['-u', 'NONE', '-i', 'NONE', '-N', '-e', '-s', '-c', '%s/gamma/GAMMA/', '-c', 'wq', f], { cwd: path.dirname(f) });
      expect(r.code, r.stderr).toBe(0);
    }, 'alpha BETA GAMMA\n');
  });

  it("python's write-to-temp-then-os.replace makes one replace", async () => {
    const script = [
      'import os, sys, tempfile',
      'p = sys.argv[1]',
      'fd, tmp = tempfile.mkstemp(dir=os.path.dirname(p), prefix=".tmp-")',
      'os.write(fd, open(p, "rb").read().replace(b"alpha", b"ALPHA"))',
      'os.fsync(fd); os.close(fd)',
      'os.replace(tmp, p)',
    ].join('\n');
    await oneReplace(async (f) => expect((await sh('python3', ['-c', script, f])).code).toBe(0), 'ALPHA BETA GAMMA\n');
  });

  it('appending (O_APPEND) and truncating change the file on the server', async () => {
    const f = path.join(draftOf(mnt, ds.edit), notesPath);
    await oneReplace(async () => expect((await sh('bash', ['-c', `echo delta >> '${f}'`])).code).toBe(0), 'ALPHA BETA GAMMA\ndelta\n');
    await oneReplace(async () => expect((await sh('truncate', ['-s', '6', f])).code).toBe(0), 'ALPHA ');
  });

  it('a replaced draft file is never read from stale page cache', async () => {
    const dir = draftOf(mnt, ds.edit);
    const f = path.join(dir, 'cache-check.bin');
    const a = randomBytes(256 * 1024);
    const b = randomBytes(256 * 1024);
    await writeFile(f, a);
    expect(md5(await readFile(f))).toBe(md5(a));
    // The same size and the same mtime: only the content differs.
    const tmp = path.join(dir, 'cache-check.tmp');
    await writeFile(tmp, b);
    expect((await sh('touch', ['-r', f, tmp])).code).toBe(0);
    expect((await sh('mv', [tmp, f])).code).toBe(0);
    expect(md5(await readFile(f))).toBe(md5(b));
    // Overwritten in place (O_TRUNC), then given the old mtime back.
    const old = (await stat(f)).mtime;
    await writeFile(f, a);
    expect((await sh('touch', ['-d', old.toISOString(), f])).code).toBe(0);
    expect(md5(await readFile(f))).toBe(md5(a));
    await sync();
    expect(md5(await readFile(f))).toBe(md5(a));
    expect(await downloadMd5(ed, (await fileAt(ds.edit, 'cache-check.bin'))!.id)).toBe(md5(a));
  });
});

describe('reorganising a draft', () => {
  it('mv within a dataset makes no upload, only a metadata call', async () => {
    const dir = draftOf(mnt, ds.ops);
    const before = (await fileAt(ds.ops, 'docs/move-me.txt'))!;
    const mark = await control.mark();
    expect((await sh('mkdir', [path.join(dir, 'archive')])).code).toBe(0);
    expect((await sh('mv', [path.join(dir, 'docs/move-me.txt'), path.join(dir, 'archive/moved.txt')])).code).toBe(0);
    await sync();
    expect(await writeRequests(control, mark)).toEqual([`POST /api/v1/files/${before.id}/metadata`]);
    const after = await fileAt(ds.ops, 'archive/moved.txt');
    expect(after?.id).toBe(before.id);
    expect(await fileAt(ds.ops, 'docs/move-me.txt')).toBeUndefined();
  });

  it('rm deletes the file on the server', async () => {
    const before = (await fileAt(ds.ops, 'docs/delete-me.txt'))!;
    const mark = await control.mark();
    expect((await sh('rm', [path.join(draftOf(mnt, ds.ops), 'docs/delete-me.txt')])).code).toBe(0);
    await sync();
    expect(await writeRequests(control, mark)).toEqual([`DELETE /api/v1/files/${before.id}`]);
    expect(await fileAt(ds.ops, 'docs/delete-me.txt')).toBeUndefined();
    expect(await fileAt(ds.ops, 'docs/keep.txt')).toBeDefined();
  });

  it('mkdir -p a/b && cp f a/b/ puts f in folder a/b', async () => {
    const dir = draftOf(mnt, ds.ops);
    const f = path.join(work, 'f.txt');
    await writeFile(f, 'copied into a new folder\n');
    const r = await sh('bash', ['-c', `mkdir -p a/b && cp '${f}' a/b/`], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    await sync();
    const landed = await fileAt(ds.ops, 'a/b/f.txt');
    expect(landed?.md5).toBe(md5('copied into a new folder\n'));
    expect((await readdir(path.join(dir, 'a'))).sort()).toEqual(['b']);
  });

  it('rmdir of a folder with files is ENOTEMPTY; an empty local folder goes away', async () => {
    const dir = draftOf(mnt, ds.ops);
    expect((await sh('rmdir', [path.join(dir, 'docs')])).stderr).toMatch(/Directory not empty/);
    expect((await sh('mkdir', [path.join(dir, 'empty')])).code).toBe(0);
    expect((await sh('rmdir', [path.join(dir, 'empty')])).code).toBe(0);
    await expect(stat(path.join(dir, 'empty'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('names the server would refuse or alter are EINVAL, with a log line, and nothing is sent', async () => {
    const dir = draftOf(mnt, ds.ops);
    const mark = await control.mark();
    const attempts: string[][] = [
      ['touch', path.join(dir, 'bad:name.txt')],
      ['touch', path.join(dir, 'what?.txt')],
      ['mkdir', path.join(dir, 'dossier-é')],
      ['mkdir', path.join(dir, '.hidden')],
      ['mkdir', path.join(dir, 'trailing-')],
      ['cp', path.join(dir, 'docs/keep.txt'), path.join(dir, 'docs/x;y.txt')],
    ];
    for (const args of attempts) {
      const r = await sh(args[0], args.slice(1));
      expect(r.stderr, args.join(' ')).toMatch(/Invalid argument/);
    }
    // rename(2) itself (mv words EINVAL as "a subdirectory of itself").
    const rename = 'import os, sys\ntry:\n  os.rename(sys.argv[1], sys.argv[2])\nexcept OSError as e:\n  print(e.errno)';
    expect((await sh('python3', ['-c', rename, path.join(dir, 'docs/keep.txt'), path.join(dir, 'docs/a|b.txt')])).stdout.trim()).toBe('22');
    await sync();
    expect(await writeRequests(control, mark)).toEqual([]);
    expect(mnt.output()).toMatch(/refused \(EINVAL\), rule label-characters/);
    expect(mnt.output()).toMatch(/refused \(EINVAL\), rule folder-characters/);
    expect(mnt.output()).toMatch(/refused \(EINVAL\), rule folder-edges/);
    expect(mnt.output()).not.toMatch(/: EINVAL: /); // each refusal is logged once, with its rule
    expect(await fileAt(ds.ops, 'docs/keep.txt')).toBeDefined();
  });

  it('editor junk stays local and is never uploaded', async () => {
    const dir = draftOf(mnt, ds.ops);
    const mark = await control.mark();
    await writeFile(path.join(dir, '.DS_Store'), 'junk');
    await writeFile(path.join(dir, '.~lock.report.odt#'), 'junk');
    await writeFile(path.join(dir, 'docs', '.keep.txt.swp'), 'junk');
    await sync();
    expect(await writeRequests(control, mark)).toEqual([]);
    expect(await readFile(path.join(dir, '.DS_Store'), 'utf8')).toBe('junk');
  });
});

describe('metadata and times', () => {
  it('setfattr sets description, restriction and categories; getfattr shows them', async () => {
    const f = path.join(draftOf(mnt, ds.meta), 'table.txt');
    const before = (await fileAt(ds.meta, 'table.txt'))!;
    const mark = await control.mark();
    for (const [name, value] of [['description', 'Weekly table'], ['restricted', 'true'], ['categories', 'Data,Documentation']]) {
      const r = await sh('setfattr', ['-n', `user.dataverse.${name}`, '-v', value, f]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await sh('getfattr', ['--only-values', '-n', 'user.dataverse.description', f])).stdout).toBe('Weekly table');
    await sync();
    const after = (await fileAt(ds.meta, 'table.txt'))!;
    expect(after).toMatchObject({ id: before.id, description: 'Weekly table', restricted: true, categories: ['Data', 'Documentation'] });
    const writes = await writeRequests(control, mark);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((w) => w === `POST /api/v1/files/${before.id}/metadata`)).toBe(true);
    expect((await sh('setfattr', ['-n', 'user.other', '-v', 'x', f])).stderr).toMatch(/not supported/i);
    expect((await sh('setfattr', ['-n', 'user.dataverse.restricted', '-v', 'maybe', f])).stderr).toMatch(/Invalid argument/);
  });

  it('touch -m -d on a server file is remembered across a remount', async () => {
    const f = () => path.join(draftOf(mnt, ds.meta), 'table.txt');
    expect((await sh('touch', ['-m', '-d', '2001-02-03T04:05:06Z', f()])).code).toBe(0);
    expect((await stat(f())).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
    const cacheDir = mnt.cacheDir;
    expect(await mnt.stop()).toBe(0);
    mnt = await startMount(srv.url, { token: edToken, mountpoint: mnt.mountpoint, cacheDir, args: ['--quiet-period', '0.5'] });
    expect((await stat(f())).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
  });
});

describe('where writing is refused', () => {
  it('published versions are EROFS, moves between datasets EXDEV, and a dataset folder itself is read-only', async () => {
    const v1 = path.join(datasetDir(mnt, ds.ops), '1.0');
    for (const args of [['touch', path.join(v1, 'new.txt')], ['mkdir', path.join(v1, 'd')], ['rm', path.join(v1, 'docs/keep.txt')], ['touch', path.join(datasetDir(mnt, ds.ops), 'x.txt')]]) {
      expect((await sh(args[0], args.slice(1))).stderr, args.join(' ')).toMatch(/Read-only file system/);
    }
    const from = path.join(draftOf(mnt, ds.ops), 'docs/keep.txt');
    const script = 'import os, sys\ntry:\n  os.rename(sys.argv[1], sys.argv[2])\nexcept OSError as e:\n  print(e.errno)';
    expect((await sh('python3', ['-c', script, from, path.join(draftOf(mnt, ds.other), 'keep.txt')])).stdout.trim()).toBe('18'); // EXDEV
    expect((await sh('python3', ['-c', script, from, path.join(v1, 'keep2.txt')])).stdout.trim()).toBe('30'); // EROFS
    expect((await sh('python3', ['-c', script, path.join(v1, 'docs/keep.txt'), path.join(draftOf(mnt, ds.ops), 'k.txt')])).stdout.trim()).toBe('30');
  });

  it('a token without edit rights has no draft folder; one whose role is revoked gets EACCES at create', async () => {
    // member: may view unpublished data, not edit; the server lists no draft for it (notes §2.4).
    const m = await startMount(srv.url, { token: memberToken });
    try {
      expect(await readdir(datasetDir(m, ds.edit))).not.toContain('draft');
      expect((await sh('touch', [path.join(draftOf(m, ds.edit), 'new.txt')])).stderr).toMatch(/No such file or directory/);
      expect((await sh('touch', [path.join(datasetDir(m, ds.edit), '1.0', 'new.txt')])).stderr).toMatch(/Read-only file system/);
    } finally {
      await m.dispose();
    }
    const r = await startMount(srv.url, { token: readerToken });
    try {
      expect((await readdir(datasetDir(r, ds.edit))).sort()).toEqual(['1.0', 'latest']);
    } finally {
      await r.dispose();
    }
    // A curator mounts, then loses the role: the draft folder is still listed (cached), writing is refused.
    const cur = await createUser(admin, 'wcurator');
    const a = await admin.post('/api/dataverses/wlab/assignments', { assignee: '@wcurator', role: 'curator' });
    expect(a.status).toBe(200);
    const c = await startMount(srv.url, { token: cur.token });
    try {
      expect(await readFile(path.join(draftOf(c, ds.meta), 'table.txt'), 'utf8')).toBe('x\n');
      expect((await admin.delete(`/api/dataverses/wlab/assignments/${a.json.data.id}`)).status).toBe(200);
      await new Promise((res) => setTimeout(res, 5500)); // the mount trusts a permission answer for 5 s
      const mark = await control.mark();
      expect((await sh('touch', [path.join(draftOf(c, ds.meta), 'new.txt')])).stderr).toMatch(/Permission denied/);
      expect((await sh('rm', [path.join(draftOf(c, ds.meta), 'table.txt')])).stderr).toMatch(/Permission denied/);
      expect(await writeRequests(control, mark)).toEqual([]);
    } finally {
      await c.dispose();
    }
  });
});

describe('dvfs status, sync, publish and unmount', () => {
  it('dvfs status lists a failed upload with the server reason; dvfs sync tries it again', async () => {
    const dir = draftOf(mnt, ds.pub);
    await control.setFaults({ rules: [{ path: `^/api/v1/datasets/${ds.pub.id}/add`, method: 'POST', status: 403, count: 1 }] });
    try {
      await writeFile(path.join(dir, 'first.txt'), 'first\n');
      let failed: { path: string; error?: string }[] = [];
      for (let i = 0; i < 100 && failed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const s = await dvfs(['status', mnt.mountpoint, '--json']);
        failed = JSON.parse(s.stdout).writes.failed;
      }
      expect(failed).toHaveLength(1);
      expect(failed[0].path).toBe('first.txt');
      expect(failed[0].error).toMatch(/403/);
      const text = await dvfs(['status', mnt.mountpoint]);
      expect(text.stdout).toMatch(/failed\s+add\s+.*first\.txt/);
      expect(text.stdout).toMatch(/reason: .*403/);
    } finally {
      await control.resetFaults();
    }
    await sync();
    expect((await fileAt(ds.pub, 'first.txt'))?.md5).toBe(md5('first\n'));
  });

  it('dvfs publish makes 1.0, then 2.0 (files changed) or 1.1 (metadata only); version folders are read-only', async () => {
    const dsDir = datasetDir(mnt, ds.pub);
    let r = await dvfs(['publish', dsDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/as version 1\.0/);
    expect(await readdir(dsDir)).toContain('1.0');
    expect(await readlink(path.join(dsDir, 'latest'))).toBe('1.0');
    expect(await readFile(path.join(dsDir, '1.0', 'first.txt'), 'utf8')).toBe('first\n');

    // Metadata only: a minor version.
    expect((await sh('setfattr', ['-n', 'user.dataverse.description', '-v', 'the first file', path.join(dsDir, 'draft', 'first.txt')])).code).toBe(0);
    r = await dvfs(['publish', path.join(dsDir, 'draft'), '--minor']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/as version 1\.1/);

    // A new file: the server refuses a minor version; a major one is 2.0.
    await writeFile(path.join(dsDir, 'draft', 'second.txt'), 'second\n');
    r = await dvfs(['publish', dsDir, '--minor']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot release as minor version/);
    r = await dvfs(['publish', dsDir, '--major']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/as version 2\.0/);
    expect((await readdir(dsDir)).sort()).toEqual(['1.0', '1.1', '2.0', 'draft', 'latest']);
    expect(await readlink(path.join(dsDir, 'latest'))).toBe('2.0');
    expect((await serverFiles(ed, ds.pub.id, '2.0')).map((f) => f.path)).toEqual(['first.txt', 'second.txt']);
    for (const v of ['1.0', '1.1', '2.0']) {
      expect((await sh('touch', [path.join(dsDir, v, 'first.txt')])).stderr, v).toMatch(/Read-only file system/);
      expect((await stat(path.join(dsDir, v, 'first.txt'))).mode & 0o222).toBe(0);
    }
  });

  it('dvfs unmount waits for pending uploads; --force leaves them for the next mount', async () => {
    const cacheDir = mnt.cacheDir;
    const mountpoint = mnt.mountpoint;
    await mnt.stop();
    const extra: MountProcess[] = [];
    try {
      // A long quiet period: nothing is sent before the unmount.
      let m = await startMount(srv.url, { token: edToken, mountpoint, cacheDir, args: ['--quiet-period', '600'] });
      extra.push(m);
      await writeFile(path.join(draftOf(m, ds.pub), 'at-unmount.txt'), 'sent at unmount\n');
      let r = await dvfs(['unmount', mountpoint]);
      expect(r.code, r.stderr).toBe(0);
      expect((await fileAt(ds.pub, 'at-unmount.txt'))?.md5).toBe(md5('sent at unmount\n'));

      m = await startMount(srv.url, { token: edToken, mountpoint, cacheDir, args: ['--quiet-period', '600'] });
      extra.push(m);
      await writeFile(path.join(draftOf(m, ds.pub), 'after-force.txt'), 'kept in the journal\n');
      const mark = await control.mark();
      r = await dvfs(['unmount', mountpoint, '--force']);
      expect(r.code, r.stderr).toBe(0);
      expect(await writeRequests(control, mark)).toEqual([]);
      expect(await fileAt(ds.pub, 'after-force.txt')).toBeUndefined();
      expect(m.output()).toMatch(/left in the write journal/);
    } finally {
      for (const m of extra) await m.stop();
    }
    mnt = await startMount(srv.url, { token: edToken, mountpoint, cacheDir, args: ['--quiet-period', '0.5'] });
    await sync();
    expect((await serverFiles(ed, ds.pub.id)).filter((f) => f.path === 'after-force.txt').map((f) => f.md5)).toEqual([md5('kept in the journal\n')]);
  });

  it('a second mount on the same cache directory is refused (one write journal, one process)', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'dvfs-mnt-'));
    try {
      const m = await startMount(srv.url, { token: edToken, mountpoint: other, cacheDir: mnt.cacheDir, expectExit: true });
      expect(m.proc.exitCode).toBe(1);
      expect(m.output()).toMatch(/another dvfs mount .* uses the write journal/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
