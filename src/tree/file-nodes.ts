// The node of a server file (published version or draft): what it reads
// (Access API variant, size, checksum, cache key) and its extended attributes.
import type { FileMetadataInfo, VersionState } from '../dataverse/types.js';
import type { FileSource } from '../cache/types.js';
import type { FileNode } from './nodes.js';

export type TabularView = 'original' | 'archival';

export function isTabular(fm: FileMetadataInfo): boolean {
  return fm.dataFile.tabularData === true || fm.dataFile.originalFileFormat !== undefined;
}

/**
 * The name a file is shown under: an ingested table as its original upload
 * by default. The write path has a copy of this rule (src/write/model.ts
 * displayName): keep both the same.
 */
export function displayName(fm: FileMetadataInfo, tabular: TabularView): string {
  if (isTabular(fm) && tabular === 'original' && fm.dataFile.originalFileName) return fm.dataFile.originalFileName;
  return fm.label;
}

/** The cache identity of a file variant: bytes stored under it never change. */
export function fileSource(fileId: number, query: string, size: number, checksum: FileSource['checksum']): FileSource {
  return { fileId, query, size, checksum, cacheKey: `${fileId}-${query || 'raw'}-${checksum?.value ?? size}` };
}

export function serverFileNode(
  datasetPid: string,
  versionState: VersionState,
  fm: FileMetadataInfo,
  mtime: Date,
  tabular: TabularView,
): FileNode {
  const df = fm.dataFile;
  const tab = isTabular(fm);
  let query = '';
  let size = df.filesize;
  let checksum = df.checksum ?? (df.md5 ? { type: 'MD5' as const, value: df.md5 } : undefined);
  if (tab && tabular === 'original') {
    query = 'format=original';
    size = df.originalFileSize ?? df.filesize;
  } else if (tab) {
    query = 'noVarHeader=true'; // the stored .tab: exactly `filesize` bytes
    checksum = undefined; // the checksum is the original's
  }
  const xattrs: Record<string, string> = {
    type: 'file',
    id: String(df.id),
    dataset_pid: datasetPid,
    label: fm.label,
    content_type: df.contentType,
    description: fm.description ?? '',
    restricted: String(fm.restricted),
    version_state: versionState,
  };
  if (df.persistentId) xattrs.pid = df.persistentId;
  if (fm.directoryLabel) xattrs.directory = fm.directoryLabel;
  if (df.checksum) xattrs.checksum = `${df.checksum.type}:${df.checksum.value}`;
  if (fm.categories?.length) xattrs.categories = fm.categories.join(',');
  if (tab) {
    if (df.originalFileFormat) xattrs.original_format = df.originalFileFormat;
    if (df.UNF) xattrs.unf = df.UNF;
  }
  return { kind: 'file', size, mtime, restricted: fm.restricted, xattrs, source: fileSource(df.id, query, size, checksum) };
}
