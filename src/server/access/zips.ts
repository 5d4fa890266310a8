// Streamed multi-file zips (dataverse-api-notes.md §5.6), laid out as
// DataFileZipper does: a folder entry per directoryLabel, duplicate names
// suffixed "_N", tabular files with their header line (or their originals),
// and MANIFEST.TXT last. Entries are stored, not deflated, and each blob is
// opened only when yazl reaches it, with its size as the end (an open-ended
// read stream allocates its whole 1 MiB chunk, even for a 4 KB file).
import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { DataFileRec, DatasetRec } from '../model.js';
import type { Store } from '../store.js';
import { latestFileMetadata } from './permissions.js';
import { varHeader } from './tabular.js';
import { joined } from './download.js';

/** What one DataFile contributes to a zip: its name, type, bytes. */
export interface FileEntrySource {
  name: string;
  folder?: string;
  mime: string;
  size: number;
  open(): Readable;
}

/** A file as the zipper reads it: the latest label and folder; the original if asked and kept. */
export function fileEntrySource(store: Store, ds: DatasetRec, file: DataFileRec, original: boolean): FileEntrySource {
  const fm = latestFileMetadata(ds, file.id);
  const folder = fm?.directoryLabel;
  const t = file.tabular;
  if (t && original && t.originalFileFormat) {
    return {
      name: t.originalFileName,
      folder,
      mime: t.originalFileFormat,
      size: t.originalFileSize,
      open: () => store.blobs.read(t.originalBlob, 0, t.originalFileSize),
    };
  }
  const name = fm?.label ?? `f${file.id}`;
  if (t) {
    const header = varHeader(t);
    return {
      name,
      folder,
      mime: file.contentType,
      size: header.length + file.filesize,
      open: () => joined(header, store.blobs.read(file.blob, 0, file.filesize)),
    };
  }
  return { name, folder, mime: file.contentType || 'application/octet-stream', size: file.filesize, open: () => store.blobs.read(file.blob, 0, file.filesize) };
}

/** One requested file: either zipped, or named in the manifest with the reason it was skipped. */
export type ZipItem = { file: DataFileRec; skipped?: undefined } | { file: DataFileRec; skipped: string };

/** DataFileZipper.checkZipEntryName: "name_1.ext", "name_2.ext", … for repeats. */
class EntryNames {
  private used = new Set<string>();
  take(original: string): string {
    let name = original;
    let n = 1;
    const dot = original.lastIndexOf('.');
    while (this.used.has(name)) {
      name = dot !== -1 ? `${original.slice(0, dot)}_${n++}${original.slice(dot)}` : `${original}_${n++}`;
    }
    this.used.add(name);
    return name;
  }
  has(name: string): boolean {
    return this.used.has(name);
  }
}

export function zipStream(store: Store, ds: DatasetRec, items: ZipItem[], original: boolean): Readable {
  const zip = new yazl.ZipFile();
  const names = new EntryNames();
  const folders = new Set<string>();
  let manifest = '';
  for (const item of items) {
    const fm = latestFileMetadata(ds, item.file.id);
    if (item.skipped !== undefined) {
      manifest += `${fm?.label ?? item.file.id} IS ${item.skipped} AND CANNOT BE DOWNLOADED\r\n`;
      continue;
    }
    const src = fileEntrySource(store, ds, item.file, original);
    let entryName = src.name;
    const folder = src.folder?.replace(/^\/+/, '');
    if (folder) {
      if (!folders.has(folder)) {
        zip.addEmptyDirectory(`${folder}/`);
        folders.add(folder);
      }
      entryName = `${folder}/${entryName}`;
    }
    entryName = names.take(entryName);
    zip.addReadStreamLazy(entryName, { compress: false, size: src.size }, (cb) => cb(null, src.open()));
    manifest += `${entryName} (${src.mime}) ${src.size} bytes.\r\n`;
  }
  let manifestName = 'MANIFEST.TXT';
  while (names.has(manifestName)) manifestName = `0${manifestName}`;
  zip.addBuffer(Buffer.from(manifest), manifestName, { compress: false });
  zip.end();
  const out = zip.outputStream as Readable;
  // A blob that fails mid-zip must end the response, not leave it hanging.
  zip.on('error', (e: Error) => out.destroy(e));
  return out;
}

/** Access.generateMultiFileBundleName: doi-10.5072-fk2-abcdef[_<version>].zip. */
export function multiFileZipName(ds: DatasetRec, versionTag?: string): string {
  const base = `${ds.protocol}-${ds.authority.toLowerCase()}-${ds.identifier.replace(/\//g, '-').toLowerCase()}`;
  return versionTag ? `${base}_${versionTag}.zip` : `${base}.zip`;
}
