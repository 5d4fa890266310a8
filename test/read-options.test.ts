// Read-path options and corners over a real mount: mount roots, the archival
// tabular view, every Access API variant (compared with the API's own
// download) and statfs. (`dvfs demo` is in demo.test.ts.)
import { execFile as execFileCb } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount } from './helpers/mount.js';
import { addFile, createCollection, createDataset, publishCollection, publishDataset, waitForNoLocks } from './helpers/fixtures.js';
import { folderFor, md5 } from './helpers/dataset-fixture.js';
import { PNG } from 'pngjs';

const execFile = promisify(execFileCb);

let srv: ServeProcess;
let api: Api;
let ds: { id: number; pid: string };
let files: Record<string, { id: number; label: string; filesize: number; originalFileSize?: number; md5?: string }>;
const csv = 'station,tmin,tmax\nA,1.5,9\nB,-2,7.25\n';
const raw = Buffer.from('some raw bytes\n'.repeat(1000));

function pngBytes(): Buffer {
  const p = new PNG({ width: 200, height: 100 });
  p.data.fill(200);
  return PNG.sync.write(p);
}

beforeAll(async () => {
  srv = await startServe({ args: ['--ingest-seconds', '0.3'] });
  api = new Api(srv.url, srv.adminToken);
  await createCollection(api, 'root', 'opt');
  await publishCollection(api, 'opt');
  await createCollection(api, 'opt', 'inner');
  await publishCollection(api, 'inner');
  ds = await createDataset(api, 'inner', 'Options');
  await addFile(api, ds.id, 'table.csv', csv);
  await addFile(api, ds.id, 'raw.bin', raw);
  await addFile(api, ds.id, 'pic.png', pngBytes());
  await waitForNoLocks(api, ds.id);
  await publishDataset(api, ds.id);
  const list = (await api.get(`/api/datasets/${ds.id}/versions/1.0/files`)).json.data as {
    label: string;
    dataFile: { id: number; filesize: number; originalFileSize?: number; md5?: string };
  }[];
  files = Object.fromEntries(list.map((f) => [f.label, { ...f.dataFile, label: f.label }]));
});
afterAll(async () => srv?.dispose());

describe('mount roots', () => {
  it('mounts one collection by alias', async () => {
    const m = await startMount(srv.url, { args: ['--root', 'inner'] });
    try {
      expect(await readdir(m.mountpoint)).toEqual([folderFor(ds.pid)]);
    } finally {
      await m.dispose();
    }
  });

  it('mounts one dataset by PID: its versions at the top', async () => {
    const m = await startMount(srv.url, { args: ['--root', ds.pid] });
    try {
      expect((await readdir(m.mountpoint)).sort()).toEqual(['1.0', 'latest']);
      expect(md5(await readFile(path.join(m.mountpoint, 'latest', 'raw.bin')))).toBe(md5(raw));
    } finally {
      await m.dispose();
    }
  });

  it('refuses an unknown root with a clear message', async () => {
    const m = await startMount(srv.url, { args: ['--root', 'no-such-collection'], expectExit: true });
    try {
      expect(m.proc.exitCode).toBe(1);
      expect(m.output()).toMatch(/no-such-collection was not found/);
    } finally {
      await m.dispose();
    }
  });
});

describe('tabular views and variants', () => {
  let m: Awaited<ReturnType<typeof startMount>>;
  let dir: string;
  beforeAll(async () => {
    m = await startMount(srv.url);
    dir = path.join(m.mountpoint, 'opt', 'inner', folderFor(ds.pid), '1.0');
  });
  afterAll(async () => m?.dispose());

  /** The API's own download of a variant (the independent source). */
  async function apiBytes(p: string): Promise<Buffer> {
    const r = await api.as(undefined).get(p);
    expect(r.status, p).toBe(200);
    return r.body;
  }

  it('shows the ingested table as the original upload by default', async () => {
    expect((await readdir(dir)).sort()).toEqual(['pic.png', 'raw.bin', 'table.csv']);
    expect(await readFile(path.join(dir, 'table.csv'), 'utf8')).toBe(csv);
  });

  it('every variant reads as the API serves it, with an exact size', async () => {
    const t = files['table.tab'].id;
    const p = files['pic.png'].id;
    const cases: [string, string][] = [
      ['table.csv@original', `/api/access/datafile/${t}?format=original`],
      ['table.csv@tab', `/api/access/datafile/${t}`],
      ['table.csv@tab-noheader', `/api/access/datafile/${t}?noVarHeader=true`],
      ['table.csv@prep', `/api/access/datafile/${t}?format=prep`],
      ['table.csv@ddi.xml', `/api/access/datafile/${t}/metadata/ddi`],
      ['table.csv@subset=1,3', `/api/access/datafile/${t}?format=subset&variables=1,3`],
      ['pic.png@thumb.png', `/api/access/datafile/${p}?imageThumb=true`],
      ['pic.png@thumb-32.png', `/api/access/datafile/${p}?imageThumb=32`],
    ];
    // Subset variables are DataVariable ids: use the real ones of this file.
    const ddi = (await apiBytes(`/api/access/datafile/${t}/metadata/ddi`)).toString();
    const ids = [...ddi.matchAll(/<var ID="v(\d+)"/g)].map((x) => x[1]);
    expect(ids).toHaveLength(3);
    cases[5] = [`table.csv@subset=${ids[0]},${ids[2]}`, `/api/access/datafile/${t}?format=subset&variables=${ids[0]},${ids[2]}`];
    for (const [name, url] of cases) {
      const want = await apiBytes(url);
      const got = await readFile(path.join(dir, name));
      expect(md5(got), name).toBe(md5(want));
      expect((await stat(path.join(dir, name))).size, name).toBe(want.length);
    }
    const bundle = await readFile(path.join(dir, 'table.csv@bundle.zip'));
    expect(bundle.subarray(0, 2).toString()).toBe('PK');
    const json = JSON.parse(await readFile(path.join(dir, 'raw.bin@json'), 'utf8'));
    expect(json.dataFile.id).toBe(files['raw.bin'].id);
  });

  it('an unsupported variant is ENOENT, and variants are not listed', async () => {
    await expect(stat(path.join(dir, 'raw.bin@tab'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(path.join(dir, 'table.csv@nonsense'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(dir)).some((n) => n.includes('@'))).toBe(false);
  });

  it('--tabular archival shows the stored .tab instead', async () => {
    const a = await startMount(srv.url, { args: ['--tabular', 'archival'] });
    try {
      const d = path.join(a.mountpoint, 'opt', 'inner', folderFor(ds.pid), '1.0');
      expect((await readdir(d)).sort()).toEqual(['pic.png', 'raw.bin', 'table.tab']);
      const want = await apiBytes(`/api/access/datafile/${files['table.tab'].id}?noVarHeader=true`);
      expect(await readFile(path.join(d, 'table.tab'))).toEqual(want);
      expect((await stat(path.join(d, 'table.tab'))).size).toBe(files['table.tab'].filesize);
    } finally {
      await a.dispose();
    }
  });

  it('--show-variants lists them', async () => {
    const a = await startMount(srv.url, { args: ['--show-variants'] });
    try {
      const d = path.join(a.mountpoint, 'opt', 'inner', folderFor(ds.pid), '1.0');
      const names = await readdir(d);
      expect(names).toContain('table.csv@ddi.xml');
      expect(names).toContain('pic.png@thumb.png');
      // Every listed entry opens (find and rsync of the folder work): none the server cannot make.
      await promisify(execFileCb)('find', [d, '-type', 'f', '-exec', 'cat', '{}', '+'], { maxBuffer: 64 << 20, encoding: 'buffer' });
    } finally {
      await a.dispose();
    }
  });

  it('statfs answers (df works on the mount)', async () => {
    const { stdout } = await execFile('df', ['-P', m.mountpoint]);
    expect(stdout).toContain(m.mountpoint);
  });
});
