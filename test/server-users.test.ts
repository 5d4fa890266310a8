// Info and users endpoints of `dvfs serve` (dataverse-api-notes.md §11, §12).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { createUser } from './helpers/fixtures.js';

let srv: ServeProcess;
let api: Api;
beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
});
afterAll(async () => srv?.dispose());

describe('info and users', () => {
  it('reports its version with a JSON null build, ignoring a bad key', async () => {
    const r = await api.get('/api/info/version', { token: 'not-a-token' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'OK', data: { version: '6.11', build: null } });
  });

  it('answers /api and /api/v1 alike', async () => {
    const a = await api.get('/api/users/:me');
    const b = await api.get('/api/v1/users/:me');
    expect(a.status).toBe(200);
    expect(b.json).toEqual(a.json);
    expect(a.json.data.identifier).toBe('@dataverseAdmin');
    expect(a.json.data.superuser).toBe(true);
  });

  it('gives 401 Bad API key for a bad token and 400 for no token on users/:me', async () => {
    const bad = await api.get('/api/users/:me', { token: 'nope' });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ status: 'ERROR', message: 'Bad API key' });
    const none = await api.as(undefined).get('/api/users/:me');
    expect(none.status).toBe(400);
    expect(none.json.message).toBe('User with token null not found.');
  });

  it('creates builtin users whose tokens work and can be fetched again', async () => {
    const u = await createUser(api, 'alice');
    const me = await api.as(u.token).get('/api/users/:me');
    expect(me.json.data.identifier).toBe('@alice');
    expect(me.json.data.superuser).toBe(false);
    const again = await api.as(undefined).get('/api/builtin-users/alice/api-token?password=pw-alice');
    expect(again.json.data.message).toBe(u.token);
    const wrongKey = await api.as(undefined).post('/api/builtin-users?key=wrong&password=x', { userName: 'bob' });
    expect(wrongKey.status).toBe(401);
  });

  it('tells the token expiry, about a year ahead', async () => {
    const r = await api.get('/api/users/token');
    expect(r.status).toBe(200);
    const m = /^Token \S+ expires on (\d{4}-\d{2}-\d{2}) \d{2}:\d{2}:\d{2}\.0$/.exec(r.json.data.message);
    expect(m).not.toBeNull();
    const days = (Date.parse(m![1]) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(360);
    expect(days).toBeLessThan(367);
  });

  it('lets a superuser make another user a superuser', async () => {
    const u = await createUser(api, 'carol');
    const r = await api.put('/api/admin/superuser/carol', 'true');
    expect(r.status).toBe(200);
    const me = await api.as(u.token).get('/api/users/:me');
    expect(me.json.data.superuser).toBe(true);
    const denied = await api.as(u.token).put('/api/admin/superuser/dataverseAdmin', 'false');
    expect(denied.status).toBe(200); // carol is a superuser now
    const notSuper = await createUser(api, 'dave');
    const refused = await api.as(notSuper.token).put('/api/admin/superuser/dave', 'true');
    expect(refused.status).toBe(403);
    await api.as(u.token).put('/api/admin/superuser/dataverseAdmin', 'true');
  });

  it('recreates a token and rejects the old one', async () => {
    const u = await createUser(api, 'erin');
    const r = await api.as(u.token).post('/api/users/token/recreate');
    expect(r.status).toBe(200);
    const fresh = /is (\S+)$/.exec(r.json.data.message)![1];
    expect((await api.as(u.token).get('/api/users/:me')).status).toBe(401);
    expect((await api.as(fresh).get('/api/users/:me')).status).toBe(200);
  });

  it('keeps the state file, which holds every token, readable by its owner only', async () => {
    const u = await createUser(api, 'gina');
    const file = path.join(srv.dataDir, 'state.json');
    expect(await readFile(file, 'utf8')).toContain(u.token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('keeps users across a restart of the server', async () => {
    const u = await createUser(api, 'frank');
    await srv.stop();
    const again = await startServe({ dataDir: srv.dataDir });
    try {
      const me = await new Api(again.url, u.token).get('/api/users/:me');
      expect(me.json.data.identifier).toBe('@frank');
    } finally {
      await again.stop();
    }
    srv = await startServe({ dataDir: srv.dataDir, ownsDataDir: true });
    api = new Api(srv.url, srv.adminToken);
  });
});
