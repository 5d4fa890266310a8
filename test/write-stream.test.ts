// Streamed adds through the DraftWriter against a real `dvfs serve` (the
// stream starts at 1 MiB here): a rename before the close decides the name
// the file lands under; an unlink, a second writer or a rename to another
// type stops the stream, and the file still lands once with its final bytes
// (or not at all, when deleted). Checked through the server's listing,
// downloads and request log.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DraftWriter } from '../src/write/index.js';
import { count, expectDraft, requestsSince, sleep, startWriteEnv, writeRequests, type WriteEnv } from './write-helpers.js';

const MiB = 1024 * 1024;
const PIECE = 128 * 1024;

let env: WriteEnv;
beforeAll(async () => {
  env = await startWriteEnv();
});
afterAll(async () => {
  await env?.dispose();
});

/** Write `bytes` at `at` in 128 KiB requests, as FUSE does. */
async function put(w: DraftWriter, h: number, bytes: Buffer, at = 0): Promise<void> {
  for (let o = 0; o < bytes.length; o += PIECE) await w.write(h, bytes.subarray(o, o + PIECE), at + o);
}

/** A writer, a dataset, and a new file with its first 2 MiB written (its stream started). */
async function started(name: string) {
  const ds = await env.newDataset('Stream');
  const { w, logs } = await env.writer({ streamFromBytes: MiB });
  const since = await env.control.mark();
  const data = randomBytes(4 * MiB);
  const h = await w.create(ds, name);
  await put(w, h, data.subarray(0, 2 * MiB));
  for (let i = 0; i < 100 && !logs.some((l) => l.startsWith('streaming the upload')); i++) await sleep(10);
  expect(logs.join('\n')).toMatch(/^streaming the upload of /m);
  const adds = async () => count(writeRequests(await requestsSince(env.control, since)), /\/add$/);
  return { ds, w, logs, data, h, adds };
}

describe('streamed adds', () => {
  it('a rename before the close decides the name; one add, nothing stopped', async () => {
    const { ds, w, logs, data, h, adds } = await started('.part-upload.bin');
    await w.rename(ds, '.part-upload.bin', 'final/data.bin');
    await put(w, h, data.subarray(2 * MiB), 2 * MiB);
    await w.release(h);
    expect((await w.sync(ds)).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'final/data.bin': data });
    expect(await adds()).toBe(1);
    expect(logs.join('\n')).not.toMatch(/stopped/);
  });

  it('an unlink mid-way stops it, and nothing lands', async () => {
    const { ds, w, logs, data, h } = await started('gone.bin');
    await w.unlink(ds, 'gone.bin');
    await put(w, h, data.subarray(2 * MiB), 2 * MiB);
    await w.release(h);
    await w.sync(ds);
    await sleep(200);
    await expectDraft(env.api, ds, {});
    expect(logs.join('\n')).toMatch(/streamed upload of gone\.bin .* stopped \(replaced or deleted\)/);
  });

  it('a second writer stops it; the final bytes land once', async () => {
    const { ds, w, logs, data, h, adds } = await started('two.bin');
    const h2 = await w.open(ds, 'two.bin', { write: true });
    const patch = randomBytes(PIECE);
    await w.write(h2, patch, 0);
    await w.release(h2);
    await put(w, h, data.subarray(2 * MiB), 2 * MiB);
    await w.release(h);
    expect((await w.sync(ds)).failed).toEqual([]);
    const want = Buffer.from(data);
    patch.copy(want, 0);
    await expectDraft(env.api, ds, { 'two.bin': want });
    expect(await adds()).toBe(2); // the stopped one (cut short: nothing stored) and the whole file
    expect(logs.join('\n')).toMatch(/stopped \(the file was opened for writing again\)/);
  });

  it('a rename to a name of another type stops it at the end; the file lands once under that name', async () => {
    const { ds, w, logs, data, h } = await started('table.bin');
    await put(w, h, data.subarray(2 * MiB), 2 * MiB);
    await w.rename(ds, 'table.bin', 'table.txt');
    await w.release(h);
    expect((await w.sync(ds)).failed).toEqual([]);
    await expectDraft(env.api, ds, { 'table.txt': data });
    expect(logs.join('\n')).toMatch(/stopped \(renamed to another type\)/);
  });
});
