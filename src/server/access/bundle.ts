// The tabular bundle of /api/access/datafile/bundle/{id} (BundleDownloadInstanceWriter,
// dataverse-api-notes.md §5.7): the .tab with its header, the original, the DDI
// and three citation files. No RData: this server has no Rserve, and the real
// writer leaves that entry out when the conversion fails.
import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { ServerConfig } from '../config.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, VersionRec } from '../model.js';
import type { Store } from '../store.js';
import { bibtexText, endNoteXml, risText } from './citation.js';
import { fileEntrySource } from './zips.js';
import { computeStats, ddiXml } from './tabular.js';

export interface BundleInput {
  store: Store;
  config: ServerConfig;
  ds: DatasetRec;
  file: DataFileRec;
  /** The latest FileMetadata: the name of the download. */
  latest: FileMetadataRec;
  /** The version and FileMetadata the citation and DDI describe (getFileMetadataToExport). */
  exportVersion: VersionRec;
  exportFm: FileMetadataRec;
}

/**
 * Names follow the real writer: "x.tab" gives x-bundle.zip, x-ddi.xml and
 * xcitation-endnote.xml (no dash: the ".tab" suffix is replaced as is). For a
 * non-tabular name, whose suffix the real writer cannot replace, the last
 * extension is dropped instead so the entries stay distinct.
 */
function baseName(label: string): string {
  if (label.endsWith('.tab')) return label.slice(0, -4);
  const dot = label.lastIndexOf('.');
  return dot > 0 ? label.slice(0, dot) : label;
}

export function bundleZipName(label: string): string {
  return `${baseName(label)}-bundle.zip`;
}

export async function bundleStream(b: BundleInput): Promise<Readable> {
  const { store, config, ds, file } = b;
  const base = baseName(b.latest.label);
  const zip = new yazl.ZipFile();
  const main = fileEntrySource(store, ds, file, false);
  zip.addReadStreamLazy(b.latest.label, { compress: false, size: main.size }, (cb) => cb(null, main.open()));
  if (file.tabular) {
    const orig = fileEntrySource(store, ds, file, true);
    zip.addReadStreamLazy(orig.name, { compress: false, size: orig.size }, (cb) => cb(null, orig.open()));
    const ddi = ddiXml(file, b.exportFm.label, await computeStats(store, file));
    zip.addBuffer(Buffer.from(ddi), `${base}-ddi.xml`);
  }
  zip.addBuffer(Buffer.from(endNoteXml(config, ds, b.exportVersion, b.exportFm)), `${base}citation-endnote.xml`);
  zip.addBuffer(Buffer.from(risText(config, ds, b.exportVersion, b.exportFm)), `${base}citation-ris.ris`);
  zip.addBuffer(Buffer.from(bibtexText(config, ds, b.exportVersion, b.exportFm)), `${base}citation-bib.bib`);
  zip.end();
  const out = zip.outputStream as Readable;
  zip.on('error', (e: Error) => out.destroy(e));
  return out;
}
