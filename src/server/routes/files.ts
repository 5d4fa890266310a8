// /api/datasets/{id}/add and /api/files/* (dataverse-api-notes.md §6–§8).
import { apiError, internalError, ok, sendText, type Ctx, type Router } from '../http.js';
import { canViewUnpublished, notPermitted } from '../auth.js';
import type { DatasetRec, VersionRec } from '../model.js';
import { fileMetadataJson, versionJson } from '../json.js';
import { datasetOfFile, draftOf, fileMetadataIn, findFile } from '../versions.js';
import { handleAdd, handleReplace } from '../upload.js';
import { deleteFile, restrictFile, setCategories, updateMetadata } from '../file-edit.js';
import { canSeeFile, gsonFileMetadata, latestAccessible, latestPublishedWith } from '../file-lookup.js';

export function registerFileRoutes(router: Router): void {
  // ':id' also matches the literal ':persistentId' (findDataset handles it).
  router.post('datasets/:id/add', handleAdd);
  router.post('files/:id/replace', handleReplace);
  router.delete('files/:id', deleteFile);
  router.post('files/:id/metadata', updateMetadata);
  router.post('files/:id/metadata/categories', setCategories);
  router.put('files/:id/restrict', restrictFile);
  router.get('files/:id', (ctx) => getFile(ctx, ':latest'));
  router.get('files/:id/versions/:version', (ctx) => getFile(ctx, ctx.params.version));
  router.get('files/:id/metadata', (ctx) => getFileMetadataText(ctx, false));
  router.get('files/:id/metadata/draft', (ctx) => getFileMetadataText(ctx, true));
}

/** GET /api/files/{id}[/versions/{v}]: the envelope plus the file-metadata object. */
function getFile(ctx: Ctx, spec: string): void {
  const { store } = ctx;
  const f = findFile(ctx, ctx.params.id);
  if (!canSeeFile(store, ctx.user, f)) throw notPermitted(ctx.user);
  const ds = datasetOfFile(store, f);
  const includeDeaccessioned = ctx.query.get('includeDeaccessioned') === 'true';
  const v = versionFor(ctx, ds, f.id, spec, includeDeaccessioned);
  const fm = v && fileMetadataIn(v, f.id);
  if (!v || !fm) {
    // The quotes are part of the bundle text (files.api.notFoundInVersion).
    throw apiError(404, `"File metadata for file with id ${ctx.params.id} in dataset version ${spec} not found"`);
  }
  const data = fileMetadataJson(store, ds, v, fm);
  if (ctx.query.get('returnDatasetVersion') === 'true') {
    data.datasetVersion = versionJson(store, ds, v, { includeFiles: false });
  }
  ok(ctx, data);
}

/** The version a file-version specifier points at (Datasets.handleVersion for files). */
function versionFor(ctx: Ctx, ds: DatasetRec, fileId: number, spec: string, includeDeaccessioned: boolean): VersionRec | undefined {
  switch (spec) {
    case ':latest':
      return latestAccessible(ctx, ds, fileId, includeDeaccessioned);
    case ':latest-published':
      return latestPublishedWith(ds, fileId, includeDeaccessioned);
    case ':draft':
      if (!canViewUnpublished(ctx.store, ctx.user, ds)) throw notPermitted(ctx.user);
      return draftOf(ds);
    default: {
      const m = /^(\d+)(?:\.(\d+))?$/.exec(spec);
      if (!m) throw apiError(400, `Illegal version identifier '${spec}'`);
      const major = Number(m[1]);
      const minor = m[2] === undefined ? 0 : Number(m[2]);
      return ds.versions.find(
        (v) =>
          v.versionNumber === major &&
          v.minorVersionNumber === minor &&
          (v.versionState === 'RELEASED' || (includeDeaccessioned && v.versionState === 'DEACCESSIONED')),
      );
    }
  }
}

/** GET /api/files/{id}/metadata[/draft]: raw Gson JSON as text/plain, no envelope. */
function getFileMetadataText(ctx: Ctx, draft: boolean): void {
  const { store } = ctx;
  const idParam = ctx.params.id;
  const f = /^\d+$/.test(idParam) ? store.file(Number(idParam)) : undefined;
  if (!f || !canSeeFile(store, ctx.user, f)) throw apiError(400, 'Error attempting get the requested data file.');
  const ds = datasetOfFile(store, f);
  let v: VersionRec | undefined;
  if (draft) {
    if (!canViewUnpublished(store, ctx.user, ds)) {
      throw apiError(
        400,
        'An error occurred getting a draft version, you may not have permission to access unpublished data on this dataset.',
      );
    }
    v = draftOf(ds);
    if (!v || !fileMetadataIn(v, f.id)) throw apiError(400, 'No draft available for this file');
  } else {
    // getLatestPublishedFileMetadata() throws for a never-published file: an uncaught 500 there.
    v = latestPublishedWith(ds, f.id);
    if (!v) throw internalError();
  }
  sendText(ctx, 200, gsonFileMetadata(fileMetadataIn(v, f.id)!));
}
