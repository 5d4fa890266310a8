// POST /api/datasets/{id}/add of `dvfs serve` (dataverse-api-notes.md §6):
// fields, content types, silent renaming, duplicate-content warning, name
// validation, zip unpacking, limits, locks, permissions, persistence.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { addFile, createDataset, createUser, publishDataset, type AddOptions } from './helpers/fixtures.js';
import { blobCount, download, draftFiles, md5, postRaw, zipOf } from './server-files-helpers.js';

const FILE_NAME_MESSAGE = 'File Name cannot contain any of the following characters: \\ / : * ? " < > | ; # .';
const DIRECTORY_MESSAGE =
  "Directory Name cannot contain invalid characters. Valid characters are a-Z, 0-9, '_', '-', '.', '\\\\', '/' and ' ' (white space).";

let srv: ServeProcess;
let api: Api;
let dataDir: string;
beforeAll(async () => {
  srv = await startServe({ args: ['--ingest-seconds', '1'] });
  dataDir = srv.dataDir;
  api = new Api(srv.url, srv.adminToken);
});
afterAll(async () => {
  await srv?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function newDataset(title = 'Upload test'): Promise<number> {
  return (await createDataset(api, 'root', title)).id;
}

function today(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

describe('POST /api/datasets/{id}/add', () => {
  it('stores the bytes and answers 200 with the file-metadata list', async () => {
    const ds = await newDataset();
    const data = 'hello, dataverse\n';
    const r = await addFile(api, ds, 'hello.txt', data);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('OK');
    expect(r.json.message).toBeUndefined();
    expect(r.json.data.files).toHaveLength(1);
    const fm = r.json.data.files[0];
    expect(fm).toMatchObject({ description: '', label: 'hello.txt', restricted: false, version: 1 });
    expect(fm.directoryLabel).toBeUndefined();
    expect(fm.categories).toBeUndefined();
    expect(typeof fm.datasetVersionId).toBe('number');
    const df = fm.dataFile;
    expect(df).toMatchObject({
      persistentId: '',
      filename: 'hello.txt',
      contentType: 'text/plain', // part sent as octet-stream: the name's type wins
      filesize: Buffer.byteLength(data),
      md5: md5(data),
      checksum: { type: 'MD5', value: md5(data) },
      rootDataFileId: -1,
      tabularData: false,
      creationDate: today(),
    });
    expect(df.previousDataFileId).toBeUndefined();
    const got = await download(api, df.id);
    expect(got.status).toBe(200);
    expect(got.text).toBe(data);
  });

  it('applies jsonData: description, folder, label, categories, restrict; strings for booleans; unknown keys ignored', async () => {
    const ds = await newDataset();
    // Booleans as strings and categories in the {"name"} form, as real clients send them.
    const json: Record<string, unknown> = {
      description: 'A description',
      directoryLabel: '//data\\\\raw//',
      label: 'renamed.txt',
      categories: [{ name: 'Data' }, { name: 'Code' }],
      restrict: 'true',
      tabIngest: 'false',
      somethingElse: 42,
    };
    const r = await addFile(api, ds, 'upload.txt', 'x', json as AddOptions);
    expect(r.status).toBe(200);
    const fm = r.json.data.files[0];
    expect(fm.label).toBe('renamed.txt');
    expect(fm.directoryLabel).toBe('data/raw');
    expect(fm.dataFile.directoryLabel).toBe('data/raw');
    expect(fm.description).toBe('A description');
    expect(fm.categories).toEqual(['Data', 'Code']);
    expect(fm.restricted).toBe(true);
    const plain = await addFile(api, ds, 'b.txt', 'y', { categories: ['A', 'A', '', 'B'], restrict: false });
    expect(plain.json.data.files[0].categories).toEqual(['A', 'B']);
    expect(plain.json.data.files[0].restricted).toBe(false);
  });

  it('sanitises folder names: leading/trailing "/ - . space" stripped repeatedly, empty means the root', async () => {
    const ds = await newDataset();
    const cases: [string, string | undefined][] = [
      ['.git', 'git'],
      [' -x- ', 'x'],
      ['./-a/b/.-', 'a/b'],
      ['///', undefined],
      ['', undefined],
    ];
    for (const [i, [input, expected]] of cases.entries()) {
      const r = await addFile(api, ds, `f${i}.txt`, `content ${i}`, { directoryLabel: input });
      expect(r.status).toBe(200);
      expect(r.json.data.files[0].directoryLabel).toBe(expected);
    }
  });

  it('decides the content type: part header, else octet-stream, a recognised name type beating generic ones', async () => {
    const ds = await newDataset();
    const add = async (filename: string, contentType: string | undefined, json = '{"tabIngest":false}') => {
      const r = await postRaw(api, `/api/datasets/${ds}/add`, [
        { name: 'file', filename, contentType, data: `bytes of ${filename} ${contentType}` },
        { name: 'jsonData', data: json },
      ]);
      expect(r.status).toBe(200);
      return r.json.data.files[0].dataFile.contentType as string;
    };
    expect(await add('notes.md', undefined)).toBe('text/markdown'); // no header → octet-stream → name wins
    expect(await add('README', undefined)).toBe('application/octet-stream');
    expect(await add('notes2.md', 'text/plain')).toBe('text/plain'); // an explicit type is kept
    expect(await add('x.bin', 'application/x-custom')).toBe('application/x-custom');
    expect(await add('table.csv', 'image/png')).toBe('text/csv'); // a recognised tabular type always wins
    expect(await add('t.tsv', 'text/tab-separated-values')).toBe('text/tsv'); // Dataverse's own .tsv mapping
    expect(await add('pic.png', 'application/octet-stream')).toBe('image/png');
  });

  it('renames duplicate names silently: -1, incremented -N, per folder, case-sensitive, only the name', async () => {
    const ds = await newDataset();
    const label = async (name: string, json: Record<string, unknown> = {}) => {
      const r = await addFile(api, ds, name, `${name} ${Math.random()}`, { tabIngest: false, ...json });
      expect(r.status).toBe(200);
      return { label: r.json.data.files[0].label, dir: r.json.data.files[0].directoryLabel };
    };
    expect((await label('README.md')).label).toBe('README.md');
    expect((await label('README.md')).label).toBe('README-1.md');
    expect((await label('README.md')).label).toBe('README-2.md');
    expect((await label('readme.md')).label).toBe('readme.md');
    expect((await label('a')).label).toBe('a');
    expect((await label('a')).label).toBe('a-1');
    expect((await label('report-2019.csv')).label).toBe('report-2019.csv');
    expect((await label('report-2019.csv')).label).toBe('report-2020.csv');
    expect((await label('x-1.txt')).label).toBe('x-1.txt');
    expect((await label('x-1.txt')).label).toBe('x-2.txt');
    expect(await label('README.md', { directoryLabel: 'docs' })).toEqual({ label: 'README.md', dir: 'docs' });
    expect(await label('README.md', { directoryLabel: 'docs' })).toEqual({ label: 'README-1.md', dir: 'docs' });
    // A label given in jsonData goes through the same rule.
    expect((await label('other.bin', { label: 'README.md' })).label).toBe('README-3.md');
    const names = (await draftFiles(api, ds)).map((f) => `${f.directoryLabel ?? ''}/${f.label}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('warns about duplicate content with the NEW file label in a nested message (6.11 form), and still adds', async () => {
    const ds = await newDataset();
    const first = await addFile(api, ds, 'original.txt', 'same bytes');
    expect(first.json.message).toBeUndefined();
    const dup = await addFile(api, ds, 'copy.txt', 'same bytes');
    expect(dup.status).toBe(200);
    expect(dup.json.message).toEqual({ message: 'This file has the same content as copy.txt that is in the dataset. ' });
    expect(Object.keys(dup.json)).toEqual(['status', 'message', 'data']);
    expect(dup.json.data.files[0].dataFile.id).not.toBe(first.json.data.files[0].dataFile.id);
    expect(await draftFiles(api, ds)).toHaveLength(2);
  });

  it('accepts empty files (MD5 of nothing); a second one gets the duplicate warning', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, 'empty.dat', Buffer.alloc(0));
    expect(r.status).toBe(200);
    expect(r.json.data.files[0].dataFile.filesize).toBe(0);
    expect(r.json.data.files[0].dataFile.md5).toBe('d41d8cd98f00b204e9800998ecf8427e');
    const again = await addFile(api, ds, 'empty2.dat', Buffer.alloc(0));
    expect(again.json.message.message).toContain('same content as empty2.dat');
  });

  it('refuses bad names with 400 and the validator message, storing nothing', async () => {
    const ds = await newDataset();
    const before = await blobCount(dataDir);
    const bad: [string, Record<string, unknown>, string][] = [
      ['ok.txt', { label: 'a:b.txt' }, FILE_NAME_MESSAGE],
      ['ok.txt', { label: 'what?.txt' }, FILE_NAME_MESSAGE],
      ['ok.txt', { label: '' }, 'Please specify a file name.'],
      ['ok.txt', { directoryLabel: 'über' }, DIRECTORY_MESSAGE],
      ['ok.txt', { directoryLabel: 'a(b)' }, DIRECTORY_MESSAGE],
      ['ok.txt', { directoryLabel: 'fish&chips' }, DIRECTORY_MESSAGE],
    ];
    for (const [name, json, message] of bad) {
      const r = await addFile(api, ds, name, 'some bytes', json);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ status: 'ERROR', message });
    }
    const raw = await postRaw(api, `/api/datasets/${ds}/add`, [
      { name: 'file', filename: 'READ?ME.md', contentType: 'text/markdown', data: 'x' },
    ]);
    expect(raw.status).toBe(400);
    expect(raw.json.message).toBe(FILE_NAME_MESSAGE);
    expect(await blobCount(dataDir)).toBe(before);
    expect(await draftFiles(api, ds)).toEqual([]);
  });

  it('allows leading dots and non-ASCII characters in file names', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, '.hidden', 'h');
    expect(r.json.data.files[0].label).toBe('.hidden');
    const u = await addFile(api, ds, 'MY READ–ME ü.md', 'u');
    expect(u.status).toBe(200);
    expect(u.json.data.files[0].label).toBe('MY READ–ME ü.md');
  });

  it('refuses malformed jsonData and a missing file part', async () => {
    const ds = await newDataset();
    const before = await blobCount(dataDir);
    const form = new FormData();
    form.append('file', new Blob(['abc']), 'a.txt');
    form.append('jsonData', '{"description": ');
    const bad = await api.post(`/api/datasets/${ds}/add`, form);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ status: 'ERROR', message: 'Error in parsing provided json' });
    const noFile = new FormData();
    noFile.append('jsonData', '{}');
    const missing = await api.post(`/api/datasets/${ds}/add`, noFile);
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('You must upload a file or provide a valid storageidentifier, filename, and mimetype.');
    expect(await blobCount(dataDir)).toBe(before);
  });

  it('answers 403 without edit permission (also for guests), 404 for an unknown dataset, 401 for a bad key', async () => {
    const ds = await newDataset();
    const bob = await createUser(api, 'upload-bob');
    const denied = await addFile(api.as(bob.token), ds, 'a.txt', 'a');
    expect(denied.status).toBe(403);
    expect(denied.json).toEqual({ status: 'ERROR', message: 'You do not have permission to edit this dataset.' });
    const guest = await addFile(api.as(undefined), ds, 'a.txt', 'a');
    expect(guest.status).toBe(403);
    expect(guest.json.message).toBe('You do not have permission to edit this dataset.');
    const missing = await addFile(api, 999999, 'a.txt', 'a');
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe('Dataset with ID 999999 not found.');
    const badKey = await addFile(api.as('not-a-token'), ds, 'a.txt', 'a');
    expect(badKey.status).toBe(401);
    expect(badKey.json.message).toBe('Bad API key');
  });

  it('accepts the :persistentId form', async () => {
    const { id, pid } = await createDataset(api, 'root', 'PID upload');
    const form = new FormData();
    form.append('file', new Blob(['pid bytes']), 'pid.txt');
    const r = await api.post(`/api/datasets/:persistentId/add?persistentId=${encodeURIComponent(pid)}`, form);
    expect(r.status).toBe(200);
    expect((await draftFiles(api, id)).map((f) => f.label)).toEqual(['pid.txt']);
  });

  it('is refused with 400 "Failed to add file to dataset." under any lock but Ingest, storing nothing', async () => {
    const ds = await newDataset();
    const before = await blobCount(dataDir);
    const lock = await api.post(`/api/control/locks/${ds}?type=EditInProgress&seconds=30`);
    expect(lock.status).toBe(200);
    const r = await addFile(api, ds, 'locked.txt', 'locked');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Failed to add file to dataset.' });
    expect(await blobCount(dataDir)).toBe(before);
    await api.delete(`/api/datasets/${ds}/locks`);

    const ds2 = await newDataset();
    await api.post(`/api/control/locks/${ds2}?type=Ingest&seconds=30`);
    const ok = await addFile(api, ds2, 'during-ingest.txt', 'fine');
    expect(ok.status).toBe(200);
  });

  it('creates a draft when adding to a published dataset, keeping the DataFile ids of existing files', async () => {
    const ds = await newDataset();
    const first = await addFile(api, ds, 'first.txt', 'first');
    const firstId = first.json.data.files[0].dataFile.id;
    await publishDataset(api, ds);
    const v1 = await api.get(`/api/datasets/${ds}/versions/1.0`);
    const r = await addFile(api, ds, 'second.txt', 'second');
    expect(r.status).toBe(200);
    const draft = await draftFiles(api, ds);
    expect(draft.map((f) => f.dataFile.id).sort()).toEqual([firstId, r.json.data.files[0].dataFile.id].sort());
    const old = draft.find((f) => f.dataFile.id === firstId);
    expect(old.datasetVersionId).not.toBe(v1.json.data.id);
    expect(r.json.data.files[0].datasetVersionId).toBe(old.datasetVersionId);
    // The published version is untouched.
    const released = await api.get(`/api/datasets/${ds}/versions/1.0/files`);
    expect(released.json.data.map((f: { label: string }) => f.label)).toEqual(['first.txt']);
  });

  it('streams a larger upload intact', async () => {
    const ds = await newDataset();
    const data = randomBytes(12 * 1024 * 1024 + 7);
    const r = await addFile(api, ds, 'big.bin', data);
    expect(r.status).toBe(200);
    expect(r.json.data.files[0].dataFile.filesize).toBe(data.length);
    expect(r.json.data.files[0].dataFile.md5).toBe(md5(data));
    const got = await download(api, r.json.data.files[0].dataFile.id);
    expect(md5(got.body)).toBe(md5(data));
  });
});

describe('zip uploads', () => {
  it('unpacks a .zip: entries become files in sanitised folders; directories, ._* and .DS_Store skipped', async () => {
    const ds = await newDataset();
    const zip = await zipOf({
      'top.txt': 'top',
      'dir/': null,
      'dir/sub/deep.txt': 'deep',
      'weird (1)/x.txt': 'weird',
      '__MACOSX/dir/._deep.txt': 'resource fork',
      '.DS_Store': 'finder',
      'dir/.DS_Store': 'finder',
    });
    const r = await addFile(api, ds, 'bundle.zip', zip);
    expect(r.status).toBe(200);
    const files = r.json.data.files as { label: string; directoryLabel?: string; dataFile: { id: number; contentType: string } }[];
    const byLabel = Object.fromEntries(files.map((f) => [f.label, f]));
    expect(Object.keys(byLabel).sort()).toEqual(['deep.txt', 'top.txt', 'x.txt']);
    expect(byLabel['top.txt'].directoryLabel).toBeUndefined();
    expect(byLabel['deep.txt'].directoryLabel).toBe('dir/sub');
    expect(byLabel['x.txt'].directoryLabel).toBe('weird .1'); // "(" and ")" become ".", trailing "." stripped
    expect(byLabel['deep.txt'].dataFile.contentType).toBe('text/plain');
    expect((await download(api, byLabel['deep.txt'].dataFile.id)).text).toBe('deep');
    expect((await draftFiles(api, ds)).some((f) => f.label.endsWith('.zip'))).toBe(false);
  });

  it('treats a part sent as application/zip as a zip whatever its name; jsonData applies to every entry', async () => {
    const ds = await newDataset();
    const zip = await zipOf({ 'a.txt': 'A', 'b.txt': 'B' });
    const r = await addFile(api, ds, 'archive.bin', zip, { contentType: 'application/zip', description: 'from zip' });
    expect(r.status).toBe(200);
    expect(r.json.data.files.map((f: { label: string }) => f.label).sort()).toEqual(['a.txt', 'b.txt']);
    expect(r.json.data.files.every((f: { description: string }) => f.description === 'from zip')).toBe(true);
  });

  it('keeps an empty (valid) zip as it is', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, 'empty.zip', await zipOf({ 'only-a-dir/': null }));
    expect(r.status).toBe(200);
    expect(r.json.data.files).toHaveLength(1);
    expect(r.json.data.files[0].label).toBe('empty.zip');
    expect(r.json.data.files[0].dataFile.contentType).toBe('application/zip');
  });

  it('refuses an unreadable .zip with the unzip warning and stores nothing', async () => {
    const ds = await newDataset();
    const before = await blobCount(dataDir);
    const r = await addFile(api, ds, 'not-really.zip', 'this is not a zip file');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Failed to unzip the file. Saving the file as is.' });
    expect(await blobCount(dataDir)).toBe(before);
  });
});

describe('limits (a server with --max-upload-bytes 1000 --zip-files-limit 3)', () => {
  let small: ServeProcess;
  let sapi: Api;
  beforeAll(async () => {
    small = await startServe({ args: ['--max-upload-bytes', '1000', '--zip-files-limit', '3'] });
    sapi = new Api(small.url, small.adminToken);
  });
  afterAll(async () => small?.dispose());

  it('refuses files over the size limit with the human-readable sizes, storing nothing', async () => {
    const ds = (await createDataset(sapi, 'root', 'Limits')).id;
    expect((await addFile(sapi, ds, 'exact.bin', Buffer.alloc(1000, 1))).status).toBe(200);
    const before = await blobCount(small.dataDir);
    const over = await addFile(sapi, ds, 'over.bin', Buffer.alloc(1001, 2));
    expect(over.status).toBe(400);
    expect(over.json.message).toBe(
      'There was an error when trying to add the new file. This file size (1001 B) exceeds the size limit of 1000 B.',
    );
    const big = await addFile(sapi, ds, 'big.bin', Buffer.alloc(5000, 3));
    expect(big.json.message).toBe(
      'There was an error when trying to add the new file. This file size (4.9 KB) exceeds the size limit of 1000 B.',
    );
    expect(await blobCount(small.dataDir)).toBe(before);
  });

  it('refuses a zip with more files than :ZipUploadFilesLimit, storing nothing', async () => {
    const ds = (await createDataset(sapi, 'root', 'Zip limit')).id;
    const three = await addFile(sapi, ds, 'three.zip', await zipOf({ '1.txt': '1', '2.txt': '2', '3.txt': '3' }));
    expect(three.status).toBe(200);
    expect(three.json.data.files).toHaveLength(3);
    const before = await blobCount(small.dataDir);
    const four = await addFile(sapi, ds, 'four.zip', await zipOf({ '1.txt': 'a', '2.txt': 'b', '3.txt': 'c', '4.txt': 'd' }));
    expect(four.status).toBe(400);
    expect(four.json.message).toBe(
      'The number of files in the zip archive is over the limit (3); please upload a zip archive with fewer files, ' +
        'if you want them to be ingested as individual DataFiles.',
    );
    expect(await blobCount(small.dataDir)).toBe(before);
  });
});

describe('persistence', () => {
  it('keeps committed uploads across a restart', async () => {
    const ds = await newDataset('Restart');
    const data = randomBytes(4096);
    const r = await addFile(api, ds, 'kept.bin', data, { directoryLabel: 'keep', description: 'kept' });
    const id = r.json.data.files[0].dataFile.id;
    await srv.stop();
    srv = await startServe({ dataDir, args: ['--ingest-seconds', '1'], ownsDataDir: true });
    api = new Api(srv.url, srv.adminToken);
    const f = await api.get(`/api/files/${id}`);
    expect(f.status).toBe(200);
    expect(f.json.data).toMatchObject({ label: 'kept.bin', directoryLabel: 'keep', description: 'kept' });
    expect(f.json.data.dataFile.md5).toBe(md5(data));
    expect(md5((await download(api, id)).body)).toBe(md5(data));
  });
});
