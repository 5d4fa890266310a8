// Unpacking a multi-file zip, with entries matched to files by content: zips laid out as Dataverse's DataFileZipper makes them (deflated
// entries with data descriptors, folder entries, renamed duplicates,
// MANIFEST.TXT), and as `dvfs serve` makes them (stored).
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import { describe, expect, it } from 'vitest';
import { fetchZip } from '../src/cache/zip-fetch.js';
import type { FileSource } from '../src/cache/types.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function source(fileId: number, data: Buffer): FileSource {
  return { fileId, query: '', size: data.length, checksum: { type: 'MD5', value: md5(data) }, cacheKey: `k${fileId}` };
}

async function zipOf(entries: [string, Buffer][], compress: boolean): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addEmptyDirectory('data/');
  for (const [name, data] of entries) zip.addReadStreamLazy(name, { compress, size: data.length }, (cb) => cb(null, Readable.from([data])));
  zip.addBuffer(Buffer.from('data/a.csv (text/csv) 10 bytes.\r\nsecret.csv IS RESTRICTED AND CANNOT BE DOWNLOADED\r\n'), 'MANIFEST.TXT');
  zip.end();
  const parts: Buffer[] = [];
  for await (const c of zip.outputStream as Readable) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A client whose zip answer is `zip` (refused, as getBytes does, when over the limit asked for). */
function clientFor(zip: Buffer, asked: number[][] = []) {
  return {
    async downloadZip(ids: number[], _query: string, maxBytes: number) {
      asked.push(ids);
      if (zip.length > maxBytes) throw new Error(`download larger than ${maxBytes} bytes`);
      return zip;
    },
  };
}

async function deliveredBy(zip: Buffer, sources: FileSource[]): Promise<Map<number, Buffer>> {
  const got = new Map<number, Buffer>();
  await fetchZip(clientFor(zip), sources, (_type, data) => md5(data), (s, data) => got.set(s.fileId, data));
  return got;
}

describe('fetchZip', () => {
  for (const compress of [true, false]) {
    it(`delivers each file by its content, whatever its entry's name (${compress ? 'deflated' : 'stored'})`, async () => {
      const a = randomBytes(5000);
      const b = Buffer.alloc(70_000, 'b'); // compresses well
      const same = randomBytes(300);
      // Names as the server makes them: the latest label, a folder, repeats renamed.
      const zip = await zipOf([['data/renamed-later.bin', a], ['data/b.bin', b], ['data/x.csv', same], ['data/x_1.csv', same]], compress);
      const sources = [source(1, a), source(2, b), source(3, same), source(4, same)];
      const got = await deliveredBy(zip, sources);
      expect([...got.keys()].sort()).toEqual([1, 2, 3, 4]);
      expect(got.get(1)!.equals(a)).toBe(true);
      expect(got.get(2)!.equals(b)).toBe(true);
      expect(got.get(4)!.equals(same)).toBe(true);
    });
  }

  it('delivers nothing for a file left out or damaged in the zip', async () => {
    const a = randomBytes(2000);
    const damaged = randomBytes(2000);
    const bad = Buffer.from(damaged);
    bad[7] ^= 1;
    const zip = await zipOf([['a.bin', a], ['d.bin', bad]], true);
    const got = await deliveredBy(zip, [source(1, a), source(2, damaged), source(3, randomBytes(10))]);
    expect([...got.keys()]).toEqual([1]);
  });

  it('files that hold zips themselves (.xlsx, .docx) do not cut the entries after them', async () => {
    // An .xlsx is a zip: stored as is (it does not compress), its own local headers sit in the outer entry.
    const inner = await zipOf([['xl/workbook.xml', randomBytes(3000)], ['xl/sheet1.xml', randomBytes(3000)]], false);
    const after = randomBytes(4000);
    for (const compress of [true, false]) {
      const zip = await zipOf([['data/before.csv', Buffer.from('a,b\n1,2\n')], ['data/table.xlsx', inner], ['data/after.bin', after]], compress);
      const got = await deliveredBy(zip, [source(1, Buffer.from('a,b\n1,2\n')), source(2, inner), source(3, after)]);
      expect([...got.keys()].sort()).toEqual([1, 2, 3]);
      expect(got.get(2)!.equals(inner)).toBe(true);
      expect(got.get(3)!.equals(after)).toBe(true);
    }
  });

  it('asks for all the ids in one request; a cut or oversized zip delivers nothing (every file is fetched alone)', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(1000);
    const zip = await zipOf([['a.bin', a], ['b.bin', b]], false);
    const got = new Map<number, Buffer>();
    const fetch = (client: ReturnType<typeof clientFor>) => fetchZip(client, [source(7, a), source(8, b)], (_t, d) => md5(d), (s, d) => got.set(s.fileId, d));
    const asked: number[][] = [];
    // a.bin whole, b.bin and the central directory cut off
    await expect(fetch(clientFor(zip.subarray(0, 1500), asked))).rejects.toThrow(/the zip could not be read/);
    expect(asked).toEqual([[7, 8]]);
    // a body of many MiB for two files of 1,000 bytes is not their zip
    await expect(fetch(clientFor(Buffer.concat([zip, Buffer.alloc(2 << 20)])))).rejects.toThrow(/larger than/);
    expect([...got.keys()]).toEqual([]);
  });
});
