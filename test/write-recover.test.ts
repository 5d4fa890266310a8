// Crashes: a writer in a child process is killed with SIGKILL (nothing is
// closed, nothing flushed beyond what the journal made durable), and a new
// writer on the same state folder must finish the work exactly once,
// checking the server before repeating a request whose answer was lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/serve.js';
import {
  addOnServer,
  count,
  expectDraft,
  md5,
  readAll,
  requestsSince,
  serverDraft,
  sleep,
  startWriteEnv,
  writeRequests,
  type WriteEnv,
} from './write-helpers.js';

/** The compiled tree the CLI belongs to (…/cli/main.js → …). */
const BUILD = path.dirname(path.dirname(CLI));

let env: WriteEnv;
const children: ChildProcess[] = [];
beforeAll(async () => {
  env = await startWriteEnv();
});
afterEach(async () => {
  await env.control.resetFaults();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await env?.dispose();
});

interface Step {
  op: 'write' | 'rename' | 'unlink' | 'setMetadata';
  path: string;
  to?: string;
  /** base64 */
  data?: string;
  meta?: Record<string, unknown>;
}

/**
 * A writer in its own process: it runs `steps`, prints "ready", optionally
 * starts a sync, and then waits to be killed.
 */
function childWriter(stateDir: string, ds: number, steps: Step[], opts: { quietMs: number; sync: boolean }): Promise<ChildProcess> {
  const code = `
    const { DataverseClient } = await import(${JSON.stringify(path.join(BUILD, 'dataverse', 'client.js'))});
    const { DraftWriter } = await import(${JSON.stringify(path.join(BUILD, 'write', 'index.js'))});
    const { readFileSync } = await import('node:fs');
    const cfg = JSON.parse(readFileSync(process.env.DVFS_TEST_CFG, 'utf8'));
    cfg.token = process.env.DVFS_TEST_TOKEN;
    const client = new DataverseClient({ baseUrl: cfg.url, token: () => cfg.token });
    const w = new DraftWriter({ client, stateDir: cfg.stateDir, quietMs: cfg.quietMs, log: (l) => console.error(l) });
    await w.recover();
    for (const s of cfg.steps) {
      if (s.op === 'write') {
        const h = await w.create(cfg.ds, s.path);
        await w.write(h, Buffer.from(s.data, 'base64'), 0);
        await w.release(h);
      } else if (s.op === 'rename') await w.rename(cfg.ds, s.path, s.to);
      else if (s.op === 'unlink') await w.unlink(cfg.ds, s.path);
      else if (s.op === 'setMetadata') await w.setMetadata(cfg.ds, s.path, s.meta);
    }
    console.log('ready');
    if (cfg.sync) w.sync();
    setInterval(() => {}, 1000);
  `;
  const cfg = { url: env.srv.url, stateDir, ds, steps, quietMs: opts.quietMs, sync: opts.sync };
  const cfgFile = `${stateDir}.steps.json`;
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, DVFS_TEST_CFG: cfgFile, DVFS_TEST_TOKEN: env.editorToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`child writer did not get ready:\n${out}`)), 30_000);
    child.stdout!.on('data', () => {
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`child writer exited with ${c}:\n${out}`));
    });
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('kill -9 and a new writer on the same state', () => {
  it('finishes journaled work that was never sent: adds, a rename, a delete, metadata, junk', async () => {
    const ds = await env.newDataset();
    const mv = await addOnServer(env.api, ds, 'old-name.txt', 'server file\n');
    const del = await addOnServer(env.api, ds, 'delete-me.txt', 'bye\n');
    const meta = await addOnServer(env.api, ds, 'meta.txt', 'meta\n');
    const stateDir = path.join(env.tmp, `crash-pending-${ds}`);
    const fs: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) fs[`batch/${i % 3}/file-${i}.bin`] = randomBytes(10_000 + i);
    const steps: Step[] = Object.entries(fs).map(([p, b]) => ({ op: 'write', path: p, data: b.toString('base64') }));
    steps.push({ op: 'write', path: 'batch/.tmp.XYZ', data: Buffer.from('renamed before upload').toString('base64') });
    steps.push({ op: 'rename', path: 'batch/.tmp.XYZ', to: 'batch/final.txt' });
    steps.push({ op: 'rename', path: 'old-name.txt', to: 'new/name.txt' });
    steps.push({ op: 'unlink', path: 'delete-me.txt' });
    steps.push({ op: 'setMetadata', path: 'meta.txt', meta: { description: 'set before the crash' } });
    steps.push({ op: 'write', path: 'batch/.DS_Store', data: Buffer.from('junk').toString('base64') });
    // A long quiet period: nothing is sent before the kill.
    const child = await childWriter(stateDir, ds, steps, { quietMs: 60_000, sync: false });
    const since = await env.control.mark();
    await kill9(child);
    expect(writeRequests(await requestsSince(env.control, since))).toEqual([]);

    const { w } = await env.writer({ stateDir });
    expect((await w.sync()).failed).toEqual([]);
    const files = await expectDraft(env.api, ds, {
      ...fs,
      'batch/final.txt': 'renamed before upload',
      'new/name.txt': 'server file\n',
      'meta.txt': 'meta\n',
    });
    expect(files.get('new/name.txt')!.id).toBe(mv.dataFile.id);
    expect(files.get('meta.txt')).toMatchObject({ id: meta.dataFile.id, description: 'set before the crash' });
    expect([...files.values()].some((f) => f.id === del.dataFile.id)).toBe(false);
    const reqs = writeRequests(await requestsSince(env.control, since));
    expect(count(reqs, /\/add$/)).toBe(21);
    expect(reqs).toHaveLength(21 + 3);
    expect((await readAll(w, ds, 'batch/.DS_Store')).toString()).toBe('junk');
  });

  it('does not add again a file the server stored just before the kill (answer never received)', async () => {
    const ds = await env.newDataset();
    const stateDir = path.join(env.tmp, `crash-inflight-${ds}`);
    const fs: Record<string, Buffer> = {
      'first.bin': randomBytes(50_000),
      'second.bin': randomBytes(60_000),
      'third.bin': randomBytes(70_000),
    };
    // The server stores the first add, sends 5 bytes of its answer, then stalls: the writer never learns.
    await env.control.setFaults({ rules: [{ path: '/add$', stallAfterBytes: 5, stallMs: 30_000, count: 1 }] });
    const since = await env.control.mark();
    const steps: Step[] = Object.entries(fs).map(([p, b]) => ({ op: 'write', path: p, data: b.toString('base64') }));
    const child = await childWriter(stateDir, ds, steps, { quietMs: 10, sync: true });
    await until(async () => (await serverDraft(env.api, ds)).size === 1, 'the first add to be stored');
    await kill9(child);
    await env.control.resetFaults();

    const { w, logs } = await env.writer({ stateDir });
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, fs); // a repeated add would show as first-1.bin
    const reqs = writeRequests(await requestsSince(env.control, since));
    expect(count(reqs, /\/add$/)).toBe(3);
    expect(logs.some((l) => /already on the server/.test(l))).toBe(true);
  });

  it('waits for a request the server is still working on when its sender died, instead of sending it again', async () => {
    const ds = await env.newDataset();
    const stateDir = path.join(env.tmp, `crash-orphan-${ds}`);
    const data = randomBytes(4000);
    // The server holds the request 1.5 s before it handles it. The writer is frozen (SIGSTOP) as soon as the
    // request has arrived: its connection stays open, so the server finishes the add, but no answer is ever
    // read. A new writer takes over the state meanwhile, as after a crash.
    await env.control.setFaults({ rules: [{ path: '/add$', latencyMs: 1500, count: 1 }] });
    const since = await env.control.mark();
    const child = await childWriter(stateDir, ds, [{ op: 'write', path: 'orphan.bin', data: data.toString('base64') }], { quietMs: 10, sync: true });
    await until(async () => (await requestsSince(env.control, since)).some((r) => /\/add$/.test(r.path)), 'the add to arrive');
    await sleep(200);
    child.kill('SIGSTOP');
    try {
      await env.control.resetFaults();
      const { w, logs } = await env.writer({ stateDir });
      expect((await w.sync()).failed).toEqual([]);
      await expectDraft(env.api, ds, { 'orphan.bin': data });
      expect(count(writeRequests(await requestsSince(env.control, since)), /\/add$/)).toBe(1);
      expect(logs.some((l) => /checking again/.test(l))).toBe(true);
      expect(logs.some((l) => /already on the server/.test(l))).toBe(true);
    } finally {
      await kill9(child);
    }
  });

  it('does not replace again when the replace was stored just before the kill', async () => {
    const ds = await env.newDataset();
    const before = await addOnServer(env.api, ds, 'doc.txt', 'version 1\n', { directoryLabel: 'd', description: 'Doc' });
    const stateDir = path.join(env.tmp, `crash-replace-${ds}`);
    await env.control.setFaults({ rules: [{ path: '/replace$', stallAfterBytes: 5, stallMs: 30_000, count: 1 }] });
    const since = await env.control.mark();
    const child = await childWriter(stateDir, ds, [{ op: 'write', path: 'd/doc.txt', data: Buffer.from('version 2\n').toString('base64') }], {
      quietMs: 10,
      sync: true,
    });
    await until(async () => (await serverDraft(env.api, ds)).get('d/doc.txt')?.md5 === md5('version 2\n'), 'the replace to be stored');
    await kill9(child);
    await env.control.resetFaults();

    const { w } = await env.writer({ stateDir });
    expect((await w.sync()).failed).toEqual([]);
    const f = (await expectDraft(env.api, ds, { 'd/doc.txt': 'version 2\n' })).get('d/doc.txt')!;
    expect(f.description).toBe('Doc');
    expect(writeRequests(await requestsSince(env.control, since))).toEqual([`POST /files/${before.dataFile.id}/replace`]);
  });

  it('survives a kill in the middle of many uploads: everything lands once', async () => {
    const ds = await env.newDataset();
    const stateDir = path.join(env.tmp, `crash-many-${ds}`);
    const fs: Record<string, Buffer> = {};
    for (let i = 0; i < 30; i++) fs[`m/${i}.bin`] = randomBytes(30_000);
    await env.control.setFaults({ rules: [{ path: '/add$', latencyMs: 40 }] });
    const steps: Step[] = Object.entries(fs).map(([p, b]) => ({ op: 'write', path: p, data: b.toString('base64') }));
    const child = await childWriter(stateDir, ds, steps, { quietMs: 10, sync: true });
    await until(async () => (await serverDraft(env.api, ds)).size >= 8, 'some uploads');
    await kill9(child);
    await env.control.resetFaults();
    const landedBefore = (await serverDraft(env.api, ds)).size;
    expect(landedBefore).toBeLessThan(30);

    const { w } = await env.writer({ stateDir });
    expect((await w.sync()).failed).toEqual([]);
    await expectDraft(env.api, ds, fs);
  });
});
