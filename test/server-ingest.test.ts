// Tabular ingest of CSV/TSV uploads in `dvfs serve` (dataverse-api-notes.md
// §6.7, §2.6, §5.3): the Ingest lock, the pre-ingest /add answer, and the
// file keeping its id and checksum while name, type and size change.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { addFile, createDataset, waitForNoLocks } from './helpers/fixtures.js';
import { download, draftFiles, md5, sleep, waitForLock, zipOf } from './server-files-helpers.js';

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

async function newDataset(title = 'Ingest test'): Promise<number> {
  return (await createDataset(api, 'root', title)).id;
}

const CSV = 'name,age,pet\nMarshall,40,dog\n"Lily, Jr.",3,"says ""hi"""\nTed,,cat\n';
// Strings quoted, numbers bare, missing values empty, tab-separated, no header line.
const TAB = '"Marshall"\t40\t"dog"\n"Lily, Jr."\t3\t"says \\"hi\\""\n"Ted"\t\t"cat"\n';

describe('CSV ingest', () => {
  it('answers /add with the pre-ingest state, locks, then turns the file into a .tab keeping id and checksum', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, 'data.csv', CSV);
    expect(r.status).toBe(200);
    const fm = r.json.data.files[0];
    expect(fm.label).toBe('data.csv');
    expect(fm.dataFile).toMatchObject({ contentType: 'text/csv', tabularData: false, filesize: CSV.length });
    expect(fm.dataFile.UNF).toBeUndefined();
    const id = fm.dataFile.id;

    const lock = await waitForLock(api, ds, 'Ingest');
    expect(lock.message).toBe('Ingest of 1 tabular data file(s) is in progress.');
    expect(lock.user).toBe('dataverseAdmin');
    await waitForNoLocks(api, ds);

    const after = await api.get(`/api/files/${id}`);
    expect(after.status).toBe(200);
    const df = after.json.data.dataFile;
    expect(after.json.data.label).toBe('data.tab');
    expect(df).toMatchObject({
      id,
      filename: 'data.tab',
      contentType: 'text/tab-separated-values',
      friendlyType: 'Tab-Delimited',
      filesize: Buffer.byteLength(TAB),
      originalFileFormat: 'text/csv',
      originalFormatLabel: 'Comma Separated Values',
      originalFileSize: CSV.length,
      originalFileName: 'data.csv',
      tabularData: true,
      md5: md5(CSV), // the checksum stays the original's
      checksum: { type: 'MD5', value: md5(CSV) },
    });
    expect(df.UNF).toMatch(/^UNF:6:[A-Za-z0-9+/]+=*$/);
    expect(after.json.data.version).toBeGreaterThan(fm.version);

    // The stored .tab has no header; the default download prepends the variable names.
    expect((await download(api, id, '?noVarHeader=true')).text).toBe(TAB);
    expect((await download(api, id)).text).toBe(`name\tage\tpet\n${TAB}`);
    expect((await download(api, id, '?format=original')).text).toBe(CSV);
  });

  it('handles quoted fields with delimiters, doubled quotes and line breaks, CRLF line ends and a missing final newline', async () => {
    const ds = await newDataset();
    const csv = 'id,text\r\n1,"line one\nline two"\r\n2,"a, b and ""c"""\r\n3.5e2,plain';
    const r = await addFile(api, ds, 'tricky.csv', csv);
    const id = r.json.data.files[0].dataFile.id;
    await waitForNoLocks(api, ds);
    expect((await download(api, id, '?noVarHeader=true')).text).toBe(
      '1\t"line one\\nline two"\n2\t"a, b and \\"c\\""\n3.5e2\t"plain"\n',
    );
    expect((await download(api, id)).text.split('\n')[0]).toBe('id\ttext');
  });

  it('ingests TSV (text/tsv) too', async () => {
    const ds = await newDataset();
    const tsv = 'x\ty\n1\tone\n2\ttwo\n';
    const r = await addFile(api, ds, 'table.tsv', tsv);
    expect(r.json.data.files[0].dataFile.contentType).toBe('text/tsv');
    const id = r.json.data.files[0].dataFile.id;
    await waitForNoLocks(api, ds);
    const df = (await api.get(`/api/files/${id}`)).json.data.dataFile;
    expect(df).toMatchObject({ filename: 'table.tab', originalFileFormat: 'text/tsv', originalFormatLabel: 'Tab-Separated Values' });
    expect((await download(api, id, '?noVarHeader=true')).text).toBe('1\t"one"\n2\t"two"\n');
  });

  it('leaves files alone with tabIngest:false (no lock, no rename)', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, 'raw.csv', CSV, { tabIngest: false });
    const id = r.json.data.files[0].dataFile.id;
    expect((await api.get(`/api/datasets/${ds}/locks`)).json.data).toEqual([]);
    await sleep(1500);
    const df = (await api.get(`/api/files/${id}`)).json.data.dataFile;
    expect(df).toMatchObject({ filename: 'raw.csv', contentType: 'text/csv', tabularData: false, filesize: CSV.length });
    expect((await download(api, id)).text).toBe(CSV);
  });

  it('renames through the duplicate rule: x.csv becomes x-1.tab next to an x.tab; an ingested foo.tab blocks foo.csv', async () => {
    const ds = await newDataset();
    await addFile(api, ds, 'x.tab', 'a plain file called x.tab\n');
    const r = await addFile(api, ds, 'x.csv', 'a,b\n1,2\n');
    const id = r.json.data.files[0].dataFile.id;
    await waitForNoLocks(api, ds);
    expect((await api.get(`/api/files/${id}`)).json.data.label).toBe('x-1.tab');

    await addFile(api, ds, 'foo.csv', 'c\n3\n');
    await waitForNoLocks(api, ds);
    const again = await addFile(api, ds, 'foo.csv', 'c\n4\n', { tabIngest: false });
    expect(again.json.data.files[0].label).toBe('foo-1.csv');
  });

  it('keeps a CSV it cannot parse as uploaded, and still clears the lock', async () => {
    const ds = await newDataset();
    const ragged = 'a,b\n1,2,3\n';
    const r1 = await addFile(api, ds, 'ragged.csv', ragged);
    const r2 = await addFile(api, ds, 'open.csv', 'a,b\n1,"never closed\n');
    await waitForNoLocks(api, ds);
    for (const [r, bytes] of [
      [r1, ragged],
      [r2, 'a,b\n1,"never closed\n'],
    ] as const) {
      const id = r.json.data.files[0].dataFile.id;
      const f = (await api.get(`/api/files/${id}`)).json.data;
      expect(f.label).toBe(r.json.data.files[0].label);
      expect(f.dataFile).toMatchObject({ contentType: 'text/csv', tabularData: false, filesize: bytes.length });
      expect((await download(api, id)).text).toBe(bytes);
    }
  });

  it('counts the tabular files of one upload in the lock message, and does not block other uploads', async () => {
    const ds = await newDataset();
    const zip = await zipOf({ 'one.csv': 'a\n1\n', 'two.csv': 'b\n2\n', 'note.txt': 'not tabular' });
    const r = await addFile(api, ds, 'tables.zip', zip);
    expect(r.status).toBe(200);
    const lock = await waitForLock(api, ds, 'Ingest');
    expect(lock.message).toBe('Ingest of 2 tabular data file(s) is in progress.');
    const during = await addFile(api, ds, 'during.txt', 'added while ingesting');
    expect(during.status).toBe(200);
    await waitForNoLocks(api, ds);
    expect((await draftFiles(api, ds)).map((f) => f.label).sort()).toEqual(['during.txt', 'note.txt', 'one.tab', 'two.tab']);
  });
});

describe('files that go away during ingest', () => {
  it('drops the Ingest lock when the pending file was deleted or replaced', async () => {
    const ds = await newDataset();
    const r = await addFile(api, ds, 'short-lived.csv', CSV);
    const id = r.json.data.files[0].dataFile.id;
    await waitForLock(api, ds, 'Ingest');
    expect((await api.delete(`/api/files/${id}`)).json.data).toBe(true);
    await waitForNoLocks(api, ds, 10_000);
    expect(await draftFiles(api, ds)).toEqual([]);

    const r2 = await addFile(api, ds, 'swap.csv', CSV);
    const rep = await api.post(
      `/api/files/${r2.json.data.files[0].dataFile.id}/replace`,
      (() => {
        const f = new FormData();
        f.append('file', new Blob(['plain text now']), 'swap.txt');
        f.append('jsonData', JSON.stringify({ forceReplace: true }));
        return f;
      })(),
    );
    expect(rep.status).toBe(200);
    await waitForNoLocks(api, ds, 10_000);
    const files = await draftFiles(api, ds);
    expect(files.map((f) => [f.label, f.dataFile.contentType])).toEqual([['swap.txt', 'text/plain']]);
  });
});

describe('ingest across a restart', () => {
  it('finishes an ingest that was pending when the server stopped', async () => {
    const own = await startServe({ args: ['--ingest-seconds', '2'] });
    const oapi = new Api(own.url, own.adminToken);
    try {
      const ds = (await createDataset(oapi, 'root', 'Restart ingest')).id;
      const r = await addFile(oapi, ds, 'later.csv', CSV);
      const id = r.json.data.files[0].dataFile.id;
      await own.stop(); // before the 2 s are up
      await sleep(2500); // now it is overdue
      const again = await startServe({ dataDir: own.dataDir, args: ['--ingest-seconds', '2'] });
      try {
        const aapi = new Api(again.url, again.adminToken);
        await waitForNoLocks(aapi, ds, 10_000);
        const df = (await aapi.get(`/api/files/${id}`)).json.data.dataFile;
        expect(df).toMatchObject({ filename: 'later.tab', tabularData: true, md5: md5(CSV) });
        expect((await download(aapi, id, '?noVarHeader=true')).text).toBe(TAB);
      } finally {
        await again.stop();
      }
    } finally {
      await rm(own.dataDir, { recursive: true, force: true });
    }
  });
});
