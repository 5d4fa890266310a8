// Collections of `dvfs serve`: create, view, contents, publish, delete and
// role assignments (dataverse-api-notes.md §1.3, §1.4, §2.1, §2.2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { createCollection, createDataset, createUser, publishCollection, publishDataset } from './helpers/fixtures.js';

let srv: ServeProcess;
let api: Api;
let guest: Api;
beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
  guest = api.as(undefined);
});
afterAll(async () => srv?.dispose());

const notPermitted = (who: string) => ({
  status: 'ERROR',
  message: `User ${who} is not permitted to perform requested action.`,
});

describe('creating collections', () => {
  it('answers 201 with a Location and the collection, unpublished, owned by its parent', async () => {
    const root = await api.get('/api/dataverses/:root');
    const r = await api.post('/api/dataverses/root', {
      alias: 'labA',
      name: 'Lab A',
      affiliation: 'Uni',
      description: 'A lab',
      dataverseContacts: [{ contactEmail: 'a@example.org' }, { contactEmail: 'b@example.org' }],
      dataverseType: 'LABORATORY',
    });
    expect(r.status).toBe(201);
    expect(r.json.status).toBe('OK');
    expect(r.headers.get('location')).toMatch(/\/dataverses\/labA$/);
    const d = r.json.data;
    expect(d).toMatchObject({
      alias: 'labA',
      name: 'Lab A',
      affiliation: 'Uni',
      description: 'A lab',
      dataverseType: 'LABORATORY',
      ownerId: root.json.data.id,
      isReleased: false,
      dataverseContacts: [
        { displayOrder: 0, contactEmail: 'a@example.org' },
        { displayOrder: 1, contactEmail: 'b@example.org' },
      ],
    });
    expect(d.creationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('gives the creator the admin role on the new collection', async () => {
    const u = await createUser(api, 'colcreator');
    await api.post('/api/dataverses/root/assignments', { assignee: '@colcreator', role: 'dsContributor' });
    // dsContributor may add datasets, not collections.
    const refused = await api.as(u.token).post('/api/dataverses/root', {
      alias: 'byCreator',
      name: 'x',
      dataverseContacts: [{ contactEmail: 'x@example.org' }],
    });
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual(notPermitted('@colcreator'));
    const r = await api.post('/api/dataverses/root/assignments', { assignee: '@colcreator', role: 'curator' });
    expect(r.status).toBe(200);
    const id = await createCollection(api.as(u.token), 'root', 'byCreator');
    const list = await api.get(`/api/dataverses/${id}/assignments`);
    expect(list.status).toBe(200);
    expect(list.json.data).toEqual([
      { id: expect.any(Number), assignee: '@colcreator', roleId: 1, _roleAlias: 'admin', definitionPointId: id },
    ]);
  });

  it('refuses guests, unknown parents and duplicate aliases (case-insensitive)', async () => {
    const body = { alias: 'dupe', name: 'Dupe', dataverseContacts: [{ contactEmail: 'd@example.org' }] };
    const g = await guest.post('/api/dataverses/root', body);
    expect(g.status).toBe(401);
    const missing = await api.post('/api/dataverses/nope', body);
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ status: 'ERROR', message: "Can't find dataverse with identifier='nope'" });
    expect((await api.post('/api/dataverses/root', body)).status).toBe(201);
    const again = await api.post('/api/dataverses/root', { ...body, alias: 'DUPE' });
    expect(again.status).toBe(403);
    expect(again.json.message).toBe('A dataverse with alias DUPE already exists');
  });

  it('rejects an alias with illegal characters and a missing name', async () => {
    const bad = await api.post('/api/dataverses/root', {
      alias: 'has space',
      name: 'x',
      dataverseContacts: [{ contactEmail: 'x@example.org' }],
    });
    expect(bad.status).toBe(400);
    const noName = await api.post('/api/dataverses/root', {
      alias: 'noname',
      dataverseContacts: [{ contactEmail: 'x@example.org' }],
    });
    expect(noName.status).toBe(400);
  });
});

describe('viewing collections', () => {
  it('finds a collection by id, by alias in any case, and :root', async () => {
    const id = await createCollection(api, 'root', 'MixedCase', 'Mixed Case');
    const byId = await api.get(`/api/dataverses/${id}`);
    const byAlias = await api.get('/api/dataverses/mixedcase');
    expect(byId.status).toBe(200);
    expect(byAlias.json).toEqual(byId.json);
    expect(byAlias.json.data.alias).toBe('MixedCase');
    const root = await guest.get('/api/dataverses/:root');
    expect(root.status).toBe(200);
    expect(root.json.data.alias).toBe('root');
    expect(root.json.data.isReleased).toBe(true);
    expect('ownerId' in root.json.data).toBe(false);
    const nf = await api.get('/api/dataverses/999999');
    expect(nf.status).toBe(404);
    expect(nf.json.message).toBe("Can't find dataverse with identifier='999999'");
  });

  it('nests the owners under isPartOf with returnOwners=true', async () => {
    await createCollection(api, 'root', 'outer', 'Outer');
    await createCollection(api, 'outer', 'inner', 'Inner');
    const plain = await api.get('/api/dataverses/inner');
    expect('isPartOf' in plain.json.data).toBe(false);
    const r = await api.get('/api/dataverses/inner?returnOwners=true');
    const p = r.json.data.isPartOf;
    expect(p).toMatchObject({ type: 'DATAVERSE', identifier: 'outer', displayName: 'Outer', isReleased: false });
    expect(p.isPartOf).toMatchObject({ type: 'DATAVERSE', identifier: 'root', displayName: 'Root', isReleased: true });
    expect('isPartOf' in p.isPartOf).toBe(false);
    const root = await api.get('/api/dataverses/:root?returnOwners=true');
    expect('isPartOf' in root.json.data).toBe(false);
  });

  it('hides an unpublished collection from guests and strangers with 401', async () => {
    await createCollection(api, 'root', 'secret');
    const stranger = await createUser(api, 'stranger');
    const g = await guest.get('/api/dataverses/secret');
    expect(g.status).toBe(401);
    expect(g.json).toEqual(notPermitted(':guest'));
    const s = await api.as(stranger.token).get('/api/dataverses/secret');
    expect(s.status).toBe(401);
    expect(s.json).toEqual(notPermitted('@stranger'));
    await publishCollection(api, 'secret');
    expect((await guest.get('/api/dataverses/secret')).json.data.isReleased).toBe(true);
  });
});

describe('contents', () => {
  it('lists sub-collections first then datasets, each by id, in the real shapes', async () => {
    await createCollection(api, 'root', 'box', 'Box');
    await publishCollection(api, 'box');
    const ds1 = await createDataset(api, 'box', 'First');
    const sub1 = await createCollection(api, 'box', 'boxSub1', 'Sub One');
    const ds2 = await createDataset(api, 'box', 'Second');
    const sub2 = await createCollection(api, 'box', 'boxSub2', 'Sub Two');
    const r = await api.get('/api/dataverses/box/contents');
    expect(r.status).toBe(200);
    const items = r.json.data;
    expect(items.map((x: { type: string; id: number }) => [x.type, x.id])).toEqual([
      ['dataverse', sub1],
      ['dataverse', sub2],
      ['dataset', ds1.id],
      ['dataset', ds2.id],
    ]);
    // Child collections: exactly type, id, title; no alias.
    expect(items[0]).toEqual({ type: 'dataverse', id: sub1, title: 'Sub One' });
    expect(ds1.pid).toMatch(/^doi:10\.5072\/FK2\/[A-Z0-9]{6}$/);
    const rest = ds1.pid.slice('doi:10.5072/'.length);
    expect(items[2]).toEqual({
      id: ds1.id,
      identifier: rest,
      persistentUrl: `https://doi.org/10.5072/${rest}`,
      protocol: 'doi',
      authority: '10.5072',
      separator: '/',
      publisher: expect.any(String),
      storageIdentifier: `file://10.5072/${rest}`,
      datasetType: 'dataset',
      locks: [],
      type: 'dataset',
    });
    expect('title' in items[2]).toBe(false);
  });

  it('shows guests only published children; an unpublished parent is 401', async () => {
    await createCollection(api, 'root', 'mixed');
    await publishCollection(api, 'mixed');
    const pubSub = await createCollection(api, 'mixed', 'mixedPub');
    await publishCollection(api, 'mixedPub');
    await createCollection(api, 'mixed', 'mixedDraft');
    const pubDs = await createDataset(api, 'mixed', 'Published one');
    await publishDataset(api, pubDs.id);
    await createDataset(api, 'mixed', 'Draft one');
    const g = await guest.get('/api/dataverses/mixed/contents');
    expect(g.status).toBe(200);
    expect(g.json.data.map((x: { id: number }) => x.id)).toEqual([pubSub, pubDs.id]);
    expect(g.json.data[1].publicationDate).toMatch(/^\d{4}-\d\d-\d\d$/);
    const admin = await api.get('/api/dataverses/mixed/contents');
    expect(admin.json.data).toHaveLength(4);
    const hidden = await guest.get('/api/dataverses/mixedDraft/contents');
    expect(hidden.status).toBe(401);
    expect(hidden.json).toEqual(notPermitted(':guest'));
  });
});

describe('publishing and deleting collections', () => {
  it('needs a published parent and refuses a second publish', async () => {
    await createCollection(api, 'root', 'parentUnpub');
    await createCollection(api, 'parentUnpub', 'childUnpub');
    const r = await api.post('/api/dataverses/childUnpub/actions/:publish');
    expect(r.status).toBe(403);
    expect(r.json.message).toBe(
      'Dataverse childUnpub may not be published because its host dataverse (parentUnpub) has not been published.',
    );
    const p = await api.post('/api/dataverses/parentUnpub/actions/:publish');
    expect(p.status).toBe(200);
    expect(p.json.data.isReleased).toBe(true);
    const again = await api.post('/api/dataverses/parentUnpub/actions/:publish');
    expect(again.status).toBe(403);
    expect(again.json.message).toBe('Dataverse parentUnpub has already been published.');
    const stranger = await createUser(api, 'pubstranger');
    const denied = await api.as(stranger.token).post('/api/dataverses/childUnpub/actions/:publish');
    expect(denied.status).toBe(401);
  });

  it('deletes empty collections only', async () => {
    await createCollection(api, 'root', 'full');
    await createCollection(api, 'full', 'fullChild');
    const refused = await api.delete('/api/dataverses/full');
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe('Cannot delete non-empty dataverses');
    const root = await api.delete('/api/dataverses/root');
    expect(root.status).toBe(403);
    expect(root.json.message).toBe('Cannot delete the root dataverse');
    const ok = await api.delete('/api/dataverses/fullChild');
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ status: 'OK', data: { message: 'Dataverse fullChild deleted' } });
    expect((await api.get('/api/dataverses/fullChild')).status).toBe(404);
    const stranger = await createUser(api, 'delstranger');
    expect((await api.as(stranger.token).delete('/api/dataverses/full')).status).toBe(401);
    expect((await api.delete('/api/dataverses/full')).status).toBe(200);
  });
});

describe('role assignments on collections', () => {
  it('grants, lists and revokes roles, and the role takes effect', async () => {
    await createCollection(api, 'root', 'team', 'Team');
    const bob = await createUser(api, 'bob');
    const bobApi = api.as(bob.token);
    expect((await bobApi.get('/api/dataverses/team')).status).toBe(401);
    const r = await api.post('/api/dataverses/team/assignments', { assignee: '@bob', role: 'curator' });
    expect(r.status).toBe(200);
    const teamId = (await api.get('/api/dataverses/team')).json.data.id;
    expect(r.json.data).toEqual({
      id: expect.any(Number),
      assignee: '@bob',
      roleId: 7,
      _roleAlias: 'curator',
      definitionPointId: teamId,
    });
    expect((await bobApi.get('/api/dataverses/team')).status).toBe(200);
    const ds = await createDataset(bobApi, 'team', 'By Bob');
    expect(ds.id).toBeGreaterThan(0);

    const dupe = await api.post('/api/dataverses/team/assignments', { assignee: '@bob', role: 'curator' });
    expect(dupe.status).toBe(403);
    const badRole = await api.post('/api/dataverses/team/assignments', { assignee: '@bob', role: 'wizard' });
    expect(badRole.status).toBe(400);
    const badUser = await api.post('/api/dataverses/team/assignments', { assignee: '@nobody', role: 'member' });
    expect(badUser.status).toBe(400);
    const byBob = await bobApi.post('/api/dataverses/team/assignments', { assignee: '@bob', role: 'admin' });
    expect(byBob.status).toBe(401);

    const list = await api.get('/api/dataverses/team/assignments');
    const mine = list.json.data.find((a: { assignee: string }) => a.assignee === '@bob');
    expect(mine._roleAlias).toBe('curator');
    expect((await guest.get('/api/dataverses/team/assignments')).status).toBe(401);

    const del = await api.delete(`/api/dataverses/team/assignments/${mine.id}`);
    expect(del.status).toBe(200);
    expect(del.json.data.message).toBe('Role Curator revoked for assignee @bob in Team');
    expect((await bobApi.get('/api/dataverses/team')).status).toBe(401);
    const gone = await api.delete(`/api/dataverses/team/assignments/${mine.id}`);
    expect(gone.status).toBe(404);
  });
});

describe('persistence', () => {
  it('keeps collections and their state across a restart', async () => {
    await createCollection(api, 'root', 'durable', 'Durable');
    await publishCollection(api, 'durable');
    await createCollection(api, 'durable', 'durableChild', 'Durable Child');
    await srv.stop();
    srv = await startServe({ dataDir: srv.dataDir, ownsDataDir: true });
    api = new Api(srv.url, srv.adminToken);
    guest = api.as(undefined);
    const r = await guest.get('/api/dataverses/durable');
    expect(r.status).toBe(200);
    expect(r.json.data.isReleased).toBe(true);
    const c = await api.get('/api/dataverses/durable/contents');
    expect(c.json.data).toEqual([{ type: 'dataverse', id: expect.any(Number), title: 'Durable Child' }]);
    // The creator's admin role survived as well.
    const roles = await api.get('/api/dataverses/durableChild/assignments');
    expect(roles.json.data.map((a: { _roleAlias: string }) => a._roleAlias)).toEqual(['admin']);
  });
});
