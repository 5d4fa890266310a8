// Unpacking an uploaded zip into one blob per entry, as
// CreateNewDataFilesCommand does (dataverse-api-notes.md §6.6).
import yauzl from 'yauzl';
import type { BlobStore, StoredBlob } from './blobs.js';
import { humanSize } from './json.js';
import { sanitizeDirectory } from './names.js';

export const UNZIP_FAILED = 'Failed to unzip the file. Saving the file as is.';

export function tooManyFilesMessage(limit: number): string {
  return (
    `The number of files in the zip archive is over the limit (${limit}); please upload a zip archive with fewer files, ` +
    'if you want them to be ingested as individual DataFiles.'
  );
}

/** The bundle text of file.addreplace.warning.unzip.failed.size is not in the notes; this wording is ours. */
export function entryTooLargeMessage(limit: number): string {
  return `Failed to unzip the file. One of the files in the zip archive exceeds the size limit of ${humanSize(limit)}.`;
}

/** A warning that /add turns into a 400 (the zip is then not saved at all). */
export class ZipProblem extends Error {}

export interface UnpackedEntry {
  /** The entry's own name (after the last '/'). */
  name: string;
  /** Its folder, sanitised aggressively; undefined at the top. */
  directoryLabel?: string;
  blob: StoredBlob;
}

/** Entries that become files: no directories, no "._*" or ".DS_Store" (isFileToSkip). */
function keepEntry(fileName: string): boolean {
  if (fileName === '' || fileName.endsWith('/')) return false;
  const short = shortName(fileName);
  return short !== '' && !short.startsWith('._') && !short.startsWith('.DS_Store');
}

function shortName(fileName: string): string {
  return fileName.replace(/^.*\//, '');
}

/**
 * Unpack the zip stored under `key`. An empty (but valid) zip gives [] and the
 * caller keeps the zip as it is; an unreadable zip, too many entries or an
 * entry over `maxFileSize` throw ZipProblem. Blobs written before a failure
 * are removed.
 */
export async function unpackZip(
  blobs: BlobStore,
  key: string,
  opts: { fileLimit: number; maxFileSize?: number },
): Promise<UnpackedEntry[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(blobs.pathOf(key), { lazyEntries: true, autoClose: false, strictFileNames: false });
  } catch {
    throw new ZipProblem(UNZIP_FAILED);
  }
  const written: StoredBlob[] = [];
  try {
    // First pass: the central directory only (count and sizes), nothing unpacked yet.
    const entries: yauzl.Entry[] = [];
    try {
      for await (const entry of zip.eachEntry()) {
        if (!keepEntry(entry.fileName)) continue;
        entries.push(entry);
        if (entries.length > opts.fileLimit) throw new ZipProblem(tooManyFilesMessage(opts.fileLimit));
        if (opts.maxFileSize !== undefined && entry.uncompressedSize > opts.maxFileSize) {
          throw new ZipProblem(entryTooLargeMessage(opts.maxFileSize));
        }
      }
    } catch (e) {
      if (e instanceof ZipProblem) throw e;
      throw new ZipProblem(UNZIP_FAILED);
    }
    const out: UnpackedEntry[] = [];
    for (const entry of entries) {
      let blob: StoredBlob;
      try {
        blob = await blobs.write(await zip.openReadStreamPromise(entry));
      } catch {
        throw new ZipProblem(UNZIP_FAILED);
      }
      written.push(blob);
      const name = shortName(entry.fileName);
      // The folder is what precedes the last separator, sanitised "aggressively".
      const dir = name === entry.fileName ? undefined : entry.fileName.replace(/[\\/][\\/]*[^\\/]*$/, '');
      out.push({ name, directoryLabel: sanitizeDirectory(dir, true), blob });
    }
    return out;
  } catch (e) {
    await Promise.all(written.map((b) => blobs.remove(b.key)));
    throw e;
  } finally {
    zip.close();
  }
}
