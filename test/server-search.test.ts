// GET /api/search of `dvfs serve` (dataverse-api-notes.md §12): parameters,
// item shapes, and what guests may see.
import { createHash } from 'node:crypto';
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

let srv: ServeProcess;
let api: Api;
let guest: Api;
let ocean: { id: number; pid: string };
let secret: { id: number; pid: string };
let edited: { id: number; pid: string };
beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
  guest = api.as(undefined);
  await createCollection(api, 'root', 'srch', 'Search Root Coll');
  await publishCollection(api, 'srch');
  await createCollection(api, 'srch', 'srchSub', 'Search Sub Coll');
  await publishCollection(api, 'srchSub');
  await createCollection(api, 'srch', 'srchHidden', 'Hidden Coll');
  await createCollection(api, 'root', 'elsewhere', 'Elsewhere Coll');
  await publishCollection(api, 'elsewhere');
  ocean = await createDataset(api, 'srchSub', 'Ocean Temperatures');
  await publishDataset(api, ocean.id);
  secret = await createDataset(api, 'srch', 'Secret Plans');
  edited = await createDataset(api, 'elsewhere', 'Edited Later');
  await publishDataset(api, edited.id);
  const r = await api.put(`/api/datasets/${edited.id}/editMetadata?replace=true`, {
    fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: 'Edited Later v2' }],
  });
  expect(r.status).toBe(200);
});
afterAll(async () => srv?.dispose());

type Item = Record<string, unknown> & { type: string; name: string };
const names = (items: Item[]) => items.map((i) => `${i.type}:${i.name}`);

describe('search', () => {
  it('answers the envelope of the real server, with only published things for guests', async () => {
    const r = await guest.get('/api/search?q=*&subtree=srch');
    expect(r.status).toBe(200);
    const d = r.json.data;
    expect(d).toMatchObject({ q: '*', start: 0, spelling_alternatives: {} });
    expect(names(d.items)).toEqual(['dataverse:Search Sub Coll', 'dataset:Ocean Temperatures']);
    expect(d.total_count).toBe(2);
    expect(d.count_in_response).toBe(2);
  });

  it('shows unpublished collections and drafts to those who may see them', async () => {
    const r = await api.get('/api/search?q=*&subtree=srch');
    const items: Item[] = r.json.data.items;
    expect(names(items).sort()).toEqual(
      ['dataverse:Search Sub Coll', 'dataverse:Hidden Coll', 'dataset:Ocean Temperatures', 'dataset:Secret Plans'].sort(),
    );
    expect(items.find((i) => i.name === 'Hidden Coll')?.publicationStatuses).toEqual(['Unpublished']);
    const draft = items.find((i) => i.name === 'Secret Plans')!;
    expect(draft).toMatchObject({ versionState: 'DRAFT', publicationStatuses: ['Unpublished', 'Draft'], global_id: secret.pid });
    expect('majorVersion' in draft).toBe(false);
  });

  it('prints dataverse items with identifier = alias and the parent', async () => {
    const r = await guest.get('/api/search?q=*&type=dataverse&subtree=srch');
    expect(r.json.data.items).toHaveLength(1);
    const c = r.json.data.items[0];
    expect(c).toMatchObject({
      name: 'Search Sub Coll',
      type: 'dataverse',
      identifier: 'srchSub',
      publicationStatuses: ['Published'],
      parentDataverseName: 'Search Root Coll',
      parentDataverseIdentifier: 'srch',
    });
    expect(c.url).toMatch(/\/dataverse\/srchSub$/);
    expect(c.published_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('prints dataset items with global_id, name = title, version numbers and the collection', async () => {
    const r = await guest.get('/api/search?q=ocean&type=dataset');
    expect(r.json.data.total_count).toBe(1);
    const d = r.json.data.items[0];
    expect(d).toMatchObject({
      name: 'Ocean Temperatures',
      type: 'dataset',
      url: `https://doi.org/${ocean.pid.slice(4)}`,
      global_id: ocean.pid,
      versionState: 'RELEASED',
      majorVersion: 1,
      minorVersion: 0,
      fileCount: 0,
      identifier_of_dataverse: 'srchSub',
      name_of_dataverse: 'Search Sub Coll',
      publicationStatuses: ['Published'],
    });
    expect(d.published_at).toMatch(/Z$/);
  });

  it('gives guests the released card and editors the draft card too', async () => {
    const g = await guest.get('/api/search?q=edited&type=dataset');
    expect(g.json.data.items.map((i: Item) => [i.name, i.versionState])).toEqual([['Edited Later', 'RELEASED']]);
    const a = await api.get('/api/search?q=edited&type=dataset');
    expect(a.json.data.items.map((i: Item) => [i.name, i.versionState])).toEqual([
      ['Edited Later', 'RELEASED'],
      ['Edited Later v2', 'DRAFT'],
    ]);
    expect(a.json.data.items[1].publicationStatuses).toEqual(['Draft']);
  });

  it('filters by repeated type and subtree parameters, recursively', async () => {
    const both = await guest.get('/api/search?q=*&subtree=srchSub&subtree=elsewhere');
    expect(names(both.json.data.items)).toEqual(['dataset:Ocean Temperatures', 'dataset:Edited Later']);
    const types = await guest.get('/api/search?q=coll&type=dataverse&type=dataset');
    expect(names(types.json.data.items)).toEqual([
      'dataverse:Search Root Coll',
      'dataverse:Search Sub Coll',
      'dataverse:Elsewhere Coll',
    ]);
    const bad = await guest.get('/api/search?q=*&type=person');
    expect(bad.status).toBe(400);
  });

  it('matches q as a case-insensitive substring', async () => {
    const r = await guest.get('/api/search?q=TEMPERAT');
    expect(names(r.json.data.items)).toEqual(['dataset:Ocean Temperatures']);
    const none = await guest.get('/api/search?q=zebra');
    expect(none.json.data).toMatchObject({ total_count: 0, count_in_response: 0, items: [] });
  });

  it('pages with start and per_page, and refuses more than 1000 per page', async () => {
    const all = await guest.get('/api/search?q=*&sort=name&order=asc');
    const total = all.json.data.total_count;
    expect(total).toBeGreaterThanOrEqual(5);
    const sorted = [...all.json.data.items.map((i: Item) => i.name.toLowerCase())].sort((a, b) => a.localeCompare(b, 'en'));
    expect(all.json.data.items.map((i: Item) => i.name.toLowerCase())).toEqual(sorted);
    const p = await guest.get('/api/search?q=*&sort=name&order=asc&start=1&per_page=2');
    expect(p.json.data).toMatchObject({ start: 1, total_count: total, count_in_response: 2 });
    expect(p.json.data.items).toEqual(all.json.data.items.slice(1, 3));
    const desc = await guest.get('/api/search?q=*&sort=name&order=desc');
    expect(desc.json.data.items).toEqual([...all.json.data.items].reverse());
    const defaultPage = await guest.get('/api/search?q=*');
    expect(defaultPage.json.data.count_in_response).toBe(Math.min(10, total));
    const big = await guest.get('/api/search?q=*&per_page=1001');
    expect(big.status).toBe(400);
    const max = await guest.get('/api/search?q=*&per_page=1000');
    expect(max.status).toBe(200);
  });

  it('requires q', async () => {
    const r = await guest.get('/api/search');
    expect(r.status).toBe(400);
    expect(r.json.status).toBe('ERROR');
  });

  it('finds files of published versions with their checksum and dataset', async () => {
    const ds = await createDataset(api, 'srchSub', 'With a file');
    const content = 'searchable bytes\n';
    const add = await addFile(api, ds.id, 'findme.txt', content, { contentType: 'text/plain' });
    expect(add.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    expect((await guest.get('/api/search?q=findme&type=file')).json.data.total_count).toBe(0);
    await publishDataset(api, ds.id);
    const r = await guest.get('/api/search?q=findme&type=file');
    expect(r.json.data.total_count).toBe(1);
    const md5 = createHash('md5').update(content).digest('hex');
    expect(r.json.data.items[0]).toMatchObject({
      name: 'findme.txt',
      type: 'file',
      file_id: String(add.json.data.files[0].dataFile.id),
      file_content_type: 'text/plain',
      size_in_bytes: Buffer.byteLength(content),
      md5,
      checksum: { type: 'MD5', value: md5 },
      dataset_id: String(ds.id),
      dataset_persistent_id: ds.pid,
      dataset_name: 'With a file',
    });
    const dsItem = (await guest.get('/api/search?q=with%20a%20file&type=dataset')).json.data.items[0];
    expect(dsItem.fileCount).toBe(1);
  });
});
