// The dispatch-fed response body against a real HTTP server: every byte in
// order through 'data' events with pause/resume, through async iteration and
// text(); an error after some bytes reaches a listener added late; destroy
// stops the download.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchGet } from '../src/dataverse/chunk-body.js';

const payload = randomBytes(3 * 1024 * 1024 + 7);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
let server: http.Server;
let origin: string;
let connections = 0;
const agent = new Agent({ connections: 4 });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/small') {
      res.writeHead(404, { 'content-length': '1000' });
      res.end(Buffer.alloc(1000, 0x41));
      return;
    }
    if (req.url === '/cut') {
      // Announce the whole payload, send a part, then reset the connection.
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.write(payload.subarray(0, 200_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.writeHead(200, { 'content-length': String(payload.length) });
    res.end(payload);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await agent.close();
  await new Promise((r) => server.close(r));
});

const get = (path: string) => dispatchGet(agent, { origin, path, method: 'GET', headers: {} });

describe('ChunkBody', () => {
  it('delivers every byte in order through data events, with an async consumer pausing and resuming', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (c) => {
        parts.push(Buffer.from(c));
        if (parts.length % 3 === 0) {
          res.body.pause();
          setTimeout(() => res.body.resume(), 2);
        }
      });
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
    expect(md5(Buffer.concat(parts))).toBe(md5(payload));
  });

  it('a consumer that pauses on every chunk and resumes at once (a resolved promise) gets every byte', async () => {
    const res = await get('/');
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (c) => {
        parts.push(Buffer.from(c));
        res.body.pause();
        void Promise.resolve().then(() => res.body.resume());
      });
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
    expect(md5(Buffer.concat(parts))).toBe(md5(payload));
  });

  it('async iteration and text() read the whole body', async () => {
    const parts: Buffer[] = [];
    for await (const c of (await get('/')).body) parts.push(Buffer.from(c));
    expect(md5(Buffer.concat(parts))).toBe(md5(payload));
    expect((await (await get('/')).body.text()).length).toBe(payload.toString('utf8').length);
  });

  it('a reset after some bytes is an error, also for a listener added after it happened', async () => {
    const res = await get('/cut');
    await new Promise((r) => setTimeout(r, 200)); // the reset happens while nobody listens
    let got = 0;
    const err = await new Promise<Error | undefined>((resolve) => {
      res.body.on('data', (c) => (got += c.length));
      res.body.once('end', () => resolve(undefined));
      res.body.once('error', resolve);
    });
    expect(err).toBeInstanceOf(Error);
    expect(got).toBeLessThan(payload.length);
  });

  it('dump reads a short body to the end and keeps the connection; a long one is cut off', async () => {
    const local = new Agent({ connections: 1 });
    try {
      const before = connections;
      for (let i = 0; i < 3; i++) {
        const res = await dispatchGet(local, { origin, path: '/small', method: 'GET', headers: {} });
        expect(res.statusCode).toBe(404);
        await res.body.dump();
      }
      expect(connections - before).toBe(1);
      const big = await dispatchGet(local, { origin, path: '/', method: 'GET', headers: {} });
      await big.body.dump(); // resolves after at most 128 KiB, without reading 3 MiB
      const after = await dispatchGet(local, { origin, path: '/small', method: 'GET', headers: {} });
      expect(after.statusCode).toBe(404);
      await after.body.dump();
    } finally {
      await local.close();
    }
  });

  it('destroy stops delivery: no data or end event after it', async () => {
    const res = await get('/');
    let after = 0;
    let destroyed = false;
    let ended = false;
    res.body.on('data', () => {
      if (destroyed) after++;
      destroyed = true;
      res.body.destroy();
    });
    res.body.once('end', () => (ended = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(after).toBe(0);
    expect(ended).toBe(false);
  });
});
