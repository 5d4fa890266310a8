// Datasets of `dvfs serve`: create, view, versions, version specifiers,
// publishing, locks, the draft, permissions (dataverse-api-notes.md §2.3–§2.5, §3, §9, §10).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import {
  addFile,
  createCollection,
  createDataset,
  createUser,
  datasetJson,
  publishCollection,
  publishDataset,
  waitForNoLocks,
} from './helpers/fixtures.js';

let srv: ServeProcess;
let api: Api;
let guest: Api;
beforeAll(async () => {
  // A long finalizePublication lock so the tests can see it.
  srv = await startServe({ args: ['--publish-seconds', '2'] });
  api = new Api(srv.url, srv.adminToken);
  guest = api.as(undefined);
  await createCollection(api, 'root', 'pub', 'Published Collection');
  await publishCollection(api, 'pub');
  await createCollection(api, 'root', 'unpub', 'Unpublished Collection');
});
afterAll(async () => srv?.dispose());

const notPermitted = (who: string) => ({
  status: 'ERROR',
  message: `User ${who} is not permitted to perform requested action.`,
});

/** Change the title through editMetadata: creates a draft without touching files. */
async function retitle(a: Api, id: number, title: string) {
  const r = await a.put(`/api/datasets/${id}/editMetadata?replace=true`, {
    fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: title }],
  });
  expect(r.status).toBe(200);
  return r;
}

function titleOf(version: { metadataBlocks: { citation: { fields: { typeName: string; value: unknown }[] } } }) {
  return version.metadataBlocks.citation.fields.find((f) => f.typeName === 'title')?.value;
}

describe('creating datasets', () => {
  it('answers 201 with id and a FAKE DOI, and a Location', async () => {
    const r = await api.post('/api/dataverses/pub/datasets', datasetJson('Created'));
    expect(r.status).toBe(201);
    expect(Object.keys(r.json.data).sort()).toEqual(['id', 'persistentId']);
    expect(r.json.data.persistentId).toMatch(/^doi:10\.5072\/FK2\/[A-Z0-9]{6}$/);
    expect(r.headers.get('location')).toMatch(new RegExp(`/datasets/${r.json.data.id}$`));
  });

  it('gives every dataset its own PID', async () => {
    const pids = new Set<string>();
    for (let i = 0; i < 8; i++) pids.add((await createDataset(api, 'pub', `Many ${i}`)).pid);
    expect(pids.size).toBe(8);
  });

  it('needs AddDataset on the collection; the creator becomes curator of the dataset', async () => {
    const carol = await createUser(api, 'carol');
    const denied = await api.as(carol.token).post('/api/dataverses/pub/datasets', datasetJson('Nope'));
    expect(denied.status).toBe(401);
    expect(denied.json).toEqual(notPermitted('@carol'));
    const g = await guest.post('/api/dataverses/pub/datasets', datasetJson('Nope'));
    expect(g.status).toBe(401);
    expect(g.json).toEqual(notPermitted(':guest'));
    await api.post('/api/dataverses/pub/assignments', { assignee: '@carol', role: 'dsContributor' });
    const ds = await createDataset(api.as(carol.token), 'pub', 'By Carol');
    const roles = await api.get(`/api/datasets/${ds.id}/assignments`);
    expect(roles.status).toBe(200);
    expect(roles.json.data).toEqual([
      { id: expect.any(Number), assignee: '@carol', roleId: 7, _roleAlias: 'curator', definitionPointId: ds.id },
    ]);
    // As curator of the dataset carol can see and edit it.
    const perms = await api.as(carol.token).get(`/api/datasets/${ds.id}/userPermissions`);
    expect(perms.json.data).toEqual({
      canViewUnpublishedDataset: true,
      canEditDataset: true,
      canPublishDataset: true,
      canManageDatasetPermissions: true,
      canDeleteDatasetDraft: true,
    });
  });

  it('refuses an unknown collection and a body without a title', async () => {
    const nf = await api.post('/api/dataverses/nowhere/datasets', datasetJson('x'));
    expect(nf.status).toBe(404);
    expect(nf.json.message).toBe("Can't find dataverse with identifier='nowhere'");
    const noTitle = await api.post('/api/dataverses/pub/datasets', {
      datasetVersion: { metadataBlocks: { citation: { fields: [] } } },
    });
    expect(noTitle.status).toBe(400);
    const notJson = await api.post('/api/dataverses/pub/datasets', '{not json');
    expect(notJson.status).toBe(400);
  });
});

describe('viewing a dataset', () => {
  it('prints the dataset with its draft as latestVersion, by id and by PID', async () => {
    const ds = await createDataset(api, 'pub', 'Viewed');
    const r = await api.get(`/api/datasets/${ds.id}`);
    expect(r.status).toBe(200);
    const d = r.json.data;
    expect(d.id).toBe(ds.id);
    expect(`${d.protocol}:${d.authority}${d.separator}${d.identifier}`).toBe(ds.pid);
    expect(d.locks).toEqual([]);
    expect('publicationDate' in d).toBe(false);
    const v = d.latestVersion;
    expect(v.versionState).toBe('DRAFT');
    expect(v.latestVersionPublishingState).toBe('DRAFT');
    expect('versionNumber' in v).toBe(false);
    expect(v.datasetId).toBe(ds.id);
    expect(v.datasetPersistentId).toBe(ds.pid);
    expect(v.license).toMatchObject({ name: 'CC0 1.0', uri: 'http://creativecommons.org/publicdomain/zero/1.0' });
    expect(titleOf(v)).toBe('Viewed');
    expect(v.files).toEqual([]);
    const byPid = await api.get(`/api/datasets/:persistentId/?persistentId=${ds.pid}`);
    expect(byPid.json).toEqual(r.json);
  });

  it('answers the real errors for bad ids and PIDs', async () => {
    const nf = await api.get('/api/datasets/999999');
    expect(nf.status).toBe(404);
    expect(nf.json).toEqual({ status: 'ERROR', message: 'Dataset with ID 999999 not found.' });
    const bad = await api.get('/api/datasets/abc');
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe('Bad dataset ID number: abc.');
    const pid = await api.get('/api/datasets/:persistentId/?persistentId=doi:10.5072/FK2/NOSUCH');
    expect(pid.status).toBe(404);
    expect(pid.json.message).toBe(
      'When accessing a dataset based on Persistent ID, a persistentId query parameter must be present.',
    );
  });

  it('is 401 for guests and strangers while unpublished, 200 once published', async () => {
    const ds = await createDataset(api, 'pub', 'Soon public');
    const dan = await createUser(api, 'dan');
    expect((await guest.get(`/api/datasets/${ds.id}`)).json).toEqual(notPermitted(':guest'));
    const s = await api.as(dan.token).get(`/api/datasets/${ds.id}`);
    expect(s.status).toBe(401);
    expect(s.json).toEqual(notPermitted('@dan'));
    await publishDataset(api, ds.id);
    await retitle(api, ds.id, 'Soon public, edited');
    const g = await guest.get(`/api/datasets/${ds.id}`);
    expect(g.status).toBe(200);
    // A guest sees the released version; the owner sees the draft.
    expect(g.json.data.latestVersion.versionState).toBe('RELEASED');
    expect(g.json.data.latestVersion.latestVersionPublishingState).toBe('DRAFT');
    expect(titleOf(g.json.data.latestVersion)).toBe('Soon public');
    const own = await api.get(`/api/datasets/${ds.id}`);
    expect(own.json.data.latestVersion.versionState).toBe('DRAFT');
    expect(titleOf(own.json.data.latestVersion)).toBe('Soon public, edited');
  });

  it('adds the owner chain with returnOwners=true', async () => {
    await createCollection(api, 'pub', 'pubInner', 'Inner');
    const ds = await createDataset(api, 'pubInner', 'Owned');
    const r = await api.get(`/api/datasets/${ds.id}?returnOwners=true`);
    expect(r.json.data.isPartOf).toMatchObject({
      type: 'DATAVERSE',
      identifier: 'pubInner',
      isPartOf: { type: 'DATAVERSE', identifier: 'pub', isPartOf: { identifier: 'root' } },
    });
    expect('isPartOf' in (await api.get(`/api/datasets/${ds.id}`)).json.data).toBe(false);
  });
});

describe('publishing', () => {
  it('checks the type parameter first', async () => {
    const ds = await createDataset(api, 'pub', 'Typed');
    const missing = await api.post(`/api/datasets/${ds.id}/actions/:publish`);
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe("Missing 'type' parameter (either 'major','minor', or 'updatecurrent').");
    const bad = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=huge`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/^Illegal 'type' parameter value 'huge'/);
  });

  it('refuses a dataset in an unpublished collection', async () => {
    const ds = await createDataset(api, 'unpub', 'Stuck');
    const r = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(r.status).toBe(403);
    expect(r.json.message).toBe(
      'This dataset may not be published because its host dataverse (unpub) has not been published.',
    );
  });

  it('refuses guests and users without PublishDataset', async () => {
    const ds = await createDataset(api, 'pub', 'Guarded');
    const g = await guest.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(g.status).toBe(401);
    const erin = await createUser(api, 'erin');
    const e = await api.as(erin.token).post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(e.status).toBe(401);
    expect(e.json).toEqual(notPermitted('@erin'));
  });

  it('numbers versions 1.0, 1.1, 2.0 with the minor/major rules and a finalizePublication lock', async () => {
    const ds = await createDataset(api, 'pub', 'Numbered');
    const minorFirst = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=minor`);
    expect(minorFirst.status).toBe(403);
    expect(minorFirst.json.message).toBe('Cannot publish as minor version. Re-try as major release.');

    const r = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(r.status).toBe(200);
    expect(r.json.data.id).toBe(ds.id);
    expect('latestVersion' in r.json.data).toBe(false);
    const today = r.json.data.publicationDate;
    expect(today).toMatch(/^\d{4}-\d\d-\d\d$/);
    // The asynchronous part of publishing: a finalizePublication lock, and publishing again is refused.
    const locks = await api.get(`/api/datasets/${ds.id}/locks`);
    expect(locks.json.data.map((l: { lockType: string }) => l.lockType)).toEqual(['finalizePublication']);
    expect(locks.json.data[0]).toMatchObject({ user: 'dataverseAdmin', dataset: ds.pid });
    const edit = await api.put(`/api/datasets/${ds.id}/editMetadata?replace=true`, {
      fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: 'During finalization' }],
    });
    expect(edit.status).toBe(403);
    expect(edit.json.message).toBe('Dataset cannot be edited due to dataset lock.');
    const locked = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(locked.status).toBe(403);
    expect(locked.json.message).toBe('This dataset is locked. Reason: finalizePublication. Please try publishing later.');
    await waitForNoLocks(api, ds.id);

    const v1 = await api.get(`/api/datasets/${ds.id}/versions/1.0`);
    expect(v1.json.data).toMatchObject({ versionNumber: 1, versionMinorNumber: 0, versionState: 'RELEASED' });
    expect(v1.json.data.releaseTime).toMatch(/Z$/);

    await retitle(api, ds.id, 'Numbered 1.1');
    await publishDataset(api, ds.id, 'minor');
    const v11 = await api.get(`/api/datasets/${ds.id}/versions/1.1`);
    expect(v11.status).toBe(200);
    expect(titleOf(v11.json.data)).toBe('Numbered 1.1');

    await retitle(api, ds.id, 'Numbered 2.0');
    await publishDataset(api, ds.id, 'major');
    const list = await api.get(`/api/datasets/${ds.id}/versions?excludeFiles=true`);
    expect(list.json.data.map((v: { versionNumber: number; versionMinorNumber: number }) => `${v.versionNumber}.${v.versionMinorNumber}`)).toEqual([
      '2.0',
      '1.1',
      '1.0',
    ]);
    // The dataset's publicationDate is the first publication's.
    expect((await api.get(`/api/datasets/${ds.id}`)).json.data.publicationDate).toBe(today);

    const noDraft = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(noDraft.status).toBe(403);
    expect(noDraft.json.message).toMatch(/is already released\. Only draft versions can be released\.$/);
  });

  it('allows minor only when the set of files is unchanged', async () => {
    const ds = await createDataset(api, 'pub', 'With files');
    const add = await addFile(api, ds.id, 'a.txt', 'alpha\n');
    expect(add.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    await publishDataset(api, ds.id);
    const fileId = add.json.data.files[0].dataFile.id;
    const v1 = await api.get(`/api/datasets/${ds.id}/versions/1.0/files`);
    expect(v1.json.data[0].dataFile.publicationDate).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(v1.json.data[0].dataFile.id).toBe(fileId);

    expect((await addFile(api, ds.id, 'b.txt', 'beta\n')).status).toBe(200);
    await waitForNoLocks(api, ds.id);
    const minor = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=minor`);
    expect(minor.status).toBe(403);
    expect(minor.json.message).toBe('Cannot release as minor version. Re-try as major release.');
    await publishDataset(api, ds.id, 'major');
    expect((await api.get(`/api/datasets/${ds.id}/versions/2.0`)).status).toBe(200);
  });
});

describe('versions and version specifiers', () => {
  let id: number;
  let unpublishedId: number;
  let frank: Api;
  beforeAll(async () => {
    const ds = await createDataset(api, 'pub', 'Specifiers 1.0');
    id = ds.id;
    await publishDataset(api, id);
    await retitle(api, id, 'Specifiers 1.1');
    await publishDataset(api, id, 'minor');
    await retitle(api, id, 'Specifiers draft');
    unpublishedId = (await createDataset(api, 'pub', 'Never published')).id;
    frank = api.as((await createUser(api, 'frank')).token);
  });

  it('lists versions newest first, draft first, for editors', async () => {
    const r = await api.get(`/api/datasets/${id}/versions`);
    expect(r.status).toBe(200);
    expect(r.json.data.map((v: { versionState: string }) => v.versionState)).toEqual(['DRAFT', 'RELEASED', 'RELEASED']);
    expect(r.json.data[1]).toMatchObject({ versionNumber: 1, versionMinorNumber: 1 });
    expect(r.json.data[0].files).toEqual([]);
    expect(r.json.data[0].metadataBlocks.citation.fields.length).toBeGreaterThan(0);
    expect('totalCount' in r.json).toBe(false);
  });

  it('honours excludeFiles, excludeMetadataBlocks, offset and limit', async () => {
    const r = await api.get(`/api/datasets/${id}/versions?excludeFiles=true&excludeMetadataBlocks=true&offset=1&limit=1`);
    expect(r.json.data).toHaveLength(1);
    expect(r.json.data[0]).toMatchObject({ versionNumber: 1, versionMinorNumber: 1 });
    expect('files' in r.json.data[0]).toBe(false);
    expect('metadataBlocks' in r.json.data[0]).toBe(false);
  });

  it('shows only released versions to non-editors', async () => {
    const r = await frank.get(`/api/datasets/${id}/versions`);
    expect(r.json.data.map((v: { versionState: string }) => v.versionState)).toEqual(['RELEASED', 'RELEASED']);
    const g = await guest.get(`/api/datasets/${id}/versions`);
    expect(g.json.data).toHaveLength(2);
  });

  it('resolves every specifier with the permission rules', async () => {
    const title = async (a: Api, spec: string) => {
      const r = await a.get(`/api/datasets/${id}/versions/${spec}`);
      return r.status === 200 ? titleOf(r.json.data) : r.status;
    };
    expect(await title(api, ':draft')).toBe('Specifiers draft');
    expect(await title(api, ':latest')).toBe('Specifiers draft');
    expect(await title(api, ':latest-published')).toBe('Specifiers 1.1');
    expect(await title(api, '1')).toBe('Specifiers 1.0');
    expect(await title(api, '1.0')).toBe('Specifiers 1.0');
    expect(await title(api, '1.1')).toBe('Specifiers 1.1');
    expect(await title(guest, ':latest')).toBe('Specifiers 1.1');
    expect(await title(frank, ':latest')).toBe('Specifiers 1.1');

    const draftGuest = await guest.get(`/api/datasets/${id}/versions/:draft`);
    expect(draftGuest.status).toBe(401);
    expect(draftGuest.json).toEqual(notPermitted(':guest'));
    const missing = await api.get(`/api/datasets/${id}/versions/9.9`);
    expect(missing.status).toBe(404);
    expect(missing.json.message).toBe(`Dataset version 9.9 of dataset ${id} not found`);
    const illegal = await api.get(`/api/datasets/${id}/versions/foo`);
    expect(illegal.status).toBe(400);
    expect(illegal.json.message).toBe("Illegal version identifier 'foo'");
    const threeParts = await api.get(`/api/datasets/${id}/versions/1.0.0`);
    expect(threeParts.status).toBe(400);
  });

  it('answers 404 on version endpoints for an unpublished dataset to a guest', async () => {
    const r = await guest.get(`/api/datasets/${unpublishedId}/versions/:latest`);
    expect(r.status).toBe(404);
    expect(r.json.message).toBe(`Dataset version :latest of dataset ${unpublishedId} not found`);
    const lp = await api.get(`/api/datasets/${unpublishedId}/versions/:latest-published`);
    expect(lp.status).toBe(404);
    const files = await guest.get(`/api/datasets/${unpublishedId}/versions/:latest/files`);
    expect(files.status).toBe(404);
  });

  it('adds isPartOf to a version with returnOwners=true', async () => {
    const r = await api.get(`/api/datasets/${id}/versions/1.0?returnOwners=true&excludeFiles=true`);
    expect(r.json.data.isPartOf).toMatchObject({ type: 'DATAVERSE', identifier: 'pub' });
  });
});

describe('the file listing of a version', () => {
  let id: number;
  const names = ['beta.txt', 'Alpha.csv', 'gamma.json', 'delta.txt'];
  beforeAll(async () => {
    id = (await createDataset(api, 'pub', 'Listing')).id;
    const opts: Record<string, Record<string, unknown>> = {
      'beta.txt': { description: 'the second letter', categories: ['Data'], contentType: 'text/plain' },
      'Alpha.csv': { categories: ['Documentation'], restrict: true, tabIngest: false, contentType: 'text/csv' },
      'gamma.json': { directoryLabel: 'sub', contentType: 'application/json' },
      'delta.txt': { categories: ['Data'], contentType: 'text/plain' },
    };
    const sizes: Record<string, number> = { 'beta.txt': 30, 'Alpha.csv': 10, 'gamma.json': 20, 'delta.txt': 5 };
    for (const n of names) {
      const r = await addFile(api, id, n, 'x'.repeat(sizes[n]), opts[n]);
      expect(r.status).toBe(200);
      await waitForNoLocks(api, id);
      // Distinct creation times for Newest/Oldest.
      await new Promise((res) => setTimeout(res, 1100));
    }
  });

  const labels = (r: { json: { data: { label: string }[] } }) => r.json.data.map((x) => x.label);

  it('pages with totalCount before data and orders by label only (NameAZ)', async () => {
    const r = await api.get(`/api/datasets/${id}/versions/:draft/files`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['status', 'totalCount', 'data']);
    expect(r.json.totalCount).toBe(4);
    expect(labels(r)).toEqual(['Alpha.csv', 'beta.txt', 'delta.txt', 'gamma.json']);
    const p = await api.get(`/api/datasets/${id}/versions/:draft/files?limit=2&offset=1`);
    expect(p.json.totalCount).toBe(4);
    expect(labels(p)).toEqual(['beta.txt', 'delta.txt']);
  });

  it('orders by NameZA, Newest, Oldest, Size and Type, and refuses others', async () => {
    const order = async (o: string) => labels(await api.get(`/api/datasets/${id}/versions/:draft/files?orderCriteria=${o}`));
    expect(await order('NameZA')).toEqual(['gamma.json', 'delta.txt', 'beta.txt', 'Alpha.csv']);
    expect(await order('Newest')).toEqual(['delta.txt', 'gamma.json', 'Alpha.csv', 'beta.txt']);
    expect(await order('Oldest')).toEqual(['beta.txt', 'Alpha.csv', 'gamma.json', 'delta.txt']);
    expect(await order('Size')).toEqual(['delta.txt', 'Alpha.csv', 'gamma.json', 'beta.txt']);
    expect((await order('Type'))[0]).toBe('gamma.json'); // application/json sorts before text/*
    const bad = await api.get(`/api/datasets/${id}/versions/:draft/files?orderCriteria=Biggest`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe('Invalid order criteria: Biggest');
  });

  it('filters by contentType, accessStatus, categoryName and searchText', async () => {
    const q = async (s: string) => {
      const r = await api.get(`/api/datasets/${id}/versions/:draft/files?${s}`);
      return { total: r.json.totalCount, labels: labels(r) };
    };
    expect(await q('contentType=text/plain')).toEqual({ total: 2, labels: ['beta.txt', 'delta.txt'] });
    expect(await q('accessStatus=Restricted')).toEqual({ total: 1, labels: ['Alpha.csv'] });
    expect((await q('accessStatus=Public')).total).toBe(3);
    expect(await q('categoryName=Data')).toEqual({ total: 2, labels: ['beta.txt', 'delta.txt'] });
    expect(await q('searchText=SECOND')).toEqual({ total: 1, labels: ['beta.txt'] });
    expect(await q('searchText=ALPHA')).toEqual({ total: 1, labels: ['Alpha.csv'] });
    const bad = await api.get(`/api/datasets/${id}/versions/:draft/files?accessStatus=Secret`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toBe('Invalid access status: Secret');
  });

  it('counts files per content type, category and access status', async () => {
    const r = await api.get(`/api/datasets/${id}/versions/:draft/files/counts`);
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({
      total: 4,
      perContentType: { 'text/plain': 2, 'text/csv': 1, 'application/json': 1 },
      perCategoryName: { Data: 2, Documentation: 1 },
      perTabularTagName: {},
      perAccessStatus: { Public: 3, Restricted: 1 },
    });
  });
});

describe('locks', () => {
  it('lists, adds and removes locks with the real messages', async () => {
    const ds = await createDataset(api, 'pub', 'Lockable');
    const empty = await api.get(`/api/datasets/${ds.id}/locks`);
    expect(empty.json).toEqual({ status: 'OK', data: [] });
    const badType = await api.get(`/api/datasets/${ds.id}/locks?type=Nap`);
    expect(badType.status).toBe(400);
    expect(badType.json.message).toBe('Invalid lock type value: Nap');

    const gina = await createUser(api, 'gina');
    const refused = await api.as(gina.token).post(`/api/datasets/${ds.id}/lock/Ingest`);
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe('This API end point can be used by superusers only.');

    const l = await api.post(`/api/datasets/${ds.id}/lock/Ingest`);
    expect(l.status).toBe(200);
    expect(l.json.data.message).toBe('dataset locked with lock type Ingest');
    const twice = await api.post(`/api/datasets/${ds.id}/lock/Ingest`);
    expect(twice.status).toBe(403);
    expect(twice.json.message).toBe('dataset already locked with lock type Ingest');
    expect((await api.post(`/api/datasets/${ds.id}/lock/EditInProgress`)).status).toBe(200);

    const ingest = await api.get(`/api/datasets/${ds.id}/locks?type=Ingest`);
    expect(ingest.json.data).toHaveLength(1);
    expect(ingest.json.data[0]).toMatchObject({ lockType: 'Ingest', user: 'dataverseAdmin', dataset: ds.pid });
    expect(typeof ingest.json.data[0].date).toBe('string');
    expect((await api.get(`/api/datasets/${ds.id}`)).json.data.locks).toEqual(['Ingest', 'EditInProgress']);

    const pub = await api.post(`/api/datasets/${ds.id}/actions/:publish?type=major`);
    expect(pub.status).toBe(403);
    expect(pub.json.message).toBe('This dataset is locked. Reason: Ingest. Please try publishing later.');

    const delOne = await api.delete(`/api/datasets/${ds.id}/locks?type=Ingest`);
    expect(delOne.json.data.message).toBe('lock type Ingest removed');
    const delNone = await api.delete(`/api/datasets/${ds.id}/locks?type=Ingest`);
    expect(delNone.json.data.message).toBe('no lock type Ingest on the dataset');
    expect((await api.as(gina.token).delete(`/api/datasets/${ds.id}/locks`)).status).toBe(403);
    const delAll = await api.delete(`/api/datasets/${ds.id}/locks`);
    expect(delAll.json.data.message).toBe('locks removed');
    const again = await api.delete(`/api/datasets/${ds.id}/locks`);
    expect(again.json.data.message).toBe('dataset not locked');
    expect((await api.get(`/api/datasets/${ds.id}/locks`)).json.data).toEqual([]);
  });
});

describe('the draft: metadata edits and deletion', () => {
  it('edits citation metadata by editMetadata and PUT versions/:draft', async () => {
    const ds = await createDataset(api, 'pub', 'Editable');
    const noReplace = await api.put(`/api/datasets/${ds.id}/editMetadata`, {
      fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: 'Other' }],
    });
    expect(noReplace.status).toBe(400);
    await retitle(api, ds.id, 'Edited once');
    const body = (datasetJson('Edited twice') as { datasetVersion: unknown }).datasetVersion;
    const put = await api.put(`/api/datasets/${ds.id}/versions/:draft`, body);
    expect(put.status).toBe(200);
    expect(titleOf(put.json.data)).toBe('Edited twice');
    const notDraft = await api.put(`/api/datasets/${ds.id}/versions/1.0`, body);
    expect(notDraft.status).toBe(400);
    const hal = await createUser(api, 'hal');
    const denied = await api.as(hal.token).put(`/api/datasets/${ds.id}/editMetadata?replace=true`, {
      fields: [{ typeName: 'title', multiple: false, typeClass: 'primitive', value: 'Hacked' }],
    });
    expect(denied.status).toBe(401);
  });

  it('destroys a never-published dataset with its files and their bytes', async () => {
    const ds = await createDataset(api, 'pub', 'Doomed');
    const add = await addFile(api, ds.id, 'doomed.txt', 'bye\n');
    expect(add.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    const fileId = add.json.data.files[0].dataFile.id;
    expect((await api.get(`/api/access/datafile/${fileId}`)).status).toBe(200);

    expect((await api.delete(`/api/datasets/${ds.id}/versions/1.0`)).json.message).toBe(
      'Only the :draft version can be deleted',
    );
    expect((await guest.delete(`/api/datasets/${ds.id}/versions/:draft`)).status).toBe(401);
    await api.post(`/api/datasets/${ds.id}/lock/Ingest`);
    const locked = await api.delete(`/api/datasets/${ds.id}/versions/:draft`);
    expect(locked.status).toBe(403);
    expect(locked.json.message).toBe('Dataset cannot be edited due to dataset lock.');
    await api.delete(`/api/datasets/${ds.id}/locks`);

    const r = await api.delete(`/api/datasets/${ds.id}/versions/:draft`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'OK', data: { message: `Draft version of dataset ${ds.id} deleted` } });
    expect((await api.get(`/api/datasets/${ds.id}`)).status).toBe(404);
    expect((await api.get(`/api/access/datafile/${fileId}`)).status).toBe(404);
  });

  it('removes the stored bytes of a deleted draft, the tabular original too', async () => {
    const blobs = async () => (await readdir(path.join(srv.dataDir, 'blobs'))).filter((n) => !n.endsWith('.part')).length;
    const before = await blobs();
    const ds = await createDataset(api, 'pub', 'Tabular doomed');
    const plain = await addFile(api, ds.id, 'plain.txt', 'plain bytes\n', { contentType: 'text/plain' });
    expect(plain.status).toBe(200);
    const tab = await addFile(api, ds.id, 'table.csv', 'a,b\n1,2\n', { contentType: 'text/csv' });
    expect(tab.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    const files = await api.get(`/api/datasets/${ds.id}/versions/:draft/files`);
    expect(files.json.data.map((f: { label: string }) => f.label).sort()).toEqual(['plain.txt', 'table.tab']);
    // One blob for the plain file, two (archival .tab and original) for the ingested one.
    expect(await blobs()).toBe(before + 3);
    expect((await api.delete(`/api/datasets/${ds.id}/versions/:draft`)).status).toBe(200);
    expect(await blobs()).toBe(before);
  });

  it('deletes only the draft of a published dataset, and files added in it', async () => {
    const ds = await createDataset(api, 'pub', 'Keeps 1.0');
    const kept = await addFile(api, ds.id, 'kept.txt', 'kept\n');
    await waitForNoLocks(api, ds.id);
    await publishDataset(api, ds.id);
    const added = await addFile(api, ds.id, 'added.txt', 'added\n');
    expect(added.status).toBe(200);
    await waitForNoLocks(api, ds.id);
    const addedId = added.json.data.files[0].dataFile.id;
    const r = await api.delete(`/api/datasets/${ds.id}/versions/:draft`);
    expect(r.status).toBe(200);
    const versions = await api.get(`/api/datasets/${ds.id}/versions`);
    expect(versions.json.data.map((v: { versionState: string }) => v.versionState)).toEqual(['RELEASED']);
    expect((await api.get(`/api/access/datafile/${addedId}`)).status).toBe(404);
    expect((await api.get(`/api/access/datafile/${kept.json.data.files[0].dataFile.id}`)).status).toBe(200);
    const none = await api.delete(`/api/datasets/${ds.id}/versions/:draft`);
    expect(none.status).toBe(401);
    expect(none.json.message).toBe('This is NOT a DRAFT version');
  });

  it('DELETE /api/datasets/{id}: unpublished for its owner, published only for superusers', async () => {
    const ivy = await createUser(api, 'ivy');
    await api.post('/api/dataverses/pub/assignments', { assignee: '@ivy', role: 'contributor' });
    const ivyApi = api.as(ivy.token);
    const draftOnly = await createDataset(ivyApi, 'pub', 'Ivy draft');
    const r = await ivyApi.delete(`/api/datasets/${draftOnly.id}`);
    expect(r.status).toBe(200);
    expect(r.json.data.message).toBe(`Dataset ${draftOnly.id} deleted`);
    expect((await api.get(`/api/datasets/${draftOnly.id}`)).status).toBe(404);

    const published = await createDataset(ivyApi, 'pub', 'Ivy published');
    await publishDataset(api, published.id);
    const refused = await ivyApi.delete(`/api/datasets/${published.id}`);
    expect(refused.status).toBe(401);
    expect(refused.json.message).toBe('Only superusers can delete published datasets');
    expect((await api.delete(`/api/datasets/${published.id}`)).status).toBe(200);
    expect((await api.get(`/api/datasets/${published.id}`)).status).toBe(404);
  });
});

describe('userPermissions and dataset role assignments', () => {
  it('reports the caller’s permissions and follows dataset-level grants', async () => {
    const ds = await createDataset(api, 'pub', 'Permissions');
    const jack = await createUser(api, 'jack');
    const none = {
      canViewUnpublishedDataset: false,
      canEditDataset: false,
      canPublishDataset: false,
      canManageDatasetPermissions: false,
      canDeleteDatasetDraft: false,
    };
    expect((await guest.get(`/api/datasets/${ds.id}/userPermissions`)).json.data).toEqual(none);
    expect((await api.as(jack.token).get(`/api/datasets/${ds.id}/userPermissions`)).json.data).toEqual(none);
    const grant = await api.post(`/api/datasets/${ds.id}/assignments`, { assignee: '@jack', role: 'member' });
    expect(grant.status).toBe(200);
    expect(grant.json.data).toMatchObject({ assignee: '@jack', _roleAlias: 'member', roleId: 8, definitionPointId: ds.id });
    expect((await api.as(jack.token).get(`/api/datasets/${ds.id}/userPermissions`)).json.data).toEqual({
      ...none,
      canViewUnpublishedDataset: true,
    });
    expect((await api.as(jack.token).get(`/api/datasets/${ds.id}`)).status).toBe(200);
    const dupe = await api.post(`/api/datasets/${ds.id}/assignments`, { assignee: '@jack', role: 'member' });
    expect(dupe.status).toBe(403);
    expect(dupe.json.message).toBe('User already has this role for this dataset');
    const del = await api.delete(`/api/datasets/${ds.id}/assignments/${grant.json.data.id}`);
    expect(del.status).toBe(200);
    expect(del.json.data.message).toBe('Role Member revoked for assignee @jack in Permissions');
    expect((await api.as(jack.token).get(`/api/datasets/${ds.id}`)).status).toBe(401);
  });
});

describe('persistence', () => {
  it('keeps datasets, published versions and drafts across a restart', async () => {
    const ds = await createDataset(api, 'pub', 'Durable 1.0');
    await publishDataset(api, ds.id);
    await retitle(api, ds.id, 'Durable draft');
    await srv.stop();
    srv = await startServe({ dataDir: srv.dataDir, ownsDataDir: true });
    api = new Api(srv.url, srv.adminToken);
    guest = api.as(undefined);
    const byPid = await guest.get(`/api/datasets/:persistentId/?persistentId=${ds.pid}`);
    expect(byPid.status).toBe(200);
    expect(byPid.json.data.id).toBe(ds.id);
    expect(titleOf(byPid.json.data.latestVersion)).toBe('Durable 1.0');
    const own = await api.get(`/api/datasets/${ds.id}/versions`);
    expect(own.json.data.map((v: { versionState: string }) => v.versionState)).toEqual(['DRAFT', 'RELEASED']);
    // The PID counter and ids continue without collisions.
    const next = await createDataset(api, 'pub', 'After restart');
    expect(next.id).toBeGreaterThan(ds.id);
    expect(next.pid).not.toBe(ds.pid);
  });
});
