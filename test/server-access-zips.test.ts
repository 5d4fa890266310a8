// Zips of the Access API: multi-file downloads, whole datasets and versions,
// and the tabular bundle (dataverse-api-notes.md §5.6, §5.7).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import {
  addFile,
  createCollection,
  createDataset,
  publishCollection,
  publishDataset,
  waitForNoLocks,
} from './helpers/fixtures.js';
import { addedFileId, GENERIC_403, jaxrs, unzipAll, zipBase } from './helpers/access.js';

const A = Buffer.from('file a\n');
const B = Buffer.from('file b, in docs\n');
const C = Buffer.from('file c, in docs/deep\n');
const SECRET = Buffer.from('restricted\n');
const CSV = Buffer.from('name,age,pet\nMarshall,40,dog\nAnn,33,cat\n');
const TAB_FULL = Buffer.from('name\tage\tpet\n"Marshall"\t40\t"dog"\n"Ann"\t33\t"cat"\n');
const DRAFT = Buffer.from('added after the release\n');

let srv: ServeProcess;
let admin: Api;
let guest: Api;
let ds: { id: number; pid: string };
let other: { id: number; pid: string };
const ids: Record<string, number> = {};

beforeAll(async () => {
  srv = await startServe();
  admin = new Api(srv.url, srv.adminToken);
  guest = admin.as(undefined);
  await createCollection(admin, 'root', 'zips');
  await publishCollection(admin, 'zips');
  ds = await createDataset(admin, 'zips', 'Zip tests');
  ids.a = addedFileId(await addFile(admin, ds.id, 'a.txt', A, { contentType: 'text/plain' }));
  ids.b = addedFileId(await addFile(admin, ds.id, 'b.txt', B, { contentType: 'text/plain', directoryLabel: 'docs' }));
  ids.c = addedFileId(await addFile(admin, ds.id, 'c.txt', C, { contentType: 'text/plain', directoryLabel: 'docs/deep' }));
  ids.secret = addedFileId(await addFile(admin, ds.id, 'secret.txt', SECRET, { contentType: 'text/plain', restrict: true }));
  ids.csv = addedFileId(await addFile(admin, ds.id, 'data.csv', CSV, { contentType: 'text/csv' }));
  await waitForNoLocks(admin, ds.id);
  await publishDataset(admin, ds.id);
  ids.draft = addedFileId(await addFile(admin, ds.id, 'draft.txt', DRAFT, { contentType: 'text/plain' }));
  other = await createDataset(admin, 'zips', 'Another dataset');
  ids.elsewhere = addedFileId(await addFile(admin, other.id, 'x.txt', 'x', { contentType: 'text/plain' }));
  await waitForNoLocks(admin, ds.id);
});
afterAll(async () => srv?.dispose());

function zipHeaders(name: string) {
  return { disposition: `attachment; filename="${name}"`, type: `application/zip; name="${name}"` };
}

describe('multi-file zips (notes §5.6)', () => {
  it('zips the accessible files in their folders and lists the restricted one in MANIFEST.TXT', async () => {
    const r = await guest.get(`/api/access/datafiles/${ids.a},${ids.b},${ids.c},${ids.secret}`);
    expect(r.status).toBe(200);
    const h = zipHeaders(`${zipBase(ds.pid)}.zip`);
    expect(r.headers.get('content-disposition')).toBe(h.disposition);
    expect(r.headers.get('content-type')).toBe(h.type);
    const z = await unzipAll(r.body);
    expect([...z.keys()].sort()).toEqual(['MANIFEST.TXT', 'a.txt', 'docs/', 'docs/b.txt', 'docs/deep/', 'docs/deep/c.txt']);
    expect(z.get('a.txt')!.equals(A)).toBe(true);
    expect(z.get('docs/b.txt')!.equals(B)).toBe(true);
    expect(z.get('docs/deep/c.txt')!.equals(C)).toBe(true);
    const manifest = z.get('MANIFEST.TXT')!.toString();
    expect(manifest).toContain('secret.txt IS RESTRICTED AND CANNOT BE DOWNLOADED\r\n');
    expect(manifest).toContain(`a.txt (text/plain) ${A.length} bytes.\r\n`);
    expect(manifest).toContain(`docs/b.txt (text/plain) ${B.length} bytes.\r\n`);
  });

  it('gives the restricted file to its owner', async () => {
    const z = await unzipAll((await admin.get(`/api/access/datafiles/${ids.a},${ids.secret}`)).body);
    expect(z.get('secret.txt')!.equals(SECRET)).toBe(true);
    expect(z.get('MANIFEST.TXT')!.toString()).not.toContain('CANNOT BE DOWNLOADED');
  });

  it('answers 403 when no file may be sent', async () => {
    const path = `/api/access/datafiles/${ids.secret}`;
    const r = await guest.get(path);
    expect(r.status).toBe(403);
    expect(r.json).toEqual(jaxrs(403, GENERIC_403, `${srv.url}${path}`));
  });

  it('refuses files from two datasets with 400', async () => {
    const r = await admin.get(`/api/access/datafiles/${ids.a},${ids.elsewhere}`);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', message: 'All files being downloaded must be from the same Dataset.' });
  });

  it('zips tabular files with their header line, or their originals with format=original', async () => {
    const tab = await unzipAll((await guest.get(`/api/access/datafiles/${ids.csv}`)).body);
    expect(tab.get('data.tab')!.equals(TAB_FULL)).toBe(true);
    const orig = await unzipAll((await guest.get(`/api/access/datafiles/${ids.csv},${ids.a}?format=original`)).body);
    expect(orig.get('data.csv')!.equals(CSV)).toBe(true);
    expect(orig.get('a.txt')!.equals(A)).toBe(true);
    expect(orig.get('MANIFEST.TXT')!.toString()).toContain(`data.csv (text/csv) ${CSV.length} bytes.\r\n`);
  });

  it('takes the ids of a POST as text, as fileIds= or as JSON', async () => {
    for (const body of [`${ids.a},${ids.b}`, `fileIds=${ids.a},${ids.b}`, JSON.stringify({ fileIds: [ids.a, ids.b] })]) {
      const r = await guest.post('/api/access/datafiles', body, { headers: { 'Content-Type': 'text/plain' } });
      expect(r.status, body).toBe(200);
      const z = await unzipAll(r.body);
      expect(z.get('a.txt')!.equals(A), body).toBe(true);
      expect(z.get('docs/b.txt')!.equals(B), body).toBe(true);
    }
  });
});

describe('dataset zips', () => {
  it('zips the latest release for a guest, the draft for the owner', async () => {
    const pub = await guest.get(`/api/access/dataset/${ds.id}`);
    expect(pub.status).toBe(200);
    expect(pub.headers.get('content-disposition')).toBe(zipHeaders(`${zipBase(ds.pid)}_1.0.zip`).disposition);
    const z = await unzipAll(pub.body);
    expect(z.has('draft.txt')).toBe(false);
    expect(z.get('a.txt')!.equals(A)).toBe(true);
    expect(z.get('data.tab')!.equals(TAB_FULL)).toBe(true);
    expect(z.get('MANIFEST.TXT')!.toString()).toContain('secret.txt IS RESTRICTED AND CANNOT BE DOWNLOADED\r\n');

    const draft = await admin.get(`/api/access/dataset/${ds.id}`);
    expect(draft.headers.get('content-disposition')).toBe(zipHeaders(`${zipBase(ds.pid)}_draft.zip`).disposition);
    const d = await unzipAll(draft.body);
    expect(d.get('draft.txt')!.equals(DRAFT)).toBe(true);
    expect(d.get('secret.txt')!.equals(SECRET)).toBe(true);
  });

  it('zips a given version, and says 400 for a missing one', async () => {
    const v = await guest.get(`/api/access/dataset/${ds.id}/versions/1.0`);
    expect(v.status).toBe(200);
    expect(v.headers.get('content-disposition')).toBe(zipHeaders(`${zipBase(ds.pid)}_1.0.zip`).disposition);
    expect((await unzipAll(v.body)).get('docs/deep/c.txt')!.equals(C)).toBe(true);
    const missing = await guest.get(`/api/access/dataset/${ds.id}/versions/7.0`);
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({ status: 'ERROR', message: 'Could not find requested dataset version.' });
    const draft = await admin.get(`/api/access/dataset/${ds.id}/versions/:draft`);
    expect(draft.headers.get('content-disposition')).toBe(zipHeaders(`${zipBase(ds.pid)}_draft.zip`).disposition);
    expect((await guest.get(`/api/access/dataset/${ds.id}/versions/:draft`)).status).toBe(401);
  });

  it('says 400 for a dataset with no release a guest could see', async () => {
    const r = await guest.get(`/api/access/dataset/${other.id}`);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'ERROR', message: 'Could not find requested dataset.' });
  });
});

describe('tabular bundle (notes §5.7)', () => {
  it('packs the tab with its header, the original, the DDI and the citations', async () => {
    const r = await guest.get(`/api/access/datafile/bundle/${ids.csv}`);
    expect(r.status).toBe(200);
    const h = zipHeaders('data-bundle.zip');
    expect(r.headers.get('content-disposition')).toBe(h.disposition);
    expect(r.headers.get('content-type')).toBe(h.type);
    const z = await unzipAll(r.body);
    expect([...z.keys()].sort()).toEqual([
      'data-ddi.xml',
      'data.csv',
      'data.tab',
      'datacitation-bib.bib',
      'datacitation-endnote.xml',
      'datacitation-ris.ris',
    ]);
    expect(z.get('data.tab')!.equals(TAB_FULL)).toBe(true);
    expect(z.get('data.csv')!.equals(CSV)).toBe(true);
    expect(z.get('data-ddi.xml')!.toString()).toMatch(/<codeBook [^>]*>.*<fileName>data\.tab<\/fileName>.*<\/codeBook>$/s);
    expect(z.get('datacitation-endnote.xml')!.toString()).toContain('<title>data.tab</title>');
    expect(z.get('datacitation-ris.ris')!.toString()).toMatch(/^Provider: .*\r\n[\s\S]*TY {2}- DATA\r\n[\s\S]*ER {2}- \r\n$/);
    expect(z.get('datacitation-bib.bib')!.toString()).toMatch(/^@data\{[\s\S]*title = \{\{data\.tab\}\}[\s\S]*\}\r\n$/);
  });

  it('refuses a restricted file with 403', async () => {
    expect((await guest.get(`/api/access/datafile/bundle/${ids.secret}`)).status).toBe(403);
  });
});
