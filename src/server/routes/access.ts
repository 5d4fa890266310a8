// The Access API (dataverse-api-notes.md §5): single-file downloads and their
// variants, DDI metadata, the tabular bundle, zips, file access grants.
import { ApiError, jaxrsError, send, type Ctx, type Router } from '../http.js';
import { canViewUnpublished } from '../auth.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, VersionRec } from '../model.js';
import { datasetOfFile } from '../versions.js';
import {
  checkAuthorization,
  findAccessFile,
  latestFileMetadata,
  normalizeFileId,
} from '../access/permissions.js';
import { planDownload } from '../access/datafile.js';
import { sendContent, sendRedirect } from '../access/download.js';
import { computeStats, ddiXml } from '../access/tabular.js';
import { bundleStream, bundleZipName } from '../access/bundle.js';
import { downloadDatafiles, downloadLatest, downloadVersion, parseFileIds, postDatafiles } from '../access/zip-requests.js';
import { grantAccess, revokeAccess } from '../access/grants.js';

export function registerAccessRoutes(router: Router): void {
  // Specific datafile routes first: the catch-all below would take them all.
  router.get('access/datafile/bundle/:id', datafileBundle);
  router.get('access/datafile/:id/metadata', datafileDdi);
  router.get('access/datafile/:id/metadata/ddi', datafileDdi);
  router.put('access/datafile/:id/grantAccess/:identifier', grantAccess);
  router.delete('access/datafile/:id/revokeAccess/:identifier', revokeAccess);
  // {fileId:.+}: "sub/dir/123" (dirindex links) is file 123.
  router.get('access/datafile/*rest', datafile);
  router.get('access/datafiles/:ids', (ctx) => downloadDatafiles(ctx, parseFileIds(ctx, ctx.params.ids)));
  router.post('access/datafiles', postDatafiles);
  router.get('access/dataset/:id', downloadLatest);
  router.get('access/dataset/:id/versions/:v', downloadVersion);
}

/** A file the caller may download, with its dataset and newest FileMetadata. */
function authorizedFile(ctx: Ctx, idParam: string): { file: DataFileRec; ds: DatasetRec; latest: FileMetadataRec } {
  const file = findAccessFile(ctx, idParam);
  checkAuthorization(ctx, file);
  const ds = datasetOfFile(ctx.store, file);
  return { file, ds, latest: latestFileMetadata(ds, file.id)! };
}

async function datafile(ctx: Ctx): Promise<void> {
  const { file, latest } = authorizedFile(ctx, normalizeFileId(ctx.params.rest));
  const plan = await planDownload(ctx, file, latest);
  if (plan.kind === 'redirect') sendRedirect(ctx, plan.target);
  else sendContent(ctx, plan.content);
}

/**
 * getFileMetadataToExport: the latest FileMetadata for those who may see
 * unpublished versions, else the latest released one; ?fileMetadataId= picks one.
 */
function exportFileMetadata(ctx: Ctx, ds: DatasetRec, file: DataFileRec): { v: VersionRec; fm: FileMetadataRec } {
  const pick = ctx.query.get('fileMetadataId');
  const mayViewDraft = canViewUnpublished(ctx.store, ctx.user, ds);
  for (let i = ds.versions.length - 1; i >= 0; i--) {
    const v = ds.versions[i];
    const fm = v.files.find((x) => x.dataFileId === file.id);
    if (!fm) continue;
    if (pick !== null) {
      if (String(fm.id) !== pick) continue;
      if (v.versionState === 'DRAFT' && !mayViewDraft) throw jaxrsError(ctx, 403);
      return { v, fm };
    }
    if (v.versionState === 'DRAFT' && !mayViewDraft) continue;
    if (v.versionState === 'DEACCESSIONED' && !mayViewDraft) continue;
    return { v, fm };
  }
  if (pick !== null) {
    throw jaxrsError(
      ctx,
      400,
      'Bad Request. The API request cannot be completed with the parameters supplied. Details: Invalid fileMetadataId for the given fileId - please check your code for typos, or consult our API guide at http://guides.dataverse.org.',
    );
  }
  throw jaxrsError(ctx, 403); // "No released version found"
}

/** GET /api/access/datafile/{id}/metadata[/ddi]: DDI XML of a tabular file. */
async function datafileDdi(ctx: Ctx): Promise<void> {
  const { file, ds } = authorizedFile(ctx, ctx.params.id);
  if (!file.tabular) {
    // BadRequestException("tabular data required"), rewritten by the exception handler.
    throw new ApiError(400, { status: 'ERROR', code: 400, message: 'This type of metadata is only available for tabular files.' });
  }
  const { fm } = exportFileMetadata(ctx, ds, file);
  const name = fm.label.replace(/\.tab$/, '-ddi.xml');
  const xml = ddiXml(file, fm.label, await computeStats(ctx.store, file));
  send(ctx, 200, { 'Content-disposition': `attachment; filename="${name}"`, 'Content-Type': 'text/xml' }, Buffer.from(xml));
}

/** GET /api/access/datafile/bundle/{id}: the zip of the tab, original, DDI and citations. */
async function datafileBundle(ctx: Ctx): Promise<void> {
  const { file, ds, latest } = authorizedFile(ctx, ctx.params.id);
  const exp = exportFileMetadata(ctx, ds, file);
  const name = bundleZipName(latest.label);
  const body = await bundleStream({
    store: ctx.store,
    config: ctx.config,
    ds,
    file,
    latest,
    exportVersion: exp.v,
    exportFm: exp.fm,
  });
  send(ctx, 200, { 'Content-disposition': `attachment; filename="${name}"`, 'Content-Type': `application/zip; name="${name}"` }, body);
}
