// StreamedAdd on its own, with a request that reads its body at the pace the
// test sets: a change to the staged file while finish() sends the rest cuts
// the body before its last byte (so the server could store nothing), and at
// most as many streams as there are slots are on the wire at once.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StagedFileChanged, type MultipartUpload } from '../src/dataverse/upload-body.js';
import { StreamedAdd, StreamSlots, StreamStopped } from '../src/write/stream-upload.js';

const MiB = 1024 * 1024;
let work: { path: string; cleanup(): Promise<void> };
beforeAll(async () => {
  work = await tmpDir({ unsafeCleanup: true });
});
afterAll(async () => {
  await work?.cleanup();
});

/** A request that reads its body only as far as `allow(n)` lets it (n body chunks), like a slow server. */
function pacedRequest() {
  const got: Buffer[] = [];
  let allowed = 0;
  let more: (() => void) | undefined;
  let signal: AbortSignal | undefined;
  let sent = false;
  const send = async (form: MultipartUpload) => {
    sent = true;
    signal = form.signal;
    for await (const chunk of form.body as AsyncIterable<Buffer>) {
      got.push(Buffer.from(chunk));
      while (got.length >= allowed) await new Promise<void>((r) => (more = r));
    }
    return [];
  };
  return {
    send,
    got,
    started: () => sent,
    signal: () => signal,
    allow(n: number) {
      allowed = n;
      more?.();
    },
  };
}

async function stagedFile(name: string, size: number): Promise<string> {
  const file = path.join(work.path, name);
  await writeFile(file, randomBytes(size));
  return file;
}

/** Report `size` bytes as written in order, 1 MiB at a time. */
function writeAll(s: StreamedAdd, size: number): void {
  for (let at = 0; at < size; at += MiB) {
    expect(s.accept(at, Math.min(MiB, size - at))).toBe(true);
    s.written(at, Math.min(MiB, size - at));
  }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StreamedAdd', () => {
  it('a change while finish() sends the rest cuts the body before its end, with StagedFileChanged', async () => {
    const size = 4 * MiB;
    const file = await stagedFile('cut.bin', size);
    const req = pacedRequest();
    const s = new StreamedAdd({ file, partName: 'cut.bin', send: req.send, log: () => {}, where: 'cut.bin', minBytes: MiB, slots: new StreamSlots(2) });
    writeAll(s, size);
    expect(req.started()).toBe(true);
    req.allow(2); // the part header and the first MiB
    await wait(50);
    const answer = s.finish(size, '{}');
    s.cut('the file was opened for writing again');
    req.allow(100);
    await expect(answer).rejects.toThrow(/streamed upload stopped/);
    expect(req.signal()?.aborted).toBe(true);
    expect(req.signal()?.reason).toBeInstanceOf(StagedFileChanged);
    const body = Buffer.concat(req.got).toString('latin1');
    expect(body).not.toContain('name="jsonData"');
    expect(Buffer.concat(req.got).length).toBeLessThan(size);
  });

  it('once every byte of the file is out, a change does not cut it (those bytes are the journaled ones)', async () => {
    const size = 2 * MiB + 5;
    const file = await stagedFile('whole.bin', size);
    const req = pacedRequest();
    const s = new StreamedAdd({ file, partName: 'whole.bin', send: req.send, log: () => {}, where: 'whole.bin', minBytes: MiB, slots: new StreamSlots(2) });
    writeAll(s, size);
    req.allow(100);
    const answer = s.finish(size, '{"label":"whole.bin"}');
    await answer;
    s.cut('the file was opened for writing again');
    expect(req.signal()?.aborted).toBe(false);
    const body = Buffer.concat(req.got);
    expect(body.toString('latin1')).toContain('{"label":"whole.bin"}');
  });

  it('a refusal before finish() (429 with Retry-After) stops the stream and is handed over as the cause', async () => {
    const file = await stagedFile('busy.bin', 2 * MiB);
    const refusal = Object.assign(new Error('Too Many Requests'), { retryAfterMs: 5000 });
    let sent = 0;
    const s = new StreamedAdd({
      file,
      partName: 'busy.bin',
      send: async () => {
        sent++;
        throw refusal;
      },
      log: () => {},
      where: 'busy.bin',
      minBytes: MiB,
      slots: new StreamSlots(2),
    });
    writeAll(s, 2 * MiB);
    await wait(0);
    expect(sent).toBe(1);
    const err = await s.finish(2 * MiB, '{}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamStopped);
    expect((err as Error).cause).toBe(refusal);
  });

  it('only as many streams as slots hold a connection; a freed slot lets the next big file stream', async () => {
    const slots = new StreamSlots(1);
    const first = pacedRequest();
    const second = pacedRequest();
    const a = new StreamedAdd({ file: await stagedFile('a.bin', 2 * MiB), partName: 'a.bin', send: first.send, log: () => {}, where: 'a', minBytes: MiB, slots });
    const b = new StreamedAdd({ file: await stagedFile('b.bin', 3 * MiB), partName: 'b.bin', send: second.send, log: () => {}, where: 'b', minBytes: MiB, slots });
    writeAll(a, 2 * MiB);
    expect(first.started()).toBe(true);
    for (let at = 0; at < 2 * MiB; at += MiB) {
      b.accept(at, MiB);
      b.written(at, MiB);
    }
    expect(second.started()).toBe(false); // the only slot is a's
    first.allow(100);
    await a.finish(2 * MiB, '{}');
    await wait(0);
    b.accept(2 * MiB, MiB);
    b.written(2 * MiB, MiB);
    expect(second.started()).toBe(true);
    b.abort('test over');
  });
});
