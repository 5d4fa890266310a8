// Streamed uploads end to end: a big new file written front to back into a
// real mount is sent to the server while it is written (the add's jsonData
// goes last). Whether the stream finishes or is stopped mid-way (a write out
// of order, a truncate, kill -9 of the mount), the server ends with the
// file's final bytes exactly once, checked against the server's own listing
// and downloads.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { Control } from './helpers/control.js';
import { createCollection, createDataset, createUser, publishCollection } from './helpers/fixtures.js';
import { folderFor } from './helpers/dataset-fixture.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount, type MountProcess } from './helpers/mount.js';
import { downloadMd5, dvfs, md5, serverFiles, sh } from './helpers/draft.js';

const MiB = 1024 * 1024;
/** Above the 64 MiB at which a stream starts. */
const BIG = 128 * MiB;

let srv: ServeProcess;
let ed: Api;
let control: Control;
let edToken: string;
let work: string;
let source: Buffer;
const ds: Record<'cp' | 'seek' | 'trunc' | 'kill', { id: number; pid: string }> = {} as never;
const mounts: MountProcess[] = [];

const draftOf = (m: MountProcess, d: { pid: string }) => path.join(m.mountpoint, 'wstream', folderFor(d.pid), 'draft');

async function mount(opts: { mountpoint?: string; cacheDir?: string } = {}): Promise<MountProcess> {
  const m = await startMount(srv.url, { token: edToken, ...opts, args: ['--quiet-period', '0.5'] });
  mounts.push(m);
  return m;
}

async function sync(m: MountProcess): Promise<void> {
  const r = await dvfs(['sync', m.mountpoint]);
  expect(r.code, `${r.stderr}\n${m.output().slice(-3000)}`).toBe(0);
}

/** The server has exactly one file, at `p`, with these bytes (its listing and its download agree). */
async function expectOnly(d: { id: number }, p: string, bytes: Buffer): Promise<void> {
  const listed = await serverFiles(ed, d.id);
  expect(listed.map((f) => `${f.path} ${f.size} ${f.md5}`)).toEqual([`${p} ${bytes.length} ${md5(bytes)}`]);
  expect(await downloadMd5(ed, listed[0].id)).toBe(md5(bytes));
}

/**
 * The add requests of a dataset since `mark`, as the server's log has them: "200" for a completed
 * one, "aborted" for one cut short (waiting a moment for the server to see a connection close).
 */
async function adds(mark: number, d: { id: number }): Promise<string[]> {
  for (let i = 0; ; i++) {
    const log = (await control.requests(mark)).entries.filter((e) => e.method === 'POST' && e.path.endsWith(`/datasets/${d.id}/add`));
    if (log.every((e) => e.status !== undefined) || i === 50) return log.map((e) => (e.aborted ? 'aborted' : String(e.status)));
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The mount's log shows `re` (its output arrives through a pipe: give it a moment). */
async function logged(m: MountProcess, re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !re.test(m.output()); i++) await new Promise((res) => setTimeout(res, 50));
  expect(m.output()).toMatch(re);
}

/** Write `chunks` ([offset, bytes]) in order through one descriptor, 1 MiB per write(2). */
async function writeAt(file: string, chunks: [number, Buffer][], truncateTo?: { after: number; size: number }): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const [i, [pos, bytes]] of chunks.entries()) {
      for (let o = 0; o < bytes.length; o += MiB) await fh.write(bytes, o, Math.min(MiB, bytes.length - o), pos + o);
      if (truncateTo?.after === i) await fh.truncate(truncateTo.size);
    }
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  srv = await startServe();
  const admin = new Api(srv.url, srv.adminToken);
  control = new Control(srv.url);
  edToken = (await createUser(admin, 'sed')).token;
  await createCollection(admin, 'root', 'wstream');
  await publishCollection(admin, 'wstream');
  const r = await admin.post('/api/dataverses/wstream/assignments', { assignee: '@sed', role: 'curator' });
  if (r.status !== 200) throw new Error(`assign: ${r.status} ${r.text}`);
  ed = admin.as(edToken);
  for (const name of ['cp', 'seek', 'trunc', 'kill'] as const) ds[name] = await createDataset(ed, 'wstream', `Stream ${name}`);
  work = await mkdtemp(path.join(os.tmpdir(), 'dvfs-write-stream-'));
  source = randomBytes(BIG);
  await writeFile(path.join(work, 'big.bin'), source);
});

afterAll(async () => {
  for (const m of mounts) await m.dispose();
  await srv?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a big file written front to back is uploaded while it is written', () => {
  it('cp of 128 MiB into a folder lands byte for byte, in one streamed add', async () => {
    const m = await mount();
    const mark = await control.mark();
    await mkdir(path.join(draftOf(m, ds.cp), 'data'));
    const r = await sh('cp', [path.join(work, 'big.bin'), path.join(draftOf(m, ds.cp), 'data/')]);
    expect(r.code, r.stderr).toBe(0);
    await logged(m, /streaming the upload of data\/big\.bin/);
    await sync(m);
    await expectOnly(ds.cp, 'data/big.bin', source);
    expect(await adds(mark, ds.cp)).toEqual(['200']);
    expect(m.output()).not.toMatch(/streamed upload of .* stopped/);
  });

  it('a writer that goes back to rewrite a piece stops the stream; the final bytes land once', async () => {
    const m = mounts[0];
    const mark = await control.mark();
    const patch = randomBytes(MiB);
    const file = path.join(draftOf(m, ds.seek), 'seek.bin');
    await writeAt(file, [
      [0, source.subarray(0, 100 * MiB)],
      [5 * MiB, patch], // back, after the stream started
      [100 * MiB, source.subarray(100 * MiB)],
    ]);
    await sync(m);
    const want = Buffer.from(source);
    patch.copy(want, 5 * MiB);
    await expectOnly(ds.seek, 'seek.bin', want);
    expect(await adds(mark, ds.seek)).toEqual(['aborted', '200']); // the stopped one, then the whole file
    await logged(m, /streamed upload of seek\.bin in dataset \d+ stopped \(a write at 5242880/);
  });

  it('a truncate mid-way stops the stream; the final bytes land once', async () => {
    const m = mounts[0];
    const mark = await control.mark();
    const file = path.join(draftOf(m, ds.trunc), 'trunc.bin');
    await writeAt(file, [[0, source.subarray(0, 96 * MiB)], [80 * MiB, source.subarray(0, 10 * MiB)]], { after: 0, size: 80 * MiB });
    await sync(m);
    await expectOnly(ds.trunc, 'trunc.bin', Buffer.concat([source.subarray(0, 80 * MiB), source.subarray(0, 10 * MiB)]));
    expect(await adds(mark, ds.trunc)).toEqual(['aborted', '200']);
    await logged(m, /streamed upload of trunc\.bin in dataset \d+ stopped \(truncated\)/);
  });

  it('kill -9 of the mount mid-stream: the server keeps nothing of the cut request; the next mount uploads the staged bytes once', async () => {
    const first = await mount();
    const { mountpoint, cacheDir } = first;
    const mark = await control.mark();
    const file = path.join(draftOf(first, ds.kill), 'cut.bin');
    // A writer that writes 96 MiB and keeps the file open.
    const writer = spawn(process.execPath, [
      '-e',
      `const fs = require('fs'); const src = fs.readFileSync(process.argv[1]); const fd = fs.openSync(process.argv[2], 'w');
       for (let o = 0; o < ${96 * MiB}; o += ${MiB}) fs.writeSync(fd, src, o, ${MiB}, o);
       console.log('written'); setInterval(() => {}, 1000);`,
      path.join(work, 'big.bin'),
      file,
    ]);
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout.on('data', (d: Buffer) => d.toString().includes('written') && resolve());
        writer.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
      });
      await logged(first, /streaming the upload of cut\.bin/);
      // Let the stream send what it has (the server waits for the rest of the body).
      await new Promise((res) => setTimeout(res, 500));
      first.proc.kill('SIGKILL');
      await new Promise((res) => first.proc.once('exit', res));
    } finally {
      writer.kill('SIGKILL');
    }
    expect(await adds(mark, ds.kill)).toEqual(['aborted']); // the stream was on the wire, and cut
    expect(await serverFiles(ed, ds.kill.id)).toEqual([]);
    const second = await mount({ mountpoint, cacheDir });
    await sync(second);
    await expectOnly(ds.kill, 'cut.bin', source.subarray(0, 96 * MiB));
    expect(second.output()).not.toMatch(/streaming the upload/);
  });
});
