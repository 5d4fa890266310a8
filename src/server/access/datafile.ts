// GET /api/access/datafile/{id}: which variant a request asks for (the
// optional-service matching of Access.datafile and DownloadInstance) and what
// is sent for it (DownloadInstanceWriter), dataverse-api-notes.md §5.3, §5.5.
import { Readable } from 'node:stream';
import { jaxrsError, type Ctx } from '../http.js';
import type { DataFileRec, FileMetadataRec } from '../model.js';
import type { Store } from '../store.js';
import type { BlobTarget } from '../blob-origin.js';
import type { Content } from './download.js';
import { replaceExtension } from './disposition.js';
import { computeStats, prepJson, selectVariables, subsetStream, varHeader } from './tabular.js';
import { makeThumbnail, thumbnailSupported, thumbnailWidth } from './thumbnail.js';

export const NOT_SUPPORTED =
  'datafile access error: requested optional service (image scaling, format conversion, etc.) is not supported on this datafile.';
export const NOT_PERFORMED =
  'datafile access error: requested optional service (image scaling, format conversion, etc.) could not be performed on this datafile.';

type Service =
  | { kind: 'none' }
  | { kind: 'thumb'; value: string }
  | { kind: 'noVarHeader' }
  | { kind: 'format'; value: string }
  | { kind: 'subset'; list: string };

const SERVICE_KEYS = new Set(['imageThumb', 'format', 'variables', 'noVarHeader']);
const TABULAR_FORMATS = ['original', 'tab', 'RData', 'prep'];

/**
 * The first query parameter naming an optional service decides (Access.datafile
 * walks the parameters in order). `format=original` on a non-tabular file ends
 * the search: the file itself is served. A service the file lacks is a 404.
 */
export function chooseService(ctx: Ctx, file: DataFileRec): Service {
  const tabular = file.tabular !== undefined;
  const thumb = thumbnailSupported(file.contentType);
  let requested = false;
  for (const key of new Set(ctx.query.keys())) {
    if (!SERVICE_KEYS.has(key)) continue;
    const value = ctx.query.get(key) ?? '';
    requested = true;
    if (key === 'format' && value === 'original' && !tabular) return { kind: 'none' };
    if (key === 'imageThumb' && thumb) return { kind: 'thumb', value };
    if (!tabular) continue;
    if (key === 'variables') return { kind: 'subset', list: value };
    if (key === 'noVarHeader' && (value.toLowerCase() === 'true' || value === '1')) return { kind: 'noVarHeader' };
    // "format=<x>" matches a service when it starts with the service's own "format=<name>".
    if (key === 'format' && TABULAR_FORMATS.some((f) => value.startsWith(f))) return { kind: 'format', value };
  }
  if (requested) throw jaxrsError(ctx, 404, NOT_SUPPORTED);
  return { kind: 'none' };
}

export type Plan = { kind: 'content'; content: Content } | { kind: 'redirect'; target: BlobTarget };

function blobContent(store: Store, name: string, mime: string, blob: string, size: number, prefix?: Buffer): Content {
  return { name, mime, prefix, bodySize: size, openBody: (start, end) => store.blobs.read(blob, start, end) };
}

function bufferContent(name: string, mime: string, data: Buffer): Content {
  return { name, mime, bodySize: data.length, openBody: (start, end) => Readable.from([data.subarray(start, end)]) };
}

/** The whole download as the default request sees it: header line + stored .tab, or the file itself. */
function plainContent(store: Store, file: DataFileRec, label: string): Content {
  if (file.tabular) return blobContent(store, label, file.contentType, file.blob, file.filesize, varHeader(file.tabular));
  return blobContent(store, label, file.contentType, file.blob, file.filesize);
}

// Thumbnails written to the blob store in redirect mode, so a later request can be redirected
// ("only if already generated and cached", as on S3). Per store, in memory.
const thumbCache = new WeakMap<Store, Map<string, string>>();

async function thumbnailPlan(ctx: Ctx, file: DataFileRec, label: string, width: number): Promise<Plan> {
  const { store } = ctx;
  const name = label.replace(/\.[^.]*$/, '.png');
  const cache = thumbCache.get(store) ?? new Map<string, string>();
  thumbCache.set(store, cache);
  const cacheKey = `${file.id}:${width}`;
  const redirect = ctx.config.shaping.redirectDownloads();
  const cached = cache.get(cacheKey);
  if (redirect && cached) return { kind: 'redirect', target: { blob: cached, filename: name, contentType: 'image/png' } };
  const png = makeThumbnail(await store.blobs.readAll(file.blob), width);
  if (!png) throw jaxrsError(ctx, 404, NOT_PERFORMED);
  if (redirect) cache.set(cacheKey, (await store.blobs.writeBuffer(png)).key);
  return { kind: 'content', content: bufferContent(name, 'image/png', png) };
}

/** StorageIO.open(): a blob that is gone is a 404 whose message is passed through. */
async function assertPhysicalFile(ctx: Ctx, file: DataFileRec): Promise<void> {
  try {
    await ctx.store.blobs.size(file.blob);
  } catch {
    throw jaxrsError(ctx, 404, `Datafile ${file.id}: Failed to locate and/or open physical file.`);
  }
}

/** Decide what to send for an authorized request; `latest` is the file's newest FileMetadata. */
export async function planDownload(ctx: Ctx, file: DataFileRec, latest: FileMetadataRec): Promise<Plan> {
  const { store } = ctx;
  const service = chooseService(ctx, file);
  await assertPhysicalFile(ctx, file);
  const redirect = ctx.config.shaping.redirectDownloads();
  const label = latest.label;
  const t = file.tabular;

  if (service.kind === 'thumb') {
    const width = thumbnailWidth(service.value);
    if (width !== undefined) return thumbnailPlan(ctx, file, label, width);
    // imageThumb=0 or below: the writer leaves the file as it is.
  }
  if (service.kind === 'none' || service.kind === 'thumb') {
    // A tabular file's default download needs the generated header: streamed, never redirected.
    if (redirect && !t) return { kind: 'redirect', target: { blob: file.blob, filename: label, contentType: file.contentType } };
    return { kind: 'content', content: plainContent(store, file, label) };
  }
  if (!t) throw new Error('tabular service on a non-tabular file');

  if (service.kind === 'noVarHeader') {
    // The stored object itself: S3 redirects it like a plain file.
    if (redirect) return { kind: 'redirect', target: { blob: file.blob, filename: label, contentType: file.contentType } };
    return { kind: 'content', content: blobContent(store, label, file.contentType, file.blob, file.filesize) };
  }
  if (service.kind === 'subset') {
    const chosen = selectVariables(t, service.list);
    // No usable variable ids: the writer falls back to the whole file.
    if (chosen.length === 0) return { kind: 'content', content: plainContent(store, file, label) };
    const header = Buffer.from(`${chosen.map((c) => c.variable.name).join('\t')}\n`);
    const name = label.endsWith('.tab') ? `${label.slice(0, -4)}-subset.tab` : label ? `${label}-subset.tab` : 'subset.tab';
    const columns = chosen.map((c) => c.column);
    return {
      kind: 'content',
      content: {
        name,
        mime: file.contentType,
        prefix: header,
        bodySize: undefined,
        openBody: () => subsetStream(store.blobs.read(file.blob), columns),
      },
    };
  }
  switch (service.value) {
    case 'original':
      if (redirect) {
        return {
          kind: 'redirect',
          target: { blob: t.originalBlob, filename: t.originalFileName, contentType: t.originalFileFormat },
        };
      }
      return {
        kind: 'content',
        content: blobContent(store, t.originalFileName, t.originalFileFormat, t.originalBlob, t.originalFileSize),
      };
    case 'tab':
      // DataConverter hands back the stored .tab as it is: same as the default.
      return { kind: 'content', content: plainContent(store, file, label) };
    case 'prep':
      return {
        kind: 'content',
        content: bufferContent(replaceExtension(label, 'prep'), 'application/json', prepJson(await computeStats(store, file))),
      };
    default:
      // RData needs Rserve, which this server (like an installation without it) lacks;
      // other "format=<known name>…" values reach the converter and fail the same way.
      throw jaxrsError(ctx, 404, NOT_PERFORMED);
  }
}
