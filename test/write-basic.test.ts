// The write path against a real `dvfs serve`: adds and replaces land
// byte-exact under the names written, metadata survives a replace, renames
// before upload stay local, renames after upload are one metadata call,
// junk stays local, refused names fail before anything is sent, zips stay
// zips, identical content sends nothing. Results are checked through the
// server's API and downloads, and the request log.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError } from '../src/tree/errors.js';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createUser, publishDataset } from './helpers/fixtures.js';
import {
  addOnServer,
  count,
  downloadBytes,
  expectDraft,
  readAll,
  requestsSince,
  rewriteFile,
  serverDraft,
  startWriteEnv,
  writeFile,
  writeRequests,
  zipOf,
  type WriteEnv,
} from './write-helpers.js';

let env: WriteEnv;
beforeAll(async () => {
  env = await startWriteEnv();
});
afterAll(async () => {
  await env?.dispose();
});

/** The write requests (not GETs) sent while `fn` ran. */
async function sent(fn: () => Promise<unknown>): Promise<string[]> {
  const since = await env.control.mark();
  await fn();
  return writeRequests(await requestsSince(env.control, since));
}

async function expectErrno(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(FsError);
  expect((err as FsError).code).toBe(code);
}

describe('adds', () => {
  it('lands every new file byte-exact under its name and folder, one add each', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const files: Record<string, Buffer> = {
      'top.txt': Buffer.from('hello\n'),
      'a/b/c/deep.bin': randomBytes(300_000),
      'my folder/sub dir/données – é.txt': Buffer.from('non-ASCII name in a folder with spaces\n'),
      'empty.dat': Buffer.alloc(0),
      'tables/data.csv': Buffer.from('id,name\n1,"Smith, Ann"\n2,Bo\n'),
      'big.bin': randomBytes(3 * 1024 * 1024 + 17),
    };
    const reqs = await sent(async () => {
      for (const [p, data] of Object.entries(files)) await writeFile(w, ds, p, data);
      const r = await w.sync();
      expect(r.failed).toEqual([]);
    });
    expect(count(reqs, /^POST \/datasets\/\d+\/add$/)).toBe(6);
    expect(reqs).toHaveLength(6);
    // One edit at a time per dataset: no two adds overlap in time.
    const adds = (await env.control.requests(0)).entries.filter((e) => e.path === `/api/v1/datasets/${ds}/add`) as unknown as { time: string; ms: number }[];
    expect(adds).toHaveLength(6);
    for (let i = 1; i < adds.length; i++) {
      expect(Date.parse(adds[i].time)).toBeGreaterThanOrEqual(Date.parse(adds[i - 1].time) + adds[i - 1].ms - 1);
    }
    const got = await expectDraft(env.api, ds, files);
    // Not ingested: still a .csv with the bytes written.
    expect(got.get('tables/data.csv')!.contentType).toBe('text/csv');
    expect(got.get('my folder/sub dir/données – é.txt')!.directoryLabel).toBe('my folder/sub dir');
    expect(w.status().pending).toEqual([]);
    expect(w.counters.added).toBe(6);
  });

  it('stores a .zip as the same single zip file (not unpacked)', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const zip = await zipOf({ 'one.txt': 'first entry\n', 'dir/two.txt': 'second entry\n' });
    const inner = await zipOf({ 'x.csv': 'a,b\n1,2\n' });
    await writeFile(w, ds, 'arch.zip', zip);
    await writeFile(w, ds, 'z/inner.zip', inner);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'arch.zip': zip, 'z/inner.zip': inner });
  });

  it('starts the upload by itself after the last close and the quiet period', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer({ quietMs: 200 });
    const h = await w.create(ds, 'auto.txt');
    await w.write(h, Buffer.from('uploaded without sync\n'), 0);
    await new Promise((r) => setTimeout(r, 500));
    // Still open: nothing is sent while a writer holds the file.
    expect((await serverDraft(env.api, ds)).size).toBe(0);
    await w.release(h);
    for (let i = 0; i < 100 && (await serverDraft(env.api, ds)).size === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await expectDraft(env.api, ds, { 'auto.txt': 'uploaded without sync\n' });
  });
});

describe('fsync', () => {
  it('starts the upload on fsync while the file stays open; sync() sends what is there; the rest goes after the close', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer({ quietMs: 200 });
    const h = await w.create(ds, 'journal.log');
    await w.write(h, Buffer.from('entry 1\n'), 0);
    await w.fsync(h);
    for (let i = 0; i < 100 && (await serverDraft(env.api, ds)).size === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await expectDraft(env.api, ds, { 'journal.log': 'entry 1\n' });
    await w.write(h, Buffer.from('entry 2\n'), 8);
    // sync() with the file still open uploads what is there now and returns.
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'journal.log': 'entry 1\nentry 2\n' });
    await w.write(h, Buffer.from('entry 3\n'), 16);
    await w.release(h);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'journal.log': 'entry 1\nentry 2\nentry 3\n' });
    expect(w.status().pending).toEqual([]);
  });
});

describe('replaces', () => {
  it('keeps label, folder, description and categories, with one replace and nothing else', async () => {
    const ds = await env.newDataset();
    const old = Buffer.from('quarter 1\n');
    const before = await addOnServer(env.api, ds, 'report.txt', old, {
      directoryLabel: 'docs/2024',
      description: 'Quarterly report',
      categories: ['Data', 'Documentation'],
    });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      // Copy-on-write: open without O_TRUNC, append.
      const h = await w.open(ds, 'docs/2024/report.txt', { write: true });
      await w.write(h, Buffer.from('quarter 2\n'), old.length);
      await w.release(h);
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`POST /files/${before.dataFile.id}/replace`]);
    const files = await expectDraft(env.api, ds, { 'docs/2024/report.txt': 'quarter 1\nquarter 2\n' });
    const f = files.get('docs/2024/report.txt')!;
    expect(f.id).not.toBe(before.dataFile.id);
    expect(f.description).toBe('Quarterly report');
    expect(f.categories).toEqual(['Data', 'Documentation']);
  });

  it('sends nothing when the content is identical', async () => {
    const ds = await env.newDataset();
    await addOnServer(env.api, ds, 'same.txt', 'unchanged bytes\n', { description: 'd' });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      await rewriteFile(w, ds, 'same.txt', 'unchanged bytes\n');
      const h = await w.open(ds, 'same.txt', { write: true });
      await w.release(h);
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([]);
    expect(w.counters.identicalSkipped).toBeGreaterThan(0);
    expect(w.status().pending).toEqual([]);
  });

  it('sends forceReplace when the stored type differs from the new one', async () => {
    const ds = await env.newDataset();
    // Stored as text/plain because its uploader said so; our upload of notes.dat is typed by name (octet-stream).
    const before = await addOnServer(env.api, ds, 'notes.dat', 'plain words\n', {}, 'text/plain');
    expect(before.dataFile.contentType).toBe('text/plain');
    const { w } = await env.writer();
    const data = randomBytes(64);
    await rewriteFile(w, ds, 'notes.dat', data);
    expect((await w.sync()).failed).toEqual([]);
    const files = await expectDraft(env.api, ds, { 'notes.dat': data });
    expect(files.get('notes.dat')!.id).not.toBe(before.dataFile.id);
  });
});

describe('renames', () => {
  it("rsync's temp file then rename ends in exactly one add under the final name", async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const data = randomBytes(200_000);
    const reqs = await sent(async () => {
      await writeFile(w, ds, 'dir1/.f.bin.Xy12Ab', data);
      await w.utimens(ds, 'dir1/.f.bin.Xy12Ab', new Date('2020-01-02T03:04:05Z'));
      await w.rename(ds, 'dir1/.f.bin.Xy12Ab', 'dir1/f.bin');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatch(/^POST \/datasets\/\d+\/add$/);
    await expectDraft(env.api, ds, { 'dir1/f.bin': data });
    // The mtime rsync set is what the mount shows afterwards.
    expect((await w.view(ds)).files.get('dir1/f.bin')!.mtime!.toISOString()).toBe('2020-01-02T03:04:05.000Z');
  });

  it('an atomic save over an existing file (sed -i, rsync, os.replace) is one replace that keeps its metadata', async () => {
    const ds = await env.newDataset();
    const before = await addOnServer(env.api, ds, 'cfg.txt', 'v1\n', { directoryLabel: 'etc', description: 'Settings', categories: ['Code'] });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      await writeFile(w, ds, 'etc/sedAb12Cd', 'v2\n');
      await w.rename(ds, 'etc/sedAb12Cd', 'etc/cfg.txt');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`POST /files/${before.dataFile.id}/replace`]);
    const f = (await expectDraft(env.api, ds, { 'etc/cfg.txt': 'v2\n' })).get('etc/cfg.txt')!;
    expect(f.description).toBe('Settings');
    expect(f.categories).toEqual(['Code']);
  });

  it('a temp file renamed over a file with edits still pending is still one replace of the server file', async () => {
    const ds = await env.newDataset();
    const before = await addOnServer(env.api, ds, 'log.txt', 'line 1\n', { description: 'Log' });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      const h = await w.open(ds, 'log.txt', { write: true });
      await w.write(h, Buffer.from('line 2\n'), 7);
      await w.release(h);
      await writeFile(w, ds, '.log.txt.Q9', 'line 1\nline 2\nline 3\n');
      await w.rename(ds, '.log.txt.Q9', 'log.txt');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`POST /files/${before.dataFile.id}/replace`]);
    const f = (await expectDraft(env.api, ds, { 'log.txt': 'line 1\nline 2\nline 3\n' })).get('log.txt')!;
    expect(f.description).toBe('Log');
  });

  it("vim's save (rename to backup, write new, delete backup) is one replace that keeps its metadata", async () => {
    const ds = await env.newDataset();
    const before = await addOnServer(env.api, ds, 'notes.md', '# old\n', { directoryLabel: 'text', description: 'My notes' });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      await writeFile(w, ds, 'text/4913', ''); // vim's "can I create files here" probe
      await w.unlink(ds, 'text/4913');
      await w.rename(ds, 'text/notes.md', 'text/notes.md~');
      await writeFile(w, ds, 'text/.notes.md.swp', 'swap');
      await writeFile(w, ds, 'text/notes.md', '# new\n');
      await w.unlink(ds, 'text/notes.md~');
      await w.unlink(ds, 'text/.notes.md.swp');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`POST /files/${before.dataFile.id}/replace`]);
    const f = (await expectDraft(env.api, ds, { 'text/notes.md': '# new\n' })).get('text/notes.md')!;
    expect(f.description).toBe('My notes');
  });

  it('renaming an uploaded file is one metadata call, no upload; the file keeps its id', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    await writeFile(w, ds, 'r1.txt', 'rename me\n');
    await w.sync();
    const id = (await serverDraft(env.api, ds)).get('r1.txt')!.id;
    const reqs = await sent(async () => {
      await w.rename(ds, 'r1.txt', 'moved/here/r2.txt');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`POST /files/${id}/metadata`]);
    const files = await expectDraft(env.api, ds, { 'moved/here/r2.txt': 'rename me\n' });
    expect(files.get('moved/here/r2.txt')!.id).toBe(id);
  });

  it('renaming a folder moves every file in it with metadata calls only', async () => {
    const ds = await env.newDataset();
    const a = await addOnServer(env.api, ds, 'a.txt', 'A\n', { directoryLabel: 'fold' });
    const b = await addOnServer(env.api, ds, 'b.txt', 'B\n', { directoryLabel: 'fold/sub' });
    await addOnServer(env.api, ds, 'c.txt', 'C\n', { directoryLabel: 'other' });
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      await w.rename(ds, 'fold', 'renamed dir');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs.sort()).toEqual([`POST /files/${a.dataFile.id}/metadata`, `POST /files/${b.dataFile.id}/metadata`].sort());
    await expectDraft(env.api, ds, { 'renamed dir/a.txt': 'A\n', 'renamed dir/sub/b.txt': 'B\n', 'other/c.txt': 'C\n' });
  });

  it('swaps two uploaded files through a temporary name without losing either', async () => {
    const ds = await env.newDataset();
    await addOnServer(env.api, ds, 'x.txt', 'X\n');
    await addOnServer(env.api, ds, 'y.txt', 'Y\n');
    const { w } = await env.writer();
    await w.rename(ds, 'x.txt', 'tmp.txt');
    await w.rename(ds, 'y.txt', 'x.txt');
    await w.rename(ds, 'tmp.txt', 'y.txt');
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'x.txt': 'Y\n', 'y.txt': 'X\n' });
  });
});

describe('deletes', () => {
  it('deletes a server file with one DELETE, and a file never uploaded with nothing', async () => {
    const ds = await env.newDataset();
    const gone = await addOnServer(env.api, ds, 'gone.txt', 'bye\n');
    await addOnServer(env.api, ds, 'stays.txt', 'stay\n');
    const { w } = await env.writer();
    const reqs = await sent(async () => {
      await w.unlink(ds, 'gone.txt');
      await writeFile(w, ds, 'short-lived.txt', 'never sent\n');
      await w.unlink(ds, 'short-lived.txt');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toEqual([`DELETE /files/${gone.dataFile.id}`]);
    await expectDraft(env.api, ds, { 'stays.txt': 'stay\n' });
  });
});

describe('junk and names', () => {
  it('keeps editor and desktop junk local: readable, listed, never uploaded, kept across a remount', async () => {
    const ds = await env.newDataset();
    const { w, stateDir } = await env.writer();
    const junk = ['.DS_Store', 'doc/x.swp', 'doc/.~lock.report.odt#', 'doc/~$budget.docx', 'doc/._report.odt'];
    const reqs = await sent(async () => {
      for (const p of junk) await writeFile(w, ds, p, `junk ${p}`);
      await writeFile(w, ds, 'doc/report.odt', 'real');
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(reqs).toHaveLength(1);
    await expectDraft(env.api, ds, { 'doc/report.odt': 'real' });
    for (const p of junk) expect((await readAll(w, ds, p)).toString()).toBe(`junk ${p}`);
    const view = await w.view(ds);
    for (const p of junk) expect(view.files.get(p)?.local?.junk).toBe(true);
    await w.close();
    const again = await env.writer({ stateDir });
    expect((await readAll(again.w, ds, 'doc/x.swp')).toString()).toBe('junk doc/x.swp');
    expect(again.w.status().pending.filter((i) => i.op === 'local')).toHaveLength(junk.length);
  });

  it('refuses names the server would refuse or alter with EINVAL, logs the rule, and sends nothing', async () => {
    const ds = await env.newDataset();
    const { w, logs } = await env.writer();
    await writeFile(w, ds, 'ok.txt', 'fine\n');
    const reqs = await sent(async () => {
      await expectErrno(w.create(ds, 'a:b.txt'), 'EINVAL');
      await expectErrno(w.create(ds, 'what?.txt'), 'EINVAL');
      await expectErrno(w.create(ds, 'semi;colon'), 'EINVAL');
      await expectErrno(w.create(ds, '   '), 'EINVAL');
      await expectErrno(w.create(ds, 'ü-folder/x.txt'), 'EINVAL');
      await expectErrno(w.mkdir(ds, '.git'), 'EINVAL'); // the server would store it as "git"
      await expectErrno(w.mkdir(ds, 'trailing-'), 'EINVAL');
      await expectErrno(w.mkdir(ds, 'a (copy)'), 'EINVAL');
      await expectErrno(w.rename(ds, 'ok.txt', 'bad|name.txt'), 'EINVAL');
      await expectErrno(w.rename(ds, 'ok.txt', '.hidden/ok.txt'), 'EINVAL');
    });
    expect(reqs).toEqual([]);
    expect(logs.some((l) => /a:b\.txt.*EINVAL.*rule label-characters/.test(l))).toBe(true);
    expect(logs.some((l) => /\.git.*rule folder-edges/.test(l))).toBe(true);
    expect(logs.some((l) => /ü-folder.*rule folder-characters/.test(l))).toBe(true);
    // Allowed: non-ASCII and leading dots in file names, dots inside a folder path.
    await writeFile(w, ds, 'sub/.config/ünïcode.txt', 'ok\n');
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'ok.txt': 'fine\n', 'sub/.config/ünïcode.txt': 'ok\n' });
  });
});

describe('folders, metadata, times, permissions', () => {
  it('keeps mkdir folders local until a file lands in them', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    await w.mkdir(ds, 'newdir');
    await w.mkdir(ds, 'newdir/deeper');
    await w.mkdir(ds, 'empty');
    let view = await w.view(ds);
    expect(view.dirs.has('newdir/deeper')).toBe(true);
    await expectErrno(w.mkdir(ds, 'newdir'), 'EEXIST');
    await expectErrno(w.rmdir(ds, 'newdir'), 'ENOTEMPTY');
    await w.rmdir(ds, 'empty');
    await writeFile(w, ds, 'newdir/deeper/f.txt', 'in a new folder\n');
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'newdir/deeper/f.txt': 'in a new folder\n' });
    expect(w.status().pending).toEqual([]);
    view = await w.view(ds);
    expect(view.dirs.has('empty')).toBe(false);
    expect(view.dirs.has('newdir/deeper')).toBe(true);
  });

  it('a journal holding only an empty folder and a local-only file has no changes to finish at the next mount', async () => {
    const ds = await env.newDataset();
    const first = await env.writer();
    await first.w.mkdir(ds, 'empty');
    await writeFile(first.w, ds, '.DS_Store', 'finder\n');
    await first.w.close({ waitForUploads: false });
    const again = await env.writer({ stateDir: first.stateDir });
    expect(again.logs.join('\n')).not.toMatch(/pending change/);
    expect(again.w.status().pending.map((i) => i.op).sort()).toEqual(['folder', 'local']);
  });

  it('keeps a folder emptied by rm, mv or rmdir as an empty local folder until rmdir or a file lands in it', async () => {
    const ds = await env.newDataset();
    for (const [dir, name] of [['notes', 'a.txt'], ['a/b/c', 'x.txt'], ['m', 'only.txt'], ['keep', 'other.txt'], ['outer/inner', 'z.txt']]) {
      await addOnServer(env.api, ds, name, `${dir}/${name}\n`, { directoryLabel: dir });
    }
    const { w, stateDir } = await env.writer();
    const dirsOf = async (x: typeof w) => [...(await x.view(ds)).dirs.keys()].sort();

    // rm of the last file, before and after the delete reached the server and the listing was refreshed.
    await w.unlink(ds, 'notes/a.txt');
    expect(await dirsOf(w)).toContain('notes');
    expect((await w.sync()).failed).toEqual([]);
    expect([...(await serverDraft(env.api, ds)).keys()].some((p) => p.startsWith('notes/'))).toBe(false);
    expect(await w.stat(ds, 'notes')).toMatchObject({ dir: true });
    // A file lands in it: the folder exists on the server, the local folder is gone from the journal.
    await writeFile(w, ds, 'notes/new.txt', 'replacement\n');
    expect((await w.sync()).failed).toEqual([]);
    expect((await serverDraft(env.api, ds)).get('notes/new.txt')).toBeDefined();
    expect(w.status().pending).toEqual([]);
    // Emptied again (a local file this time, not uploaded yet), then rmdir'ed.
    await writeFile(w, ds, 'notes/tmp.txt', 'tmp\n');
    await w.unlink(ds, 'notes/tmp.txt');
    await w.unlink(ds, 'notes/new.txt');
    expect(await dirsOf(w)).toContain('notes');
    await w.rmdir(ds, 'notes');
    expect(await dirsOf(w)).not.toContain('notes');

    // Nested: emptying a/b/c keeps it; rmdir a/b/c keeps a/b (rm -r goes bottom up).
    await w.unlink(ds, 'a/b/c/x.txt');
    expect(await dirsOf(w)).toEqual(expect.arrayContaining(['a', 'a/b', 'a/b/c']));
    await expectErrno(w.rmdir(ds, 'a/b'), 'ENOTEMPTY');
    await w.rmdir(ds, 'a/b/c');
    expect(await dirsOf(w)).toEqual(expect.arrayContaining(['a', 'a/b']));
    await w.rmdir(ds, 'a/b');
    await w.rmdir(ds, 'a');
    expect((await dirsOf(w)).filter((d) => d === 'a' || d.startsWith('a/'))).toEqual([]);

    // mv of the last file out, and of the last subfolder out.
    await w.rename(ds, 'm/only.txt', 'keep/only.txt');
    await w.rename(ds, 'outer/inner', 'inner');
    expect(await dirsOf(w)).toEqual(expect.arrayContaining(['m', 'outer', 'inner']));
    expect((await w.sync()).failed).toEqual([]);
    const server = [...(await serverDraft(env.api, ds)).keys()].sort();
    expect(server).toEqual(['inner/z.txt', 'keep/only.txt', 'keep/other.txt']);

    // Like mkdir'ed folders, emptied folders are in the write journal: a remount on the same cache keeps them.
    await w.close();
    const again = (await env.writer({ stateDir })).w;
    expect(await dirsOf(again)).toEqual(expect.arrayContaining(['m', 'outer']));
    await again.rmdir(ds, 'm');
    await again.rmdir(ds, 'outer');
    expect(await dirsOf(again)).toEqual(['', 'inner', 'keep']);
    expect(again.status().pending).toEqual([]);
  });

  it('sets description, categories and restriction: with the add for a new file, one metadata call for a server file', async () => {
    const ds = await env.newDataset();
    const existing = await addOnServer(env.api, ds, 'old.txt', 'old\n');
    const { w } = await env.writer();
    await writeFile(w, ds, 'new.txt', 'new\n');
    await w.setMetadata(ds, 'new.txt', { description: 'A new file', categories: ['Data'] });
    const reqs = await sent(async () => {
      await w.setMetadata(ds, 'old.txt', { description: 'Described later', categories: ['Code', 'Data'] });
      expect((await w.sync()).failed).toEqual([]);
    });
    expect(count(reqs, /\/add$/)).toBe(1);
    expect(reqs).toContain(`POST /files/${existing.dataFile.id}/metadata`);
    expect(reqs).toHaveLength(2);
    const files = await serverDraft(env.api, ds);
    expect(files.get('new.txt')).toMatchObject({ description: 'A new file', categories: ['Data'] });
    expect(files.get('old.txt')).toMatchObject({ description: 'Described later', categories: ['Code', 'Data'], id: existing.dataFile.id });
  });

  it('remembers utimens across remounts, for uploaded files, server files and folders', async () => {
    const ds = await env.newDataset();
    const srvFile = await addOnServer(env.api, ds, 's.txt', 'server\n', { directoryLabel: 'd' });
    const { w, stateDir } = await env.writer();
    await writeFile(w, ds, 'd/u.txt', 'uploaded\n');
    const t1 = new Date('2019-05-06T07:08:09Z');
    const t2 = new Date('2018-01-01T00:00:00Z');
    const t3 = new Date('2017-03-03T03:03:03Z');
    await w.utimens(ds, 'd/u.txt', t1);
    await w.utimens(ds, 'd/s.txt', t2);
    await w.utimens(ds, 'd', t3);
    await w.close();
    const { w: again } = await env.writer({ stateDir });
    const view = await again.view(ds);
    expect(view.files.get('d/u.txt')!.mtime!.getTime()).toBe(t1.getTime());
    expect(view.files.get('d/s.txt')!.mtime!.getTime()).toBe(t2.getTime());
    expect(view.files.get('d/s.txt')!.fm!.dataFile.id).toBe(srvFile.dataFile.id);
    expect(view.dirs.get('d')!.mtime!.getTime()).toBe(t3.getTime());
  });

  it('answers EACCES to a token without edit rights, before anything is written', async () => {
    const ds = await env.newDataset();
    const reader = await createUser(env.admin, 'noedit');
    const { w } = await env.writer({ token: reader.token });
    await expectErrno(w.create(ds, 'x.txt'), 'EACCES');
    expect(w.status().pending).toEqual([]);
  });

  it('reads back what was written before it is uploaded, and the server bytes after', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const data = randomBytes(150_000);
    await writeFile(w, ds, 'rb.bin', data);
    expect((await readAll(w, ds, 'rb.bin')).equals(data)).toBe(true);
    await w.sync();
    expect((await readAll(w, ds, 'rb.bin')).equals(data)).toBe(true);
    const id = (await serverDraft(env.api, ds)).get('rb.bin')!.id;
    expect((await downloadBytes(env.api, id)).equals(data)).toBe(true);
  });
});

describe('the end of a mount, conflicts, publishing, secrets', () => {
  it('close() waits until everything pending has landed', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer({ quietMs: 60_000 });
    await writeFile(w, ds, 'a.txt', 'A');
    await writeFile(w, ds, 'b/c.txt', 'C');
    expect((await serverDraft(env.api, ds)).size).toBe(0);
    const r = await w.close();
    expect(r.failed).toEqual([]);
    await expectDraft(env.api, ds, { 'a.txt': 'A', 'b/c.txt': 'C' });
  });

  it("never leaves a file under a name the server made up: another client's file at the name fails loudly", async () => {
    const ds = await env.newDataset();
    // The namespace's listing is stale: it does not know the file another client just added.
    const { w } = await env.writer({ serverFiles: async () => [] });
    await addOnServer(env.api, ds, 'dup.txt', 'theirs\n');
    await writeFile(w, ds, 'dup.txt', 'mine\n');
    const r = await w.sync();
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0].error).toMatch(/"dup\.txt" already exists on the server/);
    await expectDraft(env.api, ds, { 'dup.txt': 'theirs\n' }); // no dup-1.txt left behind
    expect((await readAll(w, ds, 'dup.txt')).toString()).toBe('mine\n'); // the local bytes are kept
  });

  it('refuses to move a file onto a name another client took meanwhile, even at the root', async () => {
    const ds = await env.newDataset();
    const inFolder = await addOnServer(env.api, ds, 'x.txt', 'in a folder\n', { directoryLabel: 'a' });
    const { w } = await env.writer({ serverFiles: async () => [inFolder] });
    await addOnServer(env.api, ds, 'x.txt', 'at the root\n');
    await w.rename(ds, 'a/x.txt', 'x.txt');
    const r = await w.sync();
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]).toMatchObject({ path: 'x.txt', op: 'move' });
    expect(r.failed[0].error).toMatch(/"x\.txt" already exists on the server/);
    await expectDraft(env.api, ds, { 'a/x.txt': 'in a folder\n', 'x.txt': 'at the root\n' });
  });

  it('writes after a publish wait for finalizePublication and go to a new draft', async () => {
    const ds = await env.newDataset();
    const v1 = await addOnServer(env.api, ds, 'pub.txt', 'published\n', { description: 'In 1.0' });
    await addOnServer(env.api, ds, 'keep.txt', 'keep\n');
    await publishDataset(env.api, ds);
    const r = await env.api.post(`/api/datasets/${ds}/actions/:publish?type=major`);
    expect(r.status).toBe(403); // nothing changed: nothing to publish, and the writer starts from here
    await env.admin.post(`/api/control/locks/${ds}?type=finalizePublication&seconds=1`);
    const { w } = await env.writer();
    await rewriteFile(w, ds, 'pub.txt', 'edited after 1.0\n');
    await writeFile(w, ds, 'new.txt', 'new in the draft\n');
    await w.rename(ds, 'keep.txt', 'kept/keep.txt');
    expect((await w.sync()).failed).toEqual([]);
    const files = await expectDraft(env.api, ds, { 'pub.txt': 'edited after 1.0\n', 'new.txt': 'new in the draft\n', 'kept/keep.txt': 'keep\n' });
    expect(files.get('pub.txt')!.description).toBe('In 1.0');
    // Version 1.0 still has the old bytes.
    expect((await downloadBytes(env.api, v1.dataFile.id)).toString()).toBe('published\n');
  });

  it('keeps the API token out of the journal, the staged files and the log', async () => {
    const ds = await env.newDataset();
    const { w, stateDir, logs } = await env.writer();
    await env.control.setFaults({ rules: [{ path: '/add$', status: 503, count: 1 }] });
    await writeFile(w, ds, 'secret-free.txt', 'x');
    await writeFile(w, ds, 'pending.txt', 'y');
    await w.sync();
    await env.control.resetFaults();
    await writeFile(w, ds, 'left-pending.txt', 'z');
    await w.close({ waitForUploads: false });
    const all: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, d.name);
        if (d.isDirectory()) await walk(p);
        else all.push(await readFile(p, 'latin1'));
      }
    };
    await walk(stateDir);
    expect(all.length).toBeGreaterThan(1);
    expect(all.some((t) => t.includes(env.editorToken))).toBe(false);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.some((l) => l.includes(env.editorToken))).toBe(false);
  });
});
