// The write path under faults injected by `dvfs serve` (its control
// endpoint): 5xx and 429 answers, connections reset after the server acted,
// a held dataset lock, a refusal, bytes changing during an upload. Every file
// must land exactly once, byte-exact; a refusal stays visible and is retried.
import { readdir, writeFile as writeLocal } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addOnServer,
  count,
  expectDraft,
  requestsSince,
  rewriteFile,
  serverDraft,
  sleep,
  startWriteEnv,
  writeFile,
  writeRequests,
  type WriteEnv,
} from './write-helpers.js';

let env: WriteEnv;
beforeAll(async () => {
  env = await startWriteEnv();
});
afterEach(async () => {
  await env.control.resetFaults();
});
afterAll(async () => {
  await env?.dispose();
});

function files(n: number, prefix: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < n; i++) out[`${prefix}/f${i}.bin`] = randomBytes(20_000 + i * 1000);
  return out;
}

async function writeAll(w: Awaited<ReturnType<WriteEnv['writer']>>['w'], ds: number, fs: Record<string, Buffer>): Promise<void> {
  for (const [p, data] of Object.entries(fs)) await writeFile(w, ds, p, data);
}

/** Statuses of the add requests logged since `since`. */
async function addStatuses(since: number): Promise<(number | undefined)[]> {
  return (await requestsSince(env.control, since)).filter((e) => e.method === 'POST' && /\/add$/.test(e.path)).map((e) => e.status);
}

describe('server errors and resets', () => {
  it('retries 503 answers and lands every file once', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const fs = files(5, 'e503');
    await env.control.setFaults({ rules: [{ path: '/add$', status: 503, count: 2 }] });
    const since = await env.control.mark();
    await writeAll(w, ds, fs);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, fs);
    const statuses = await addStatuses(since);
    expect(statuses.filter((s) => s === 503)).toHaveLength(2);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(w.counters.retries).toBeGreaterThanOrEqual(2);
  });

  it('waits as long as a 429 Retry-After says', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    await env.control.setFaults({ rules: [{ path: '/add$', status: 429, retryAfter: 1, count: 1 }] });
    await writeFile(w, ds, 'slow.txt', 'after a pause\n');
    const t0 = Date.now();
    expect((await w.sync()).failed).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    await expectDraft(env.api, ds, { 'slow.txt': 'after a pause\n' });
  });

  it('does not add twice when the connection breaks after the server stored the file', async () => {
    const ds = await env.newDataset();
    const { w, logs } = await env.writer();
    const fs = files(4, 'reset');
    // The server adds the file, then the answer is cut after 10 bytes.
    await env.control.setFaults({ rules: [{ path: '/add$', resetAfterBytes: 10, count: 3 }] });
    const since = await env.control.mark();
    await writeAll(w, ds, fs);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, fs); // a second add would show as f0-1.bin
    expect(await addStatuses(since)).toHaveLength(4); // found on the server, not sent again
    expect(logs.filter((l) => /already on the server/.test(l))).toHaveLength(3);
  });

  it('replaces exactly once through a 500 and a reset', async () => {
    const ds = await env.newDataset();
    const before = await addOnServer(env.api, ds, 'r.txt', 'old\n', { directoryLabel: 'rep', description: 'Kept' });
    const { w } = await env.writer();
    await env.control.setFaults({
      rules: [
        { path: '/replace$', status: 500, count: 1 },
        { path: '/replace$', resetAfterBytes: 5, count: 1 },
      ],
    });
    const since = await env.control.mark();
    await rewriteFile(w, ds, 'rep/r.txt', 'new\n');
    expect((await w.sync()).failed).toEqual([]);
    const f = (await expectDraft(env.api, ds, { 'rep/r.txt': 'new\n' })).get('rep/r.txt')!;
    expect(f.description).toBe('Kept');
    const reqs = writeRequests(await requestsSince(env.control, since));
    expect(reqs).toEqual([`POST /files/${before.dataFile.id}/replace`, `POST /files/${before.dataFile.id}/replace`]);
  });
});

describe('locks', () => {
  it('waits for a held EditInProgress lock, then lands adds, deletes and renames', async () => {
    const ds = await env.newDataset();
    const del = await addOnServer(env.api, ds, 'del.txt', 'delete me\n');
    await addOnServer(env.api, ds, 'mv.txt', 'move me\n');
    const { w, logs } = await env.writer();
    await env.control.lock(ds, 'EditInProgress', 2);
    const t0 = Date.now();
    await writeFile(w, ds, 'locked/new.txt', 'added after the lock\n');
    await w.unlink(ds, 'del.txt');
    await w.rename(ds, 'mv.txt', 'moved.txt');
    expect((await w.sync()).failed).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    const got = await expectDraft(env.api, ds, { 'locked/new.txt': 'added after the lock\n', 'moved.txt': 'move me\n' });
    expect([...got.values()].some((f) => f.id === del.dataFile.id)).toBe(false);
    expect(w.counters.lockWaits).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => /locked \(EditInProgress\)/.test(l))).toBe(true);
  });

  it('marks the change failed when the lock outlasts the wait, and lands it on the next sync', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer({ lockWaitMs: 300 });
    await env.control.lock(ds, 'Workflow', 1.5);
    await writeFile(w, ds, 'w.txt', 'eventually\n');
    const first = await w.sync();
    expect(first.failed).toHaveLength(1);
    expect(first.failed[0]).toMatchObject({ path: 'w.txt', op: 'add', state: 'failed' });
    expect(first.failed[0].error).toMatch(/locked \(Workflow\)/);
    await sleep(1500);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'w.txt': 'eventually\n' });
  });
});

describe('refusals and changing bytes', () => {
  it("keeps a refused upload staged, shows the server's reason, and sends it again on sync and after a remount", async () => {
    const ds = await env.newDataset();
    const { w, stateDir, logs } = await env.writer();
    await env.control.setFaults({ rules: [{ path: '/add$', status: 400 }] });
    await writeFile(w, ds, 'refused.txt', 'keep me\n');
    const r = await w.sync();
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0].error).toContain('Injected fault: HTTP 400');
    expect(w.status().failed[0]).toMatchObject({ path: 'refused.txt', state: 'failed' });
    expect(logs.some((l) => /FAILED refused\.txt.*Injected fault: HTTP 400/.test(l))).toBe(true);
    // Still there after a remount that cannot send either.
    await w.close({ waitForUploads: false });
    const again = await env.writer({ stateDir });
    expect((await again.w.sync()).failed).toHaveLength(1);
    await env.control.resetFaults();
    expect((await again.w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'refused.txt': 'keep me\n' });
  });

  it('uploads the final bytes when the file changes during its upload', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const data = randomBytes(8 * 1024 * 1024);
    await writeFile(w, ds, 'moving.bin', data);
    // The server waits before reading the upload: the change happens while it is on the wire.
    await env.control.setFaults({ rules: [{ path: '/add$', latencyMs: 600, count: 1 }] });
    const first = w.sync();
    await sleep(250);
    const h = await w.open(ds, 'moving.bin', { write: true });
    await w.write(h, Buffer.from('CHANGED'), 1000);
    await w.release(h);
    await first;
    expect((await w.sync()).failed).toEqual([]);
    const final = Buffer.from(data);
    Buffer.from('CHANGED').copy(final, 1000);
    await expectDraft(env.api, ds, { 'moving.bin': final });
  });

  it("re-uploads when the server's checksum differs from the local one", async () => {
    const ds = await env.newDataset();
    const { w, stateDir, logs } = await env.writer();
    await writeFile(w, ds, 'sum.txt', 'AAAA\n');
    // The staged bytes change behind the writer's back (bit rot, a stray process): what is sent no longer
    // matches the checksum computed while the file was written.
    const staged = await readdir(path.join(stateDir, 'staged'));
    expect(staged).toHaveLength(1);
    await writeLocal(path.join(stateDir, 'staged', staged[0]), 'BBBB\n');
    expect((await w.sync()).failed).toEqual([]);
    expect(w.counters.checksumMismatches).toBe(1);
    expect(logs.some((l) => /checksum of sum\.txt.*differs/.test(l))).toBe(true);
    await expectDraft(env.api, ds, { 'sum.txt': 'BBBB\n' });
    expect((await serverDraft(env.api, ds)).size).toBe(1);
  });
});

describe('many files at once', () => {
  it('lands 40 files exactly once through random 503s and resets', async () => {
    const ds = await env.newDataset();
    const { w } = await env.writer();
    const fs = files(40, 'many');
    await env.control.setFaults({
      seed: 7,
      rules: [
        { path: '/add$', status: 503, probability: 0.2 },
        { path: '/add$', resetAfterBytes: 20, probability: 0.2 },
      ],
    });
    await writeAll(w, ds, fs);
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, fs);
    const reqs = writeRequests(await requestsSince(env.control, 0));
    expect(count(reqs, new RegExp(`/datasets/${ds}/add$`))).toBeGreaterThan(40); // faults did fire
  });
});
