// Who may download a DataFile through the Access API (Access.isAccessAuthorized,
// dataverse-api-notes.md §5.4), and the Access API's way of finding a file:
// every lookup failure is the generic JAX-RS 404.
import { canDownload, canViewUnpublished } from '../auth.js';
import { jaxrsError, type Ctx } from '../http.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, UserRec } from '../model.js';
import type { Store } from '../store.js';
import { datasetOfFile, fileEverReleased } from '../versions.js';

/** DataFile.getFileMetadata(): the newest version's FileMetadata (the draft's if any). */
export function latestFileMetadata(ds: DatasetRec, fileId: number): FileMetadataRec | undefined {
  for (let i = ds.versions.length - 1; i >= 0; i--) {
    const fm = ds.versions[i].files.find((x) => x.dataFileId === fileId);
    if (fm) return fm;
  }
  return undefined;
}

/** The newest FileMetadata of a file in a non-draft version. */
function latestReleasedFileMetadata(ds: DatasetRec, fileId: number): FileMetadataRec | undefined {
  for (let i = ds.versions.length - 1; i >= 0; i--) {
    const v = ds.versions[i];
    if (v.versionState === 'DRAFT') continue;
    const fm = v.files.find((x) => x.dataFileId === fileId);
    if (fm) return fm;
  }
  return undefined;
}

/**
 * DataFile.isRestricted() as the real server keeps it: for a file that was
 * ever released, the flag of its last released FileMetadata (a restriction
 * made in a draft applies from the next publish); for a new file, the draft's flag.
 */
export function isFileRestricted(ds: DatasetRec, file: DataFileRec): boolean {
  const fm = fileEverReleased(ds, file.id) ? latestReleasedFileMetadata(ds, file.id) : latestFileMetadata(ds, file.id);
  return fm?.restricted ?? false;
}

/** Is the file in at least one RELEASED version (DatasetVersion.isPublished)? */
function isPublished(ds: DatasetRec, fileId: number): boolean {
  return ds.versions.some((v) => v.versionState === 'RELEASED' && v.files.some((fm) => fm.dataFileId === fileId));
}

export function isAccessAuthorized(store: Store, user: UserRec | undefined, file: DataFileRec): boolean {
  const ds = datasetOfFile(store, file);
  const published = isPublished(ds, file.id);
  const restricted = isFileRestricted(ds, file);
  if (published && !restricted) return true;
  // Unpublished files need ViewUnpublishedDataset, restricted or not; published restricted ones DownloadFile.
  if (!published) return canViewUnpublished(store, user, ds);
  return canDownload(store, user, file);
}

/** checkAuthorization: the generic JAX-RS 403 when access is not authorized. */
export function checkAuthorization(ctx: Ctx, file: DataFileRec): void {
  if (!isAccessAuthorized(ctx.store, ctx.user, file)) throw jaxrsError(ctx, 403);
}

/**
 * findDataFileUserCanSeeOrDieWrapper: a database id or ':persistentId'; any
 * failure (bad number, unknown id, unknown PID) becomes the generic 404.
 */
export function findAccessFile(ctx: Ctx, idParam: string): DataFileRec {
  if (!/^\d+$/.test(idParam)) throw jaxrsError(ctx, 404); // also :persistentId: no file PIDs here
  const file = ctx.store.file(Number(idParam));
  if (!file) throw jaxrsError(ctx, 404);
  // A DataFile row left in no version (deleted from a draft) is gone for the API.
  if (!latestFileMetadata(datasetOfFile(ctx.store, file), file.id)) throw jaxrsError(ctx, 404);
  return file;
}

/** Access.normalizeFileId: trailing slashes dropped, everything before the last '/' ignored. */
export function normalizeFileId(raw: string): string {
  const trimmed = raw.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
