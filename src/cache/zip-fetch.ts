// Many small files in one request: `GET /api/access/datafiles/{ids}` answers
// with a zip (dataverse-api-notes.md §5.6), unpacked here while it streams
// (fflate's Unzip: stored and deflated entries, sizes in the local header or
// in a data descriptor after the data).
//
// Each entry is matched to a requested file by its content (size, then
// checksum), never by its name: the server names entries after the file's
// latest label and folder (not necessarily those of the version read),
// renames repeated names ("x_1.csv"), adds folder entries and MANIFEST.TXT,
// and leaves out files the caller may not read or that would pass its
// :ZipDownloadLimit. What is delivered has passed its checksum; whatever is
// not delivered (left out, damaged, a broken body) is the caller's to fetch
// one by one.
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import type { Checksum } from '../dataverse/types.js';
import type { FileSource } from './types.js';

export interface ZipSource {
  streamZip(fileIds: number[], query: string, onData: (chunk: Buffer) => void): Promise<void>;
}

/**
 * Fetch `sources` (whole files with a checksum, of one dataset, all with the
 * same variant query: '' or 'format=original') in one zip; `deliver` is called
 * for each file whose bytes arrived and matched. Rejects with the request's
 * error (the files delivered before it stay delivered).
 */
export async function fetchZip(
  client: ZipSource,
  sources: readonly FileSource[],
  digest: (type: Checksum['type'], data: Buffer) => string | Promise<string>,
  deliver: (source: FileSource, data: Buffer) => void,
): Promise<void> {
  const bySize = new Map<number, FileSource[]>();
  for (const s of sources) bySize.set(s.size, [...(bySize.get(s.size) ?? []), s]);
  const largest = Math.max(...sources.map((s) => s.size));
  const checks: Promise<void>[] = [];

  const match = async (data: Buffer) => {
    const candidates = bySize.get(data.length);
    if (!candidates) return;
    const sums = new Map<string, string>();
    for (const s of [...candidates]) {
      const sum = s.checksum!;
      let actual = sums.get(sum.type);
      if (actual === undefined) sums.set(sum.type, (actual = await digest(sum.type, data)));
      const at = candidates.indexOf(s);
      if (actual !== sum.value.toLowerCase() || at < 0) continue;
      // Two files with the same bytes are both served by either entry.
      candidates.splice(at, 1);
      deliver(s, data);
    }
  };

  const unzip = new Unzip((file: UnzipFile) => {
    if (file.name.endsWith('/')) return; // a folder entry
    const parts: Uint8Array[] = [];
    let n = 0;
    file.ondata = (err, chunk, final) => {
      if (err || n + chunk.length > largest) {
        // Damaged or larger than any file asked for (MANIFEST.TXT of a big batch): not one of ours.
        file.terminate();
        return;
      }
      parts.push(chunk);
      n += chunk.length;
      if (final) checks.push(match(Buffer.concat(parts, n)));
    };
    try {
      file.start();
    } catch {
      // A compression method fflate does not know: that file comes one by one.
    }
  });
  unzip.register(UnzipInflate);
  try {
    await client.streamZip(
      sources.map((s) => s.fileId),
      sources[0].query,
      (chunk) => unzip.push(chunk),
    );
    unzip.push(new Uint8Array(0), true);
  } finally {
    await Promise.all(checks);
  }
}
