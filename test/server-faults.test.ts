// Fault injection, shaping, the control endpoint and the request log of `dvfs serve`.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { Control, rawGet } from './helpers/control.js';
import { addFile, createDataset, createUser } from './helpers/fixtures.js';
import { isLoopbackAddress } from '../src/server/routes/control.js';
import { parseRate } from '../src/server/fault-flags.js';

const INTERNAL_ERROR = 'Internal server error. More details available at the server logs.';

let srv: ServeProcess;
let api: Api;
let control: Control;
beforeAll(async () => {
  srv = await startServe();
  api = new Api(srv.url, srv.adminToken);
  control = new Control(srv.url);
});
afterAll(async () => srv?.dispose());
afterEach(async () => control.resetFaults());

/** A URL whose 404 body (it echoes requestUrl) is about `n` bytes long: a sizeable body without any dataset. */
function longUrl(n: number): string {
  return `${srv.url}/api/no-such-endpoint?pad=${'x'.repeat(n)}`;
}

describe('injected statuses', () => {
  it('answers 503 with Retry-After for `count` requests, then stops, and shows what is left', async () => {
    await control.setFaults({ rules: [{ path: '^/api/info/version', status: 503, retryAfter: 7, count: 2 }] });
    for (let i = 0; i < 2; i++) {
      const r = await api.get('/api/info/version');
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.json.status).toBe('ERROR');
      expect(typeof r.json.message).toBe('string');
    }
    const after = await api.get('/api/info/version');
    expect(after.status).toBe(200);
    expect(after.json.data.version).toBe('6.11');
    const view = await control.faults();
    expect(view.rules).toEqual([{ path: '^/api/info/version', status: 503, retryAfter: 7, count: 0, fired: 2 }]);
  });

  it('answers 500 with the real server shape (code, message, incidentId)', async () => {
    await control.setFaults({ rules: [{ path: 'users/:me', status: 500 }] });
    const r = await api.get('/api/users/:me');
    expect(r.status).toBe(500);
    expect(Object.keys(r.json)).toEqual(['status', 'code', 'message', 'incidentId']);
    expect(r.json).toMatchObject({ status: 'ERROR', code: 500, message: INTERNAL_ERROR });
    expect(r.json.incidentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.headers.get('retry-after')).toBeNull();
    // Other paths are untouched.
    expect((await api.get('/api/info/version')).status).toBe(200);
  });

  it('matches the method when a rule names one, and answers 429', async () => {
    await control.setFaults({ rules: [{ path: '^/api/builtin-users', method: 'POST', status: 429, retryAfter: 1 }] });
    const get = await api.as(undefined).get('/api/builtin-users/nobody/api-token?password=x');
    expect(get.status).toBe(400); // a GET is not matched: the endpoint answers itself
    const post = await api.as(undefined).post('/api/builtin-users?key=burrito&password=p', { userName: 'zed' });
    expect(post.status).toBe(429);
    expect(post.headers.get('retry-after')).toBe('1');
    expect(post.json.status).toBe('ERROR');
  });

  it('fires with the given probability, identically for the same seed', async () => {
    const run = async (): Promise<number[]> => {
      await control.setFaults({ seed: 12345, rules: [{ path: 'version', status: 503, probability: 0.3 }] });
      const statuses: number[] = [];
      for (let i = 0; i < 120; i++) statuses.push((await api.get('/api/info/version')).status);
      return statuses;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    const failed = first.filter((s) => s === 503).length;
    expect(first.every((s) => s === 503 || s === 200)).toBe(true);
    // 120 draws at p = 0.3: mean 36, sd 5; both "never" and "always" are far outside.
    expect(failed).toBeGreaterThan(15);
    expect(failed).toBeLessThan(60);
    const view = await control.faults();
    expect((view.rules as { fired: number }[])[0].fired).toBe(failed);
  });

  it('reports bad settings with 400 and keeps the old ones', async () => {
    await control.setFaults({ latencyMs: 1 });
    const bad = [
      [{ latencyMs: -1 }, "'latencyMs' must be a non-negative number"],
      [{ nonsense: 1 }, "unknown fault setting 'nonsense'"],
      [{ rules: [{ path: '(' }] }, "rules[0]: bad 'path' regular expression"],
      [{ rules: [{ path: 'x' }] }, 'rules[0]: needs an effect'],
      [{ rules: [{ path: 'x', status: 503, probability: 2 }] }, "rules[0]: 'probability' must be between 0 and 1"],
    ] as const;
    for (const [settings, message] of bad) {
      const r = await new Api(srv.url).post('/api/control/faults', settings);
      expect(r.status).toBe(400);
      expect(r.json.status).toBe('ERROR');
      expect(r.json.message).toContain(message);
    }
    expect((await control.faults()).latencyMs).toBe(1);
  });
});

describe('latency, stalls, resets and bandwidth', () => {
  it('adds latency to every request but not to the control endpoint', async () => {
    const t0 = performance.now();
    await api.get('/api/info/version');
    const base = performance.now() - t0;
    await control.setFaults({ latencyMs: 400 });
    const t1 = performance.now();
    const r = await api.get('/api/info/version');
    const slowed = performance.now() - t1;
    expect(r.status).toBe(200);
    expect(slowed).toBeGreaterThanOrEqual(390);
    expect(slowed).toBeGreaterThan(base);
    await control.setFaults({ latencyMs: 5000 });
    const t2 = performance.now();
    await control.faults();
    expect(performance.now() - t2).toBeLessThan(4000);
  });

  it('adds a rule latency only to matching requests', async () => {
    await control.setFaults({ rules: [{ path: 'users', latencyMs: 500 }] });
    const t0 = performance.now();
    expect((await api.get('/api/users/:me')).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(490);
  });

  it('stalls a body after N bytes and then finishes it intact', async () => {
    const url = longUrl(6000);
    const plain = await rawGet(url);
    expect(plain.status).toBe(404);
    await control.setFaults({ rules: [{ path: 'no-such-endpoint', stallAfterBytes: 1000, stallMs: 1200 }] });
    const stalled = await rawGet(url);
    expect(stalled.error).toBeUndefined();
    expect(stalled.status).toBe(404);
    expect(stalled.ms).toBeGreaterThanOrEqual(1150);
    // The 404 body is deterministic: the stalled one must be identical.
    expect(stalled.body.equals(plain.body)).toBe(true);
  });

  it('cuts the connection after exactly N body bytes', async () => {
    const url = longUrl(6000);
    const full = await rawGet(url);
    expect(full.body.length).toBeGreaterThan(6000);
    await control.setFaults({ rules: [{ path: 'no-such-endpoint', resetAfterBytes: 1234, count: 1 }] });
    const cut = await rawGet(url);
    expect(cut.status).toBe(404);
    expect(cut.headers['content-length']).toBe(String(full.body.length));
    expect(cut.error).toBeDefined();
    expect(cut.body.length).toBe(1234);
    expect(cut.body.equals(full.body.subarray(0, 1234))).toBe(true);
    // count: 1 → the next request is whole again.
    const again = await rawGet(url);
    expect(again.error).toBeUndefined();
    expect(again.body.equals(full.body)).toBe(true);
  });

  it('caps the bandwidth of a response body', async () => {
    const url = longUrl(12_000);
    await control.setFaults({ bandwidthBytesPerSec: 4000 });
    const r = await rawGet(url);
    expect(r.error).toBeUndefined();
    expect(r.body.length).toBeGreaterThan(12_000);
    // ≥ 12 kB at 4 kB/s: about 3 s (minus a 50 ms burst allowance).
    expect(r.ms).toBeGreaterThanOrEqual(2700);
  });
});

describe('request log', () => {
  it('records method, path, range, status and whether a token was sent, never the token', async () => {
    const since = await control.mark();
    const user = await createUser(api, 'logger');
    await api.as(user.token).get('/api/users/:me', { headers: { Range: 'bytes=0-9' } });
    await api.as(undefined).get(`/api/users/:me?key=${user.token}`);
    await api.as(undefined).get('/api/info/version');
    await control.faults(); // the control endpoint is not logged
    const { last, entries } = await control.requests(since);
    expect(entries.map((e) => [e.method, e.path, e.status, e.tokenSent])).toEqual([
      // key= counts as a token, whatever endpoint it is sent to (the builtin-users key here).
      ['POST', `/api/builtin-users?key=***&password=pw-logger`, 200, true],
      ['GET', '/api/users/:me', 200, true],
      ['GET', '/api/users/:me?key=***', 200, true],
      ['GET', '/api/info/version', 200, false],
    ]);
    expect(entries[1].range).toBe('bytes=0-9');
    expect(entries.every((e) => e.origin === 'api' && e.bytes > 0)).toBe(true);
    expect(last).toBe(entries[entries.length - 1].seq);
    const raw = await new Api(srv.url).get(`/api/control/requests?since=${since}`);
    expect(raw.text).not.toContain(user.token);
    expect(raw.text).not.toContain(srv.adminToken);
    expect(raw.text).not.toContain('/api/control');
  });

  it('can be emptied, and `since` returns only newer entries', async () => {
    await api.get('/api/info/version');
    await control.clearRequests();
    expect((await control.requests()).entries).toEqual([]);
    await api.get('/api/info/version');
    const { last, entries } = await control.requests();
    expect(entries).toHaveLength(1);
    expect((await control.requests(last)).entries).toEqual([]);
  });
});

describe('control endpoint access', () => {
  it('accepts loopback addresses only', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '128.0.0.1', '::2', 'fe80::1', '', undefined]) {
      expect(isLoopbackAddress(a)).toBe(false);
    }
  });

  it('needs no token and ignores a bad one', async () => {
    const r = await new Api(srv.url, 'not-a-token').get('/api/v1/control/faults');
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('OK');
  });

  it('is exempt from faults that match it', async () => {
    await control.setFaults({ rules: [{ path: '.*', status: 503 }] });
    expect((await api.get('/api/info/version')).status).toBe(503);
    const view = await control.faults();
    expect((view.rules as unknown[]).length).toBe(1);
  });
});

describe('flags of dvfs serve', () => {
  it('parses bandwidth rates', () => {
    expect(parseRate('500K')).toBe(500 * 1024);
    expect(parseRate('10M')).toBe(10 * 1024 * 1024);
    expect(parseRate('1G')).toBe(1024 ** 3);
    expect(parseRate('12345')).toBe(12345);
    expect(() => parseRate('fast')).toThrow(/--bandwidth/);
  });

  it('start the server with the faults they describe', async () => {
    const s = await startServe({
      args: [
        '--latency-ms', '20', '--bandwidth', '500K', '--no-range', '--redirect', '--fault-seed', '9',
        '--fault', '{"path":"^/api/info","status":503,"count":1}',
        '--fault', '{"path":"^/api/users","resetAfterBytes":10}',
      ],
    });
    try {
      const view = await new Control(s.url).faults();
      expect(view).toEqual({
        latencyMs: 20,
        bandwidthBytesPerSec: 512_000,
        noRange: true,
        redirect: true,
        seed: 9,
        rules: [
          { path: '^/api/info', status: 503, count: 1, fired: 0 },
          { path: '^/api/users', resetAfterBytes: 10, fired: 0 },
        ],
      });
      expect((await new Api(s.url).get('/api/info/version')).status).toBe(503);
      expect((await new Api(s.url).get('/api/info/version')).status).toBe(200);
    } finally {
      await s.dispose();
    }
  });

  it('refuse a bad --fault', async () => {
    await expect(startServe({ args: ['--fault', '{"path":'] })).rejects.toThrow(/--fault #1 is not valid JSON/);
  });
});

describe('faults on datasets and downloads', () => {
  let datasetId: number;
  let fileId: number;
  const data = randomBytes(1 << 20);
  beforeAll(async () => {
    datasetId = (await createDataset(api, 'root', 'Faults')).id;
    const r = await addFile(api, datasetId, 'one-mebibyte.bin', data);
    expect(r.status).toBe(200);
    fileId = r.json.data.files[0].dataFile.id;
  });
  const download = () => `${srv.url}/api/access/datafile/${fileId}`;
  const auth = () => ({ 'X-Dataverse-key': srv.adminToken });

  it('shows an injected lock in /locks and drops it after N seconds', async () => {
    await control.lock(datasetId, 'EditInProgress', 2);
    const locked = await api.get(`/api/datasets/${datasetId}/locks`);
    expect(locked.status).toBe(200);
    expect(locked.json.data).toHaveLength(1);
    expect(locked.json.data[0]).toMatchObject({ lockType: 'EditInProgress', user: 'dataverseAdmin' });
    await new Promise((r) => setTimeout(r, 2200));
    const free = await api.get(`/api/datasets/${datasetId}/locks`);
    expect(free.json.data).toEqual([]);
  });

  it('refuses a lock of an unknown type or dataset', async () => {
    const c = new Api(srv.url);
    const badType = await c.post(`/api/control/locks/${datasetId}?type=Nap&seconds=1`);
    expect(badType.status).toBe(400);
    expect(badType.json.message).toBe('Invalid lock type value: Nap');
    const noDs = await c.post('/api/control/locks/999999?type=Ingest&seconds=1');
    expect(noDs.status).toBe(404);
  });

  it('caps bandwidth per connection: a 1 MiB download at 256 KiB/s takes about 4 s', async () => {
    await control.setFaults({ bandwidthBytesPerSec: 256 * 1024 });
    const r = await rawGet(download(), auth());
    expect(r.error).toBeUndefined();
    expect(r.body.equals(data)).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(3700);
  });

  it('gives each connection its own cap', async () => {
    await control.setFaults({ bandwidthBytesPerSec: 512 * 1024 });
    const t0 = performance.now();
    const both = await Promise.all([rawGet(download(), auth()), rawGet(download(), auth())]);
    const ms = performance.now() - t0;
    for (const r of both) expect(r.body.equals(data)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(1800);
    // One shared cap would need about 4 s for the two.
    expect(ms).toBeLessThan(3600);
  });

  it('cuts a download after N bytes: the client gets a short body and an error', async () => {
    await control.setFaults({ rules: [{ path: '^/api/access/datafile/', resetAfterBytes: 300_000 }] });
    const r = await rawGet(download(), auth());
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(data.length));
    expect(r.error).toBeDefined();
    expect(r.body.length).toBe(300_000);
    expect(r.body.equals(data.subarray(0, 300_000))).toBe(true);
  });

  it('stalls a download mid-body', async () => {
    await control.setFaults({ rules: [{ path: '^/api/access/datafile/', stallAfterBytes: 500_000, stallMs: 1500 }] });
    const r = await rawGet(download(), auth());
    expect(r.error).toBeUndefined();
    expect(r.ms).toBeGreaterThanOrEqual(1450);
    expect(r.body.equals(data)).toBe(true);
  });

  it('old-server mode answers a Range request with 200 and the whole body', async () => {
    const ranged = await rawGet(download(), { ...auth(), Range: 'bytes=10-19' });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(data.subarray(10, 20))).toBe(true);
    await control.setFaults({ noRange: true });
    const old = await rawGet(download(), { ...auth(), Range: 'bytes=10-19' });
    expect(old.status).toBe(200);
    expect(old.headers['content-range']).toBeUndefined();
    expect(old.body.equals(data)).toBe(true);
  });
});
