// The hash worker (src/cache/hash-service.ts): whole-file digests with
// back-pressure, and block CRCs of buffers handed over without a copy.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HashService } from '../src/cache/hash-service.js';

const services: HashService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});

function service(useWorker: boolean, maxQueued = 2 * 1024 * 1024): HashService {
  const s = new HashService({ useWorker, maxQueued, log: () => undefined });
  services.push(s);
  return s;
}

describe('hash service', () => {
  it.each([true, false])('digests many blocks in order (worker: %s), holding the caller back when the queue is full', async (useWorker) => {
    const blocks = Array.from({ length: 40 }, (_, i) => randomBytes(i === 39 ? 1234 : 1024 * 1024));
    const want = createHash('sha256');
    for (const b of blocks) want.update(b);
    const job = service(useWorker).start('SHA-256');
    let waited = 0;
    for (const b of blocks) {
      const w = job.update(b);
      if (w) {
        waited++;
        await w;
      }
    }
    expect(await job.digest()).toBe(want.digest('hex'));
    if (useWorker) expect(waited).toBeGreaterThan(0); // 40 MiB through a 2 MiB queue
  });

  it('runs jobs side by side and forgets an aborted one', async () => {
    const s = service(true);
    const a = s.start('MD5');
    const b = s.start('SHA-1');
    const c = s.start('SHA-512');
    const x = randomBytes(300_000);
    const y = randomBytes(500_000);
    a.update(x);
    b.update(y);
    c.update(x);
    c.abort();
    a.update(y);
    expect(await a.digest()).toBe(createHash('md5').update(x).update(y).digest('hex'));
    expect(await b.digest()).toBe(createHash('sha1').update(y).digest('hex'));
    await expect(c.digest()).rejects.toThrow();
  });

  it('computes block CRCs in the worker, moving a block buffer there and back', async () => {
    const s = service(true);
    const buf = Buffer.allocUnsafe(32 + 1024 * 1024);
    randomBytes(buf.length).copy(buf);
    const copy = Buffer.from(buf);
    const r = await s.crc32(buf, 32);
    expect(r.crc).toBe(crc32(copy.subarray(32)) >>> 0);
    expect(r.buf.equals(copy)).toBe(true);
    expect(buf.length).toBe(0); // it travelled: the old view is detached
    // A small buffer sharing Node's pool is copied, not moved.
    const small = Buffer.from('a small last block');
    const r2 = await s.crc32(small, 2);
    expect(r2.crc).toBe(crc32(small.subarray(2)) >>> 0);
    expect(small.toString()).toBe('a small last block');
  });

  it('computes the same CRC without a worker', async () => {
    const b = randomBytes(70_000);
    expect((await service(false).crc32(b, 10)).crc).toBe(crc32(b.subarray(10)) >>> 0);
  });

  it('refuses an algorithm it does not know', () => {
    expect(() => service(true).start('UNF' as never)).toThrow(/unknown checksum algorithm/);
  });
});
