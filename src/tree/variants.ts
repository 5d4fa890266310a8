// Hidden variant paths: `<file>@<variant>` reaches every Access API variant
// of a file without showing up in plain listings (README "Variants").
import type { DataverseClient } from '../dataverse/client.js';
import type { FileMetadataInfo } from '../dataverse/types.js';
import type { MetadataCache } from '../cache/metadata-cache.js';
import type { FileNode } from './nodes.js';
import type { FileSource } from '../cache/types.js';

type FileChecksum = FileSource['checksum'];

export interface VariantContext {
  client: DataverseClient;
  meta: MetadataCache;
  /** Published: variant contents and sizes never change. */
  immutable: boolean;
  datasetPid: string;
}

// Not listed: @RData (reachable by its path). Only installations with Rserve make it; elsewhere
// (and on dvfs serve) it is a 404, and a listed entry that cannot be read breaks find and rsync.
const TABULAR_VARIANTS = ['original', 'tab', 'tab-noheader', 'prep', 'ddi.xml', 'bundle.zip'];

function isTabular(fm: FileMetadataInfo): boolean {
  return fm.dataFile.tabularData === true || fm.dataFile.originalFileFormat !== undefined;
}

function isImage(fm: FileMetadataInfo): boolean {
  return fm.dataFile.contentType.startsWith('image/') || fm.dataFile.contentType === 'application/pdf';
}

/** The variant names a file has (listed with --show-variants; subsets are open-ended and not listed). */
export function variantNames(fm: FileMetadataInfo): string[] {
  const names = ['json'];
  if (isTabular(fm)) names.push(...TABULAR_VARIANTS);
  if (isImage(fm)) names.push('thumb.png');
  return names;
}

export async function variantNode(
  ctx: VariantContext,
  fm: FileMetadataInfo,
  base: FileNode,
  variant: string,
): Promise<FileNode | undefined> {
  const df = fm.dataFile;
  const id = df.id;
  // A variant is never writable: it does not carry the file's draft reference.
  // `checksum` is explicit: the header-line and .tab variants have none (the file's checksum is the original's).
  const ranged = (query: string, size: number, checksum: FileChecksum | undefined): FileNode => ({
    ...base,
    draft: undefined,
    size,
    content: undefined,
    source: { fileId: id, query, size, checksum, cacheKey: `${id}-${query || 'raw'}-${checksum?.value ?? size}` },
  });
  const generated = async (path: string, query = ''): Promise<FileNode> => {
    const content = await ctx.meta.get(`variant:${id}:${path}?${query}`, () => ctx.client.getBytes(path, query), ctx.immutable);
    return { ...base, draft: undefined, size: content.length, content, source: undefined };
  };
  if (variant === 'json') {
    const content = Buffer.from(JSON.stringify(fm, null, 2) + '\n');
    return { ...base, draft: undefined, size: content.length, content, source: undefined };
  }
  if (variant.startsWith('thumb') && isImage(fm)) {
    const m = /^thumb(?:-(\d+))?\.png$/.exec(variant);
    if (!m) return undefined;
    return generated(`access/datafile/${id}`, `imageThumb=${m[1] ?? 'true'}`);
  }
  if (!isTabular(fm)) return variant === 'original' ? { ...base, draft: undefined } : undefined;
  switch (variant) {
    case 'original':
      return ranged('format=original', df.originalFileSize ?? df.filesize, df.checksum);
    case 'tab': {
      // The default download: a variable-name header line, then the stored .tab.
      const size = await ctx.meta.get(`size:${id}:tab`, () => ctx.client.probeSize(id, ''), ctx.immutable);
      return ranged('', size, undefined);
    }
    case 'tab-noheader':
      return ranged('noVarHeader=true', df.filesize, undefined);
    case 'RData':
      return generated(`access/datafile/${id}`, 'format=RData');
    case 'prep':
      return generated(`access/datafile/${id}`, 'format=prep');
    case 'ddi.xml':
      return generated(`access/datafile/${id}/metadata/ddi`);
    case 'bundle.zip':
      return generated(`access/datafile/bundle/${id}`);
    default: {
      const m = /^subset=(v?\d+(?:,v?\d+)*)$/.exec(variant);
      return m ? generated(`access/datafile/${id}`, `format=subset&variables=${m[1]}`) : undefined;
    }
  }
}
