// Copying out a folder of many small files (rsync -a, cp -r) through a real
// mount: the files come in zips of many files each (GET
// /api/access/datafiles/{ids}), not one request per file, and every byte is
// what was uploaded. A file the zip leaves out (restricted, for a reader
// without access) or brings damaged fails alone, with the errno a single
// download gives (EACCES, EIO).
import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stationCsv } from '../src/server/seed/demo-content.js';
import { Api } from './helpers/api.js';
import { Control, type LogEntry } from './helpers/control.js';
import { folderFor, md5 } from './helpers/dataset-fixture.js';
import { dvfs } from './helpers/draft.js';
import { addFile, createCollection, createDataset, createUser, publishCollection, publishDataset, waitForNoLocks } from './helpers/fixtures.js';
import { readTokensFile, startMount } from './helpers/mount.js';
import { startServe, type ServeProcess } from './helpers/serve.js';

const execFile = promisify(execFileCb);

async function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stderr: x.stderr ?? '' };
  }
}

const singles = (log: LogEntry[]) => log.filter((e) => e.method === 'GET' && /\/access\/datafile\/\d+$/.test(e.path));
const zips = (log: LogEntry[]) => log.filter((e) => e.method === 'GET' && /\/access\/datafiles\/[\d,]+$/.test(e.path));

describe('the demo dataset of 2,000 small files', () => {
  let srv: ServeProcess;
  beforeAll(async () => {
    srv = await startServe({ args: ['--seed', 'demo'], startTimeoutMs: 300_000 });
  }, 320_000);
  afterAll(async () => {
    await srv?.dispose();
  });

  it('rsync -a copies every byte as uploaded, in zips of many files', async () => {
    const token = (await readTokensFile(srv.dataDir)).editor.token;
    const api = new Api(srv.url, token);
    const item = (await api.get('/api/search?q=*&type=dataset&per_page=100')).json.data.items.find((i: { name: string }) => i.name === 'Weather Station Readings');
    const control = new Control(srv.url);
    const m = await startMount(srv.url, { token });
    const out = await mkdtemp(path.join(os.tmpdir(), 'dvfs-small-'));
    try {
      const src = path.join(m.mountpoint, 'earth-sciences', 'climate', folderFor(item.global_id), '1.0');
      const since = await control.mark();
      const r = await run('rsync', ['-a', `${src}/`, `${out}/`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const log = (await control.requests(since)).entries;
      for (let i = 0; i < 2000; i++) {
        const n = String(i + 1).padStart(4, '0');
        const rel = path.join('readings', `group-${String(Math.floor(i / 100)).padStart(2, '0')}`, `station-${n}.csv`);
        expect(await readFile(path.join(out, rel), 'utf8'), rel).toBe(stationCsv(i + 1));
      }
      expect((await execFile('find', [out, '-type', 'f'])).stdout.trim().split('\n')).toHaveLength(2000);
      // Far fewer downloads than files: a few single files where a folder starts, the rest in zips.
      expect(zips(log).length).toBeGreaterThan(0);
      expect(zips(log).length + singles(log).length).toBeLessThan(200);
      expect(log.every((e) => e.status === 200 || e.status === 206)).toBe(true);
      // dvfs status counts the zips apart from API calls, as many as the server answered.
      const status = JSON.parse((await dvfs(['status', m.mountpoint, '--json'])).stdout);
      expect(status.requests.zipRequests).toBe(zips(log).length);
      expect((await dvfs(['status', m.mountpoint])).stdout).toContain(`, ${zips(log).length} zip (`);
    } finally {
      await m.dispose();
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('files a zip leaves out or brings damaged', () => {
  let srv: ServeProcess;
  let api: Api;
  let datasetId: number;
  let pid: string;
  const data: Record<string, Buffer> = {};
  const blobs: Record<string, string> = {};
  const RESTRICTED = 'f05.bin';
  const DAMAGED = 'f08.bin';

  beforeAll(async () => {
    srv = await startServe();
    api = new Api(srv.url, srv.adminToken);
    await createCollection(api, 'root', 'small');
    await publishCollection(api, 'small');
    ({ id: datasetId, pid } = await createDataset(api, 'small', 'Small files'));
    const same = randomBytes(3000); // two files with the same bytes: one zip entry serves both
    for (let i = 0; i < 16; i++) {
      const name = `f${String(i).padStart(2, '0')}.bin`;
      data[name] = i === 10 || i === 11 ? same : randomBytes(1000 + i * 10);
      const r = await addFile(api, datasetId, name, data[name], { directoryLabel: 'many', restrict: name === RESTRICTED });
      expect(r.status).toBe(200);
    }
    await waitForNoLocks(api, datasetId);
    await publishDataset(api, datasetId);
    const list = (await api.get(`/api/datasets/${datasetId}/versions/1.0/files`)).json.data as { label: string; dataFile: { storageIdentifier: string } }[];
    for (const f of list) blobs[f.label] = path.join(srv.dataDir, 'blobs', f.dataFile.storageIdentifier.replace(/^file:\/\//, ''));
  }, 60_000);
  afterAll(async () => {
    await srv?.dispose();
  });

  it('cp -r as a reader without access: EACCES for the restricted file, EIO for the damaged one, the others intact', async () => {
    const reader = await createUser(api, 'rhea');
    const fh = await open(blobs[DAMAGED], 'r+');
    await fh.write(Buffer.from('XXXX'), 0, 4, 10);
    await fh.close();
    const control = new Control(srv.url);
    const m = await startMount(srv.url, { token: reader.token });
    const out = await mkdtemp(path.join(os.tmpdir(), 'dvfs-small-'));
    try {
      const since = await control.mark();
      const r = await run('cp', ['-r', path.join(m.mountpoint, 'small', folderFor(pid), '1.0', 'many'), out]);
      expect(r.code).not.toBe(0);
      const errors = r.stderr.trim().split('\n').sort();
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatch(/f05\.bin.*Permission denied/);
      expect(errors[1]).toMatch(/f08\.bin.*Input\/output error/);
      const copied = (await readdir(path.join(out, 'many'))).filter((n) => n !== RESTRICTED && n !== DAMAGED);
      expect(copied).toHaveLength(14);
      for (const name of copied) expect(md5(await readFile(path.join(out, 'many', name))), name).toBe(md5(data[name]));
      const log = (await control.requests(since)).entries;
      // The later files came in zips; the two left out or damaged were asked for alone too.
      const zipped = zips(log).flatMap((e) => e.path.split('/').pop()!.split(','));
      expect(zipped.length).toBeGreaterThanOrEqual(10);
      expect(singles(log).length).toBeLessThan(8);
      const list = (await api.get(`/api/datasets/${datasetId}/versions/1.0/files`)).json.data as { label: string; dataFile: { id: number } }[];
      const idOf = (label: string) => String(list.find((f) => f.label === label)!.dataFile.id);
      expect(zipped).toContain(idOf(RESTRICTED));
      expect(zipped).toContain(idOf(DAMAGED));
      expect(singles(log).map((e) => e.path.split('/').pop())).toEqual(expect.arrayContaining([idOf(RESTRICTED), idOf(DAMAGED)]));
    } finally {
      await writeFile(blobs[DAMAGED], data[DAMAGED]);
      await m.dispose();
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('a server without Range support (old Dataverse): no zips; the restricted file is EACCES, every other file intact', async () => {
    const reader = await createUser(api, 'olga');
    const control = new Control(srv.url);
    await control.setFaults({ noRange: true });
    const m = await startMount(srv.url, { token: reader.token });
    const out = await mkdtemp(path.join(os.tmpdir(), 'dvfs-small-'));
    try {
      const since = await control.mark();
      const r = await run('cp', ['-r', path.join(m.mountpoint, 'small', folderFor(pid), '1.0', 'many'), out]);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/f05\.bin.*Permission denied/)]);
      const copied = (await readdir(path.join(out, 'many'))).filter((n) => n !== RESTRICTED);
      expect(copied).toHaveLength(15);
      for (const name of copied) expect(md5(await readFile(path.join(out, 'many', name))), name).toBe(md5(data[name]));
      expect(zips((await control.requests(since)).entries)).toEqual([]);
    } finally {
      await control.resetFaults();
      await m.dispose();
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('ingested tables among small files', () => {
  let srv: ServeProcess;
  let api: Api;
  let pid: string;
  const data: Record<string, Buffer> = {};

  beforeAll(async () => {
    srv = await startServe();
    api = new Api(srv.url, srv.adminToken);
    await createCollection(api, 'root', 'tables');
    await publishCollection(api, 'tables');
    let datasetId: number;
    ({ id: datasetId, pid } = await createDataset(api, 'tables', 'Tables'));
    for (let i = 0; i < 12; i++) {
      // Every other file a CSV the server ingests: the mount shows its original, which comes with format=original.
      const csv = i % 2 === 0;
      const name = csv ? `t${i}.csv` : `b${i}.bin`;
      data[name] = csv ? Buffer.from(`id,value\n${Array.from({ length: 20 + i }, (_, k) => `${k},${k * i}`).join('\n')}\n`) : randomBytes(500 + i);
      const r = await addFile(api, datasetId, name, data[name], { directoryLabel: 'mixed', ...(csv ? { contentType: 'text/csv' } : {}) });
      expect(r.status).toBe(200);
    }
    await waitForNoLocks(api, datasetId);
    await publishDataset(api, datasetId);
  }, 60_000);
  afterAll(async () => {
    await srv?.dispose();
  });

  it('cp -r brings every file as uploaded (the originals of the ingested tables), tables in zips of format=original', async () => {
    const control = new Control(srv.url);
    const m = await startMount(srv.url, { token: srv.adminToken });
    const out = await mkdtemp(path.join(os.tmpdir(), 'dvfs-tables-'));
    try {
      const since = await control.mark();
      const r = await run('cp', ['-r', path.join(m.mountpoint, 'tables', folderFor(pid), '1.0', 'mixed'), out]);
      expect(r.stderr).toBe('');
      const names = (await readdir(path.join(out, 'mixed'))).sort();
      expect(names).toEqual(Object.keys(data).sort());
      for (const name of names) expect(md5(await readFile(path.join(out, 'mixed', name))), name).toBe(md5(data[name]));
      const log = (await control.requests(since)).entries.filter((e) => e.method === 'GET' && e.path.includes('/access/datafiles/'));
      expect(log.some((e) => e.path.endsWith('?format=original'))).toBe(true);
      expect(log.every((e) => e.status === 200)).toBe(true);
    } finally {
      await m.dispose();
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
