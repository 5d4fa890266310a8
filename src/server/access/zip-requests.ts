// The zip endpoints of the Access API (Access.downloadDatafiles and friends,
// dataverse-api-notes.md §5.6): which files, which may be sent, the errors.
import { ApiError, apiError, jaxrsError, readBody, send, type Ctx } from '../http.js';
import { canViewUnpublished, notPermitted } from '../auth.js';
import type { DataFileRec, DatasetRec, VersionRec } from '../model.js';
import { datasetOfFile, draftOf, findDataset, isReleased, latestReleased, resolveVersion } from '../versions.js';
import { checkAuthorization, isAccessAuthorized, isFileRestricted } from './permissions.js';
import { multiFileZipName, zipStream, type ZipItem } from './zips.js';

const MULTIPLE_DATASETS = 'All files being downloaded must be from the same Dataset.';
const BAD_REQUEST =
  'Bad Request. The API request cannot be completed with the parameters supplied. Please check your code for typos, or consult our API guide at http://guides.dataverse.org.';

/** Access.getFileIdsCSV: "1,2,3", "fileIds=1,2,3" or {"fileIds":[1,2,3]}. */
export function parseFileIds(ctx: Ctx, body: string): string[] {
  if (body.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw jaxrsError(ctx, 400, BAD_REQUEST);
    }
    const ids = (parsed as { fileIds?: unknown }).fileIds;
    return Array.isArray(ids) ? ids.map((x) => String(x)) : [];
  }
  const csv = body.startsWith('fileIds=') ? body.slice('fileIds='.length) : body;
  return csv
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The ids' DataFiles, all of one dataset (FileDownloadServiceBean.resolveSelectedDataFilesInDataset). */
function resolveFiles(ctx: Ctx, ids: string[]): { ds: DatasetRec; files: DataFileRec[] } {
  const files: DataFileRec[] = [];
  let ds: DatasetRec | undefined;
  for (const id of ids) {
    const f = /^\d+$/.test(id) ? ctx.store.file(Number(id)) : undefined;
    // The real message of this case (access.api.download.failure.invalidFileId) is not known; this one is a guess.
    if (!f) throw apiError(400, `Could not find datafile with id ${id}.`);
    const fds = datasetOfFile(ctx.store, f);
    if (ds && fds.id !== ds.id) throw apiError(400, MULTIPLE_DATASETS);
    ds = fds;
    files.push(f);
  }
  return { ds: ds!, files };
}

/** Why a file is left out: the manifest's "<label> IS <reason> AND CANNOT BE DOWNLOADED". */
function skipReason(ds: DatasetRec, f: DataFileRec): string {
  return isFileRestricted(ds, f) ? 'RESTRICTED' : 'NOTAUTHORIZED';
}

/** Access.downloadDatafiles: 400 for no ids, 403 when none may be sent, else the streamed zip. */
export function downloadDatafiles(ctx: Ctx, ids: string[], versionTag?: string): void {
  if (ids.length === 0) throw jaxrsError(ctx, 400, BAD_REQUEST);
  const { ds, files } = resolveFiles(ctx, ids);
  const items: ZipItem[] = files.map((file) =>
    isAccessAuthorized(ctx.store, ctx.user, file) ? { file } : { file, skipped: skipReason(ds, file) },
  );
  if (!items.some((i) => i.skipped === undefined)) throw jaxrsError(ctx, 403);
  const original = ctx.query.get('format') === 'original';
  const name = multiFileZipName(ds, versionTag);
  send(
    ctx,
    200,
    { 'Content-disposition': `attachment; filename="${name}"`, 'Content-Type': `application/zip; name="${name}"` },
    zipStream(ctx.store, ds, items, original),
  );
}

/**
 * POST /api/access/datafiles first runs the guestbook step over the ids
 * (Access.processDatafilesWithGuestbookResponse → getDatafilesList), which
 * looks up and authorizes every file: an unknown id is the generic 404, a
 * file the caller may not download a 403, two datasets a JAX-RS 400.
 */
export async function postDatafiles(ctx: Ctx): Promise<void> {
  const ids = parseFileIds(ctx, (await readBody(ctx)).toString('utf8'));
  let datasetId: number | undefined;
  for (const id of ids) {
    const f = /^\d+$/.test(id) ? ctx.store.file(Number(id)) : undefined;
    if (!f) throw jaxrsError(ctx, 404);
    if (datasetId !== undefined && f.datasetId !== datasetId) {
      throw jaxrsError(
        ctx,
        400,
        `Bad Request. The API request cannot be completed with the parameters supplied. Details: ${MULTIPLE_DATASETS} - please check your code for typos, or consult our API guide at http://guides.dataverse.org.`,
      );
    }
    datasetId = f.datasetId;
    checkAuthorization(ctx, f);
  }
  if (ids.length === 0) throw apiError(400, 'No files selected for download.');
  downloadDatafiles(ctx, ids);
}

function versionFileIds(v: VersionRec): string[] {
  return v.files.map((fm) => fm.dataFileId).sort((a, b) => a - b).map(String);
}

/** GET /api/access/dataset/{id}: the draft for those who may see it, else the latest release. */
export function downloadLatest(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  const draft = draftOf(ds);
  if (ctx.user && draft && canViewUnpublished(ctx.store, ctx.user, ds)) {
    downloadDatafiles(ctx, versionFileIds(draft), 'draft');
    return;
  }
  const latest = latestReleased(ds);
  if (!latest) throw apiError(400, 'Could not find requested dataset.');
  downloadDatafiles(ctx, versionFileIds(latest), `${latest.versionNumber}.${latest.minorVersionNumber}`);
}

/** GET /api/access/dataset/{id}/versions/{v}: a missing version is a 400 (kept for legacy reasons). */
export function downloadVersion(ctx: Ctx): void {
  const ds = findDataset(ctx, ctx.params.id);
  // GetDatasetCommand: an unreleased dataset needs ViewUnpublishedDataset.
  if (!isReleased(ds) && !canViewUnpublished(ctx.store, ctx.user, ds)) throw notPermitted(ctx.user);
  let v: VersionRec;
  try {
    v = resolveVersion(ctx, ds, ctx.params.v);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw apiError(400, 'Could not find requested dataset version.');
    throw e;
  }
  const tag = v.versionState === 'DRAFT' ? 'draft' : `${v.versionNumber}.${v.minorVersionNumber}`;
  downloadDatafiles(ctx, versionFileIds(v), tag);
}
