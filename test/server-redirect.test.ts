// Redirect mode of `dvfs serve`: downloads answer 303 to a separate blob
// origin with expiring signed URLs, like Dataverse's S3 download-redirect
// (dataverse-api-notes.md §5.5).
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { Api } from './helpers/api.js';
import { Control, rawGet } from './helpers/control.js';
import { addFile, createDataset } from './helpers/fixtures.js';

const NAME = 'résumé data (v2).bin';
/** RFC 5987 as Java's URLEncoder writes it, '+' → %20 (the presigned URL's response-content-disposition). */
const DISPOSITION = `attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20data%20%28v2%29.bin`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let srv: ServeProcess;
let api: Api;
let control: Control;
let blobPort: number;
let fileId: number;
let contentType: string;
const data = randomBytes(300_000);

beforeAll(async () => {
  blobPort = await freePort();
  srv = await startServe({ args: ['--redirect', '--blob-port', String(blobPort)] });
  api = new Api(srv.url, srv.adminToken);
  control = new Control(srv.url);
  const ds = await createDataset(api, 'root', 'Redirected');
  const r = await addFile(api, ds.id, NAME, data);
  expect(r.status).toBe(200);
  fileId = r.json.data.files[0].dataFile.id;
  contentType = r.json.data.files[0].dataFile.contentType;
});
afterAll(async () => {
  // The server is restarted on the same data directory below, so remove it here.
  await srv?.stop();
  if (srv) await rm(srv.dataDir, { recursive: true, force: true });
});
afterEach(async () => control.setFaults({ rules: [], bandwidthBytesPerSec: null, redirect: true }));

/** The 303's Location for the test file (asked with the admin token, as a client would). */
async function signedUrl(range?: string): Promise<string> {
  const r = await api.get(`/api/access/datafile/${fileId}`, { headers: range ? { Range: range } : {} });
  expect(r.status).toBe(303);
  return r.headers.get('location')!;
}

function xmlCode(text: string): { code?: string; message?: string } {
  return {
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1],
  };
}

describe('redirect mode', () => {
  it('answers a download with 303 to the blob origin, with a signed URL that carries no token', async () => {
    const location = await signedUrl();
    const u = new URL(location);
    expect(u.origin).toBe(`http://127.0.0.1:${blobPort}`);
    expect(u.origin).not.toBe(new URL(srv.url).origin);
    expect(Number(u.searchParams.get('expires'))).toBeGreaterThan(Date.now() / 1000 + 3000);
    expect(u.searchParams.get('sig')).toMatch(/^[0-9a-f]{64}$/);
    expect(location).not.toContain(srv.adminToken);
  });

  it('serves the bytes without a token, with the RFC 5987 disposition and the content type', async () => {
    const r = await rawGet(await signedUrl());
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
    expect(r.headers['content-length']).toBe(String(data.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['content-disposition']).toBe(DISPOSITION);
    expect(r.headers['content-type']).toBe(contentType);
  });

  it('answers a Range request with 303 too, and the blob origin serves the range', async () => {
    const location = await signedUrl('bytes=100-199');
    const r = await rawGet(location, { Range: 'bytes=100-199' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${data.length}`);
    expect(r.headers['content-length']).toBe('100');
    expect(r.body.equals(data.subarray(100, 200))).toBe(true);
    const tail = await rawGet(location, { Range: 'bytes=-50' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(data.subarray(data.length - 50))).toBe(true);
    const open = await rawGet(location, { Range: `bytes=${data.length - 10}-` });
    expect(open.status).toBe(206);
    expect(open.headers['content-range']).toBe(`bytes ${data.length - 10}-${data.length - 1}/${data.length}`);
    const clamped = await rawGet(location, { Range: `bytes=0-${data.length + 1000}` });
    expect(clamped.status).toBe(206);
    expect(clamped.body.equals(data)).toBe(true);
  });

  it('refuses a range beyond the end with 416 InvalidRange', async () => {
    const r = await rawGet(await signedUrl(), { Range: `bytes=${data.length}-` });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${data.length}`);
    expect(xmlCode(r.body.toString()).code).toBe('InvalidRange');
  });

  it('answers HEAD with the headers only', async () => {
    const res = await fetch(await signedUrl(), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('refuses a tampered URL with 403 SignatureDoesNotMatch', async () => {
    const u = new URL(await signedUrl());
    const renamed = new URL(u);
    renamed.searchParams.set('filename', 'other.bin');
    const later = new URL(u);
    later.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 86400));
    const otherBlob = new URL(u);
    otherBlob.pathname = otherBlob.pathname.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    for (const bad of [renamed, later, otherBlob]) {
      const r = await rawGet(bad.toString());
      expect(r.status).toBe(403);
      expect(r.headers['content-type']).toBe('application/xml');
      expect(xmlCode(r.body.toString()).code).toBe('SignatureDoesNotMatch');
    }
    const unsigned = new URL(u);
    unsigned.searchParams.delete('sig');
    const r = await rawGet(unsigned.toString());
    expect(r.status).toBe(403);
    expect(xmlCode(r.body.toString()).code).toBe('AccessDenied');
  });

  it('streams again when redirect mode is switched off at run time', async () => {
    await control.setFaults({ redirect: false });
    const r = await rawGet(`${srv.url}/api/access/datafile/${fileId}`, { 'X-Dataverse-key': srv.adminToken });
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
  });
});

describe('the blob origin and the request log', () => {
  it('never receives a token from a careful client, and the log would show one if sent', async () => {
    const since = await control.mark();
    const location = await signedUrl();
    await rawGet(location, { Range: 'bytes=0-99' });
    // A careless client forwarding its token: served anyway (the token is ignored), but visible in the log.
    const careless = await rawGet(location, { 'X-Dataverse-key': srv.adminToken });
    expect(careless.status).toBe(200);
    const { entries } = await control.requests(since);
    const api303 = entries.filter((e) => e.origin === 'api');
    const blob = entries.filter((e) => e.origin === 'blob');
    expect(api303.map((e) => [e.status, e.tokenSent])).toEqual([[303, true]]);
    expect(blob.map((e) => [e.method, e.range, e.status, e.tokenSent])).toEqual([
      ['GET', 'bytes=0-99', 206, false],
      ['GET', undefined, 200, true],
    ]);
    expect(blob[0].path).toBe(new URL(location).pathname + new URL(location).search);
    const raw = await new Api(srv.url).get(`/api/control/requests?since=${since}`);
    expect(raw.text).not.toContain(srv.adminToken);
  });

  it('applies blob-origin rules with S3-style errors, leaving the API alone', async () => {
    await control.setFaults({ rules: [{ path: '^/blob/', origin: 'blob', status: 503, retryAfter: 3, count: 1 }] });
    const location = await signedUrl();
    const r = await rawGet(location);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('3');
    expect(xmlCode(r.body.toString()).code).toBe('SlowDown');
    expect((await rawGet(location)).status).toBe(200);
  });

  it('cuts and throttles blob-origin bodies like API ones', async () => {
    await control.setFaults({ rules: [{ path: '^/blob/', resetAfterBytes: 1000 }] });
    const location = await signedUrl();
    const cut = await rawGet(location);
    expect(cut.error).toBeDefined();
    expect(cut.body.equals(data.subarray(0, 1000))).toBe(true);
    await control.setFaults({ rules: [], bandwidthBytesPerSec: 100_000 });
    const slow = await rawGet(location);
    expect(slow.body.equals(data)).toBe(true);
    expect(slow.ms).toBeGreaterThanOrEqual(2700); // 300 kB at 100 kB/s
  });
});

describe('signed URL lifetime', () => {
  it('keeps URLs valid across a restart and refuses expired ones with 403 AccessDenied', async () => {
    const before = await signedUrl();
    await srv.stop();
    srv = await startServe({
      dataDir: srv.dataDir,
      args: ['--redirect', '--blob-port', String(blobPort), '--signed-url-seconds', '1'],
    });
    api = new Api(srv.url, srv.adminToken);
    control = new Control(srv.url);
    const still = await rawGet(before);
    expect(still.status).toBe(200);
    expect(still.body.equals(data)).toBe(true);

    const short = await signedUrl();
    expect(Number(new URL(short).searchParams.get('expires'))).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await rawGet(short);
    expect(expired.status).toBe(403);
    expect(xmlCode(expired.body.toString())).toEqual({ code: 'AccessDenied', message: 'Request has expired' });
  });
});
