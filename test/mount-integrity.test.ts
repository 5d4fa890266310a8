// Bytes that do not match the checksum the server lists never pass as good:
// the server's stored copy is damaged on disk (as bit rot or a bad storage
// driver would), and every program reading through the mount gets EIO, on
// the first read and on every retry, until the server has good bytes again.
import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { startServe, type ServeProcess } from './helpers/serve.js';
import { startMount, type MountProcess } from './helpers/mount.js';
import { addFile, createCollection, createDataset, publishCollection, publishDataset, waitForNoLocks } from './helpers/fixtures.js';
import { folderFor, md5 } from './helpers/dataset-fixture.js';

const execFile = promisify(execFileCb);

let srv: ServeProcess;
let m: MountProcess;
let dir: string;
/** The bytes uploaded, and where the server keeps them. */
const files: Record<string, { data: Buffer; blob: string }> = {};

/** Run a command; its exit code and stderr (never throws). */
async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Overwrite 4 bytes of a stored blob at `at` (the server keeps listing the old checksum). */
async function damage(blob: string, at: number): Promise<void> {
  const fh = await open(blob, 'r+');
  try {
    await fh.write(Buffer.from('XXXX'), 0, 4, at);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  srv = await startServe();
  const api = new Api(srv.url, srv.adminToken);
  await createCollection(api, 'root', 'integ');
  await publishCollection(api, 'integ');
  const ds = await createDataset(api, 'integ', 'Integrity');
  // One file smaller than a cache block, one spanning several blocks.
  const data: Record<string, Buffer> = { 'small.bin': randomBytes(100_000), 'large.bin': randomBytes(5 * 1024 * 1024 + 123) };
  for (const [name, bytes] of Object.entries(data)) expect((await addFile(api, ds.id, name, bytes)).status).toBe(200);
  // A folder of small files copied in order: the mount reads the next ones ahead (folder read-ahead).
  for (let i = 0; i < 12; i++) {
    const name = `f${String(i).padStart(2, '0')}.bin`;
    data[name] = randomBytes(20_000 + i);
    expect((await addFile(api, ds.id, name, data[name], { directoryLabel: 'many' })).status).toBe(200);
  }
  await waitForNoLocks(api, ds.id);
  await publishDataset(api, ds.id);
  const list = (await api.get(`/api/datasets/${ds.id}/versions/1.0/files`)).json.data as { label: string; dataFile: { storageIdentifier: string; md5: string } }[];
  for (const f of list) {
    const bytes = data[f.label];
    expect(f.dataFile.md5).toBe(md5(bytes)); // the checksum the mount will check against is the real one
    files[f.label] = { data: bytes, blob: path.join(srv.dataDir, 'blobs', f.dataFile.storageIdentifier.replace(/^file:\/\//, '')) };
    expect(await readFile(files[f.label].blob)).toEqual(bytes);
  }
  m = await startMount(srv.url);
  dir = path.join(m.mountpoint, 'integ', folderFor(ds.pid), '1.0');
});

afterAll(async () => {
  await m?.dispose();
  await srv?.dispose();
});

describe('checksum mismatch through the mount', () => {
  it('cp -r of a folder with one damaged file: that file fails with EIO, the others arrive intact', async () => {
    const bad = files['f06.bin'];
    await damage(bad.blob, 100);
    const out = await mkdtemp(path.join(os.tmpdir(), 'dvfs-integrity-'));
    try {
      const r = await run('cp', ['-r', path.join(dir, 'many'), out]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/f06\.bin.*Input\/output error/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      for (let i = 0; i < 12; i++) {
        const name = `f${String(i).padStart(2, '0')}.bin`;
        if (name === 'f06.bin') continue;
        expect(md5(await readFile(path.join(out, 'many', name))), name).toBe(md5(files[name].data));
      }
    } finally {
      await writeFile(bad.blob, bad.data);
      await rm(out, { recursive: true, force: true });
    }
  });

  it('a damaged file smaller than a block: EIO on every read, no byte of it handed out', async () => {
    const f = files['small.bin'];
    await damage(f.blob, 5000);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await run('cat', [path.join(dir, 'small.bin')]);
      expect(r.code, `attempt ${attempt}`).not.toBe(0);
      expect(r.stderr).toMatch(/Input\/output error/);
      expect(r.stdout).toBe('');
    }
    // Reading from the middle (the kernel asks for a later range first) fails too.
    const py = await run('python3', ['-c', `f=open(${JSON.stringify(path.join(dir, 'small.bin'))},'rb'); f.seek(70000); f.read()`]);
    expect(py.code).not.toBe(0);
    expect(py.stderr).toMatch(/Input\/output error|Errno 5/);
    expect(m.output()).toMatch(/MD5 mismatch/);

    // The server gets its good bytes back: the next read works and is exact.
    await writeFile(f.blob, f.data);
    expect(md5(await readFile(path.join(dir, 'small.bin')))).toBe(md5(f.data));
  });

  it('a damaged file of several blocks: the sequential read fails, and so does every read after it', async () => {
    const f = files['large.bin'];
    await damage(f.blob, 3 * 1024 * 1024 + 17);
    const first = await run('md5sum', [path.join(dir, 'large.bin')]);
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/Input\/output error/);
    // A retry must not be served the tail fresh and the head from the page cache as if all were fine.
    for (const args of [['md5sum', path.join(dir, 'large.bin')], ['dd', `if=${path.join(dir, 'large.bin')}`, 'of=/dev/null', 'bs=64k', 'skip=10']]) {
      const again = await run(args[0], args.slice(1));
      expect(again.code, args.join(' ')).not.toBe(0);
      expect(again.stderr).toMatch(/Input\/output error/);
    }

    await writeFile(f.blob, f.data);
    const fixed = await run('md5sum', [path.join(dir, 'large.bin')]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout.split(' ')[0]).toBe(md5(f.data));
    expect(m.output()).toMatch(/a fresh copy matches its MD5/);
  });
});
