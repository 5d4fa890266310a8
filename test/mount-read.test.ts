// The read path end to end: a real `dvfs mount` of a real `dvfs serve`,
// driven by real tools (find, md5sum, cat, rsync, wget, sqlite3, python3, getfattr).
import { execFile as execFileCb, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { isMounted, startMount, type MountProcess } from './helpers/mount.js';
import { buildFixture, md5, type Fixture } from './helpers/dataset-fixture.js';
import { dvfs } from './helpers/draft.js';
import { runtimeFile } from '../src/cli/runtime.js';

const execFile = promisify(execFileCb);
const sh = async (cmd: string, args: string[], opts: { cwd?: string } = {}) =>
  (await execFile(cmd, args, { maxBuffer: 64 << 20, ...opts })).stdout;

let srv: ServeProcess;
let api: Api;
let fx: Fixture;
let editorMount: MountProcess;
let ds: string; // dataset folder inside the editor's mount

beforeAll(async () => {
  srv = await startServe({ args: ['--ingest-seconds', '0.5', '--publish-seconds', '0.2'] });
  api = new Api(srv.url, srv.adminToken);
  fx = await buildFixture(api);
  editorMount = await startMount(srv.url, { token: fx.editor.token });
  ds = path.join(editorMount.mountpoint, 'lab', fx.folder);
});

afterAll(async () => {
  await editorMount?.dispose();
  await srv?.dispose();
});

/** Files under a folder as "relative/path size", sorted. */
async function findFiles(dir: string): Promise<string[]> {
  const out = await sh('find', ['.', '-type', 'f', '-printf', '%P\t%s\n'], { cwd: dir });
  return out.split('\n').filter(Boolean).sort();
}

/** The same listing computed from the API's own JSON for a version. */
async function apiListing(version: string): Promise<string[]> {
  const r = await api.as(fx.editor.token).get(`/api/datasets/${fx.datasetId}/versions/${version}/files`);
  expect(r.status).toBe(200);
  return (r.json.data as { label: string; directoryLabel?: string; dataFile: { filesize: number; originalFileName?: string; originalFileSize?: number } }[])
    .map((fm) => {
      const name = fm.dataFile.originalFileName ?? fm.label; // tabular files show as their original
      const size = fm.dataFile.originalFileSize ?? fm.dataFile.filesize;
      return `${fm.directoryLabel ? `${fm.directoryLabel}/` : ''}${name}\t${size}`;
    })
    .sort();
}

describe('namespace', () => {
  it('shows collections by alias and datasets by a folder derived from the PID', async () => {
    expect(await readdir(editorMount.mountpoint)).toContain('lab');
    const lab = await readdir(path.join(editorMount.mountpoint, 'lab'));
    expect(lab).toContain('sub');
    expect(lab).toContain(fx.folder);
    expect(fx.folder.startsWith('doi-10.5072-FK2-')).toBe(true);
  });

  it('has one folder per published version, draft for an editor, and latest → draft', async () => {
    const entries = (await readdir(ds)).sort();
    expect(entries).toEqual(['1.0', '2.0', 'draft', 'latest']);
    expect(await sh('readlink', [path.join(ds, 'latest')])).toBe('draft\n');
    expect((await sh('ls', ['-a', path.join(ds, '1.0')])).split('\n').slice(0, 2)).toEqual(['.', '..']);
    // The link's time is its version's (the draft was created then), not the publication day.
    const versions = (await api.as(fx.editor.token).get(`/api/datasets/${fx.datasetId}/versions`)).json.data as { versionState: string; createTime: string }[];
    const draft = versions.find((v) => v.versionState === 'DRAFT')!;
    expect(Number(await sh('stat', ['-c', '%Y', path.join(ds, 'latest')]))).toBe(Math.floor(Date.parse(draft.createTime) / 1000));
  });

  it('find over each version equals the API listing, sizes included', async () => {
    for (const [folder, spec] of [['1.0', '1.0'], ['2.0', '2.0'], ['draft', ':draft']]) {
      expect(await findFiles(path.join(ds, folder))).toEqual(await apiListing(spec));
    }
  });

  it('every file reads back as the uploaded bytes (md5sum over the mount)', async () => {
    for (const [version, files] of Object.entries(fx.versions)) {
      // The editor is a curator: restricted files are readable too.
      const out = await sh('md5sum', files.map((f) => f.path), { cwd: path.join(ds, version) });
      const sums = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(34), l.slice(0, 32)]));
      for (const f of files) expect(sums[f.path], `${version}/${f.path}`).toBe(md5(f.bytes));
    }
  });

  it('shows an ingested CSV as its original upload', async () => {
    const text = await readFile(path.join(ds, '2.0', 'data/raw/2024/table.csv'), 'utf8');
    expect(text).toBe(fx.csv);
  });

  it('exposes metadata as user.dataverse.* extended attributes', async () => {
    const pid = await sh('getfattr', ['--only-values', '-n', 'user.dataverse.pid', ds]);
    expect(pid).toBe(fx.pid);
    const files = (await api.as(fx.editor.token).get(`/api/datasets/${fx.datasetId}/versions/2.0/files`)).json.data;
    const readme = files.find((f: { label: string }) => f.label === 'README.md');
    const sum = await sh('getfattr', ['--only-values', '-n', 'user.dataverse.checksum', path.join(ds, '2.0', 'README.md')]);
    expect(sum).toBe(`${readme.dataFile.checksum.type}:${readme.dataFile.checksum.value}`);
    const title = await sh('getfattr', ['--only-values', '-n', 'user.dataverse.title', path.join(ds, '2.0')]);
    expect(title).toBe('Mount Test Data');
  });

  it('reaches Access API variants by hidden @ paths that listings do not show', async () => {
    const dir = path.join(ds, '2.0', 'data/raw/2024');
    expect(await readdir(dir)).not.toContain('table.csv@tab');
    const tab = await readFile(path.join(dir, 'table.csv@tab'), 'utf8');
    expect(tab.split('\n')[0]).toBe('id\tname\tscore');
    expect(tab.split('\n')[1]).toBe('1\t"Smith, Ann"\t3.5');
    const ddi = await readFile(path.join(dir, 'table.csv@ddi.xml'), 'utf8');
    expect(ddi).toContain('codeBook');
    expect((await stat(path.join(dir, 'table.csv@tab'))).size).toBe(Buffer.byteLength(tab));
  });
});

describe('tools', () => {
  it('sqlite3 runs a query on a database file in the mount', async () => {
    const out = await sh('sqlite3', ['-readonly', path.join(ds, '2.0', 'db/stations.sqlite'), 'select count(*) from readings;']);
    expect(out.trim()).toBe('14600');
  });

  it('python reads a CSV from the mount', async () => {
    const script = 'import csv,sys\nrows=list(csv.DictReader(open(sys.argv[1], newline="")))\nprint(len(rows), rows[0]["name"], rows[2]["name"])';
    const out = await sh('python3', ['-c', script, path.join(ds, '2.0', 'data/raw/2024/table.csv')]);
    expect(out.trim()).toBe('3 Smith, Ann Q "the" R');
  });

  it('rsync -a of a version equals wget -r of its dirindex (original=true)', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-rsync-'));
    try {
      await sh('rsync', ['-a', `${path.join(ds, '2.0')}/`, path.join(work, 'rsync')]);
      const url = `${srv.url}/api/datasets/${fx.datasetId}/dirindex/?version=2.0&original=true`;
      // The recipe of the Dataverse guides; the restricted file is listed but cannot be downloaded by a guest.
      await execFile('wget', ['-q', '-r', '-e', 'robots=off', '-nH', '--cut-dirs=3', '--content-disposition', '--header', `X-Dataverse-key: ${fx.editor.token}`, '-P', path.join(work, 'wget'), url]).catch(() => undefined);
      const wgetFiles = (await findFiles(path.join(work, 'wget'))).filter((l) => !l.startsWith('.index') && !l.includes('/.index') && !l.startsWith('dirindex'));
      const decoded = wgetFiles.map((l) => decodeURIComponent(l.replace(/^datafile\//, '')));
      expect(decoded.length).toBe(fx.versions['2.0'].length);
      expect(decoded).toEqual(await findFiles(path.join(work, 'rsync')));
      for (const line of decoded) {
        const rel = line.split('\t')[0];
        const a = await readFile(path.join(work, 'rsync', rel));
        const w = wgetFiles.find((x) => decodeURIComponent(x.replace(/^datafile\//, '')) === line)!.split('\t')[0];
        expect(md5(await readFile(path.join(work, 'wget', w))), rel).toBe(md5(a));
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('permissions and errors', () => {
  it('a reader sees published versions only and gets EACCES on a restricted file until access is granted', async () => {
    const m = await startMount(srv.url, { token: fx.reader.token });
    try {
      const dir = path.join(m.mountpoint, 'lab', fx.folder);
      expect((await readdir(dir)).sort()).toEqual(['1.0', '2.0', 'latest']);
      expect(await sh('readlink', [path.join(dir, 'latest')])).toBe('2.0\n');
      const secret = path.join(dir, '2.0', 'private/secret.txt');
      await expect(readFile(secret)).rejects.toMatchObject({ code: 'EACCES' });
      const files = (await api.get(`/api/datasets/${fx.datasetId}/versions/2.0/files`)).json.data;
      const id = files.find((f: { label: string }) => f.label === 'secret.txt').dataFile.id;
      const g = await api.put(`/api/access/datafile/${id}/grantAccess/@rita`);
      expect(g.status).toBe(200);
      expect((await readFile(secret, 'utf8'))).toBe('top secret\n');
    } finally {
      await m.dispose();
    }
  });

  it('--token-file: the token is read from the file, re-read by dvfs refresh, and a rejected one is said in the log', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dvfs-token-'));
    const file = path.join(dir, 'token');
    await writeFile(file, `${fx.editor.token}\n`, { mode: 0o600 });
    const m = await startMount(srv.url, { args: ['--token-file', file] });
    const refreshed = async (n: number) => {
      expect((await dvfs(['refresh', m.mountpoint])).code).toBe(0);
      for (let i = 0; i < 100 && (m.output().match(/SIGHUP: listings refreshed/g) ?? []).length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      const secret = path.join(m.mountpoint, 'lab', fx.folder, '2.0', 'private', 'secret.txt');
      expect(await readFile(secret, 'utf8')).toBe('top secret\n'); // the editor's token, from the file
      expect(await readFile(`/proc/${m.proc.pid}/cmdline`, 'utf8')).not.toContain(fx.editor.token);
      await writeFile(file, 'not-a-real-token\n');
      await refreshed(1);
      await expect.poll(() => m.output(), { timeout: 5000 }).toMatch(/SIGHUP: the server rejects the token in .*token: .*401 Bad API key/);
      await writeFile(file, `${fx.editor.token}\n`);
      await refreshed(2);
      expect(m.output().match(/rejects the token/g)).toHaveLength(1);
    } finally {
      await m.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a guest does not see the unpublished dataset', async () => {
    const m = await startMount(srv.url);
    try {
      const sub = await readdir(path.join(m.mountpoint, 'lab', 'sub'));
      expect(sub).toEqual([]);
      expect(await readdir(path.join(m.mountpoint, 'lab'))).toContain(fx.folder);
      expect((await readdir(path.join(m.mountpoint, 'lab', fx.folder))).sort()).toEqual(['1.0', '2.0', 'latest']);
    } finally {
      await m.dispose();
    }
  });

  it('published version folders refuse writes with EROFS', async () => {
    const v = path.join(ds, '1.0');
    for (const args of [['touch', path.join(v, 'new.txt')], ['mkdir', path.join(v, 'newdir')], ['rm', path.join(v, 'README.md')], ['mv', path.join(v, 'README.md'), path.join(v, 'x.md')]]) {
      const err = await execFile(args[0], args.slice(1)).then(() => undefined, (e: { stderr: string }) => e.stderr);
      expect(err, args.join(' ')).toMatch(/Read-only file system/);
    }
  });

  it('a --read-only mount refuses dvfs publish, even with an editor token', async () => {
    const versions = async () => (await api.as(fx.editor.token).get(`/api/datasets/${fx.datasetId}/versions`)).json.data.length;
    const before = await versions();
    const m = await startMount(srv.url, { token: fx.editor.token, args: ['--read-only'] });
    try {
      const r = await dvfs(['publish', path.join(m.mountpoint, 'lab', fx.folder)]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/read-only mount/);
      expect(await versions()).toBe(before);
    } finally {
      await m.dispose();
    }
  });

  it('a bad token is a clear error at mount time and a non-zero exit', async () => {
    const m = await startMount(srv.url, { token: 'not-a-real-token', expectExit: true });
    try {
      expect(m.proc.exitCode).toBe(1);
      expect(m.output()).toMatch(/rejected the API token.*Bad API key/);
      expect(isMounted(m.mountpoint)).toBe(false);
    } finally {
      await m.dispose();
    }
  });
});

describe('lifecycle', () => {
  it('Ctrl-C unmounts cleanly', async () => {
    const m = await startMount(srv.url);
    try {
      expect(isMounted(m.mountpoint)).toBe(true);
      expect(await m.stop('SIGINT')).toBe(0);
      expect(isMounted(m.mountpoint)).toBe(false);
    } finally {
      await m.dispose();
    }
  });

  it('a mistaken second mount on a live mount fails clearly and leaves the first one manageable', async () => {
    const first = await startMount(srv.url, { token: fx.editor.token });
    try {
      const second = await startMount(srv.url, { mountpoint: first.mountpoint, token: fx.editor.token, expectExit: true });
      await second.dispose();
      expect(second.proc.exitCode).toBe(1);
      expect(second.output()).toMatch(/already mounted/);
      // The first mount is still registered: status and unmount find it.
      const status = await dvfs(['status', first.mountpoint]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(first.mountpoint);
      expect((await dvfs(['unmount', first.mountpoint])).code).toBe(0);
      expect(isMounted(first.mountpoint)).toBe(false);
    } finally {
      await first.dispose();
    }
  });

  it('a runtime file left by kill -9 whose pid now belongs to another process: unmount leaves that process alone', async () => {
    const first = await startMount(srv.url);
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const file = runtimeFile(first.mountpoint);
      const runtime = JSON.parse(await readFile(file, 'utf8'));
      await first.stop('SIGKILL');
      // As if the pid had been reused: the file (which kill -9 left) now names a live, unrelated process.
      await writeFile(file, JSON.stringify({ ...runtime, pid: other.pid }));
      const r = await dvfs(['unmount', first.mountpoint]);
      // (autoUnmount took the kernel mount away with the killed process; a stale one would be cleared.)
      expect(r.stderr + r.stdout).toMatch(/is not mounted|cleared the stale mount/);
      expect(isMounted(first.mountpoint)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 200)); // a signal, had one been sent, has arrived
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
      await first.dispose();
    }
  });

  it('a folder that is not empty is refused with a clear message, and left as it was', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dvfs-nonempty-'));
    try {
      await writeFile(path.join(dir, 'mine.txt'), 'keep me\n');
      const m = await startMount(srv.url, { mountpoint: dir, expectExit: true });
      await m.dispose();
      expect(m.proc.exitCode).toBe(1);
      expect(m.output()).toMatch(/is not empty \(1 entries\): mount on an empty folder/);
      expect(isMounted(dir)).toBe(false);
      expect(await readFile(path.join(dir, 'mine.txt'), 'utf8')).toBe('keep me\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a second mount after kill -9 of the first works without manual cleanup', async () => {
    const first = await startMount(srv.url);
    let second: MountProcess | undefined;
    try {
      await first.stop('SIGKILL');
      second = await startMount(srv.url, { mountpoint: first.mountpoint });
      expect(await readdir(second.mountpoint)).toContain('lab');
    } finally {
      await second?.dispose();
      await first.dispose();
    }
  });
});
