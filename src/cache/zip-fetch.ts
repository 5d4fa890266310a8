// Many small files in one request: `GET /api/access/datafiles/{ids}` answers
// with a zip (dataverse-api-notes.md §5.6). The zip (a batch is a few MiB at
// most) is read whole and unpacked through its central directory with
// fflate's unzipSync: a streaming unpacker has to find the end of an entry
// sent with a data descriptor by looking for the next header signature, and
// files that hold zips themselves (.xlsx, .docx, .npz: stored as they are,
// since they do not compress) made it cut that entry and lose every later one.
//
// Each entry is matched to a requested file by its content (size, then
// checksum), never by its name: the server names entries after the file's
// latest label and folder (not necessarily those of the version read),
// renames repeated names ("x_1.csv"), adds folder entries and MANIFEST.TXT,
// and leaves out files the caller may not read or that would pass its
// :ZipDownloadLimit. What is delivered has passed its checksum; whatever is
// not delivered (left out, damaged, a broken body) is the caller's to fetch
// one by one.
import { unzipSync } from 'fflate';
import type { Checksum } from '../dataverse/types.js';
import type { FileSource } from './types.js';

export interface ZipSource {
  downloadZip(fileIds: number[], query: string, maxBytes: number): Promise<Buffer>;
}

/**
 * Fetch `sources` (whole files with a checksum, of one dataset, all with the
 * same variant query: '' or 'format=original') in one zip; `deliver` is called
 * for each file whose bytes arrived and matched. Rejects with the request's
 * error, or when the zip cannot be read (nothing is delivered then).
 */
export async function fetchZip(
  client: ZipSource,
  sources: readonly FileSource[],
  digest: (type: Checksum['type'], data: Buffer) => string | Promise<string>,
  deliver: (source: FileSource, data: Buffer) => void,
): Promise<void> {
  const bySize = new Map<number, FileSource[]>();
  for (const s of sources) {
    const same = bySize.get(s.size);
    if (same) same.push(s);
    else bySize.set(s.size, [s]);
  }
  // A zip far bigger than the files asked for is not this batch. Room for deflate growing incompressible
  // bytes a little, and for the zip's own headers, names, central directory and MANIFEST.TXT.
  const files = sources.reduce((n, s) => n + s.size, 0);
  const limit = Math.ceil(files * 1.01) + (1 << 20) + sources.length * 1024;
  const zip = await client.downloadZip(
    sources.map((s) => s.fileId),
    sources[0].query,
    limit,
  );
  let entries: Record<string, Uint8Array>;
  try {
    // Only entries of a size asked for are unpacked (not MANIFEST.TXT, folders, or files of other sizes).
    entries = unzipSync(zip, { filter: (f) => bySize.has(f.originalSize) && !f.name.endsWith('/') });
  } catch (e) {
    throw new Error(`the zip could not be read: ${(e as Error).message}`);
  }
  for (const data of Object.values(entries)) {
    const candidates = bySize.get(data.length);
    if (!candidates) continue;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const sums = new Map<string, string>();
    for (const s of [...candidates]) {
      const sum = s.checksum!;
      let actual = sums.get(sum.type);
      if (actual === undefined) sums.set(sum.type, (actual = await digest(sum.type, buf)));
      if (actual !== sum.value.toLowerCase()) continue;
      // Two files with the same bytes are both served by either entry.
      candidates.splice(candidates.indexOf(s), 1);
      deliver(s, buf);
    }
  }
}
