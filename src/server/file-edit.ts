// Edits of existing files (dataverse-api-notes.md §8): delete, metadata
// (rename/move), categories, restrict. Each answers with the real server's
// status codes and messages, which differ per endpoint for the same failure.
import { apiError, internalError, ok, okMessage, readBody, sendText, type Ctx } from './http.js';
import type { DataFileRec, DatasetRec, FileMetadataRec } from './model.js';
import { canEdit, identifier, notPermitted } from './auth.js';
import { readForm } from './multipart.js';
import { directoryProblem, labelProblem, pathName, sanitizeDirectory } from './names.js';
import { blobKeysOf, parseJsonData, removeBlobs } from './upload.js';
import { datasetOfFile, fileEverReleased, findFile, getOrCreateDraft, touch } from './versions.js';
import { canSeeFile, currentFileMetadata, editLockMessage, gsonFileMetadata, replacementOf } from './file-lookup.js';

/** The FileMetadata in the draft, making the draft (from the latest version) if needed. */
function draftFileMetadata(ctx: Ctx, ds: DatasetRec, fileId: number): FileMetadataRec {
  const draft = getOrCreateDraft(ctx.store, ds);
  const fm = draft.files.find((x) => x.dataFileId === fileId);
  if (!fm) throw new Error(`file ${fileId} missing from the draft`);
  return fm;
}

function permissionText(ctx: Ctx): string {
  return `User ${identifier(ctx.user)} is not permitted to perform requested action.`;
}

// --- DELETE /api/files/{id} ---

export async function deleteFile(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  const idParam = ctx.params.id;
  const f = findFile(ctx, idParam);
  const ds = datasetOfFile(store, f);
  const failed = (reason: string) => apiError(400, `Delete failed for file ID ${idParam} (CommandException): ${reason}`);
  if (!canEdit(store, ctx.user, ds)) throw failed(permissionText(ctx));
  const lock = editLockMessage(store, ctx.user, ds);
  if (lock) throw failed(lock);
  const destroy = !fileEverReleased(ds, f.id);
  if (!currentFileMetadata(ds, f.id)) {
    // Already gone from the newest version: UpdateDatasetVersionCommand finds nothing to remove.
    ok(ctx, destroy);
    return;
  }
  const draft = getOrCreateDraft(store, ds);
  draft.files = draft.files.filter((fm) => fm.dataFileId !== f.id);
  if (destroy) store.removeFile(f.id);
  touch(draft);
  await store.commit();
  if (destroy) await removeBlobs(store, blobKeysOf(f));
  ok(ctx, destroy);
}

// --- POST /api/files/{id}/metadata ---

const WRAPPED = 'edu.harvard.iq.dataverse.api.AbstractApiBean$WrappedResponse';
const ILLEGAL_COMMAND = 'edu.harvard.iq.dataverse.engine.command.exception.IllegalCommandException';
const PERMISSION = 'edu.harvard.iq.dataverse.engine.command.exception.PermissionException';

/** 500 "Error adding metadata to DataFile: <Java exception string>" (the catch-all of Files.updateFileMetadata). */
function metadataError(exception: string): never {
  throw apiError(500, `Error adding metadata to DataFile: ${exception}`);
}

/** A FileMetadata constraint violation as DatasetVersion.validate() words it. */
function violation(message: string, value: string): string {
  return `Constraint violation found in FileMetadata. ${message} The invalid value is "${value}".`;
}

export async function updateMetadata(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  // The body is read first (as JAX-RS does); everything after it is synchronous.
  const form = await readForm(ctx);
  const f = visibleFileOr400(ctx, 'Error attempting get the requested data file.');
  if (replacementOf(store, f.id)) {
    throw apiError(400, 'You cannot edit metadata on a dataFile that has been replaced. Please try again with the newest file id.');
  }
  const jsonData = form.fields.get('jsonData');
  // Without jsonData the real code dereferences null inside its catch-all.
  if (jsonData === undefined) metadataError('java.lang.NullPointerException');
  const params = parseJsonData(jsonData);
  const raw = JSON.parse(jsonData.trim() === '' ? '{}' : jsonData) as Record<string, unknown>;

  const ds = datasetOfFile(store, f);
  const fm = currentFileMetadata(ds, f.id);
  if (!fm) {
    throw apiError(
      400,
      'An error has occurred attempting to update the requested DataFile. It is not part of the current version of the Dataset.',
    );
  }
  // The collision check uses the raw incoming values (not yet sanitised), as the real code does.
  const incomingLabel = typeof raw.label === 'string' ? raw.label : undefined;
  const incomingDir = typeof raw.directoryLabel === 'string' ? raw.directoryLabel : undefined;
  // IngestUtil.getPathAndFileNameToCheck: any non-null folder, even "", gets a "/" ("" → "/name", never a match).
  const dirToCheck = incomingDir ?? fm.directoryLabel;
  const labelToCheck = incomingLabel ?? fm.label;
  const wanted = dirToCheck !== undefined ? `${dirToCheck}/${labelToCheck}` : labelToCheck;
  const others = latestFiles(ds).filter((x) => x.dataFileId !== f.id);
  if (others.some((x) => pathName(x.directoryLabel, x.label) === wanted)) {
    throw apiError(400, `Filename already exists at ${wanted}`);
  }

  const label = params.label ?? fm.label;
  const directoryLabel = params.directoryLabel !== undefined ? sanitizeDirectory(params.directoryLabel) : fm.directoryLabel;
  if (!canEdit(store, ctx.user, ds)) metadataError(`${WRAPPED}: ${PERMISSION}: ${permissionText(ctx)}`);
  const lock = editLockMessage(store, ctx.user, ds);
  if (lock) metadataError(`${WRAPPED}: ${ILLEGAL_COMMAND}: ${lock}`);
  const labelIssue = labelProblem(label);
  if (labelIssue) metadataError(`${WRAPPED}: ${ILLEGAL_COMMAND}: ${violation(labelIssue, label)}`);
  const dirIssue = directoryProblem(directoryLabel);
  if (dirIssue) metadataError(`${WRAPPED}: ${ILLEGAL_COMMAND}: ${violation(dirIssue, directoryLabel ?? '')}`);

  // All checks passed: one synchronous change. Omitted keys stay; empty values clear (6.8+).
  const target = draftFileMetadata(ctx, ds, f.id);
  target.label = label;
  target.directoryLabel = directoryLabel;
  if (params.description !== undefined) target.description = params.description;
  if (params.categories !== undefined) target.categories = [...params.categories];
  if (params.restrict !== undefined) target.restricted = params.restrict;
  target.version += 1;
  touch(getOrCreateDraft(store, ds));
  await store.commit();
  sendText(ctx, 200, `File Metadata update has been completed: ${gsonFileMetadata(target)}`);
}

function latestFiles(ds: DatasetRec): FileMetadataRec[] {
  return ds.versions[ds.versions.length - 1].files;
}

/** findDataFileOrDie + GetDataFileCommand, any failure → 400 with the given message. */
function visibleFileOr400(ctx: Ctx, message: string): DataFileRec {
  const idParam = ctx.params.id;
  const f = /^\d+$/.test(idParam) ? ctx.store.file(Number(idParam)) : undefined;
  if (!f || !canSeeFile(ctx.store, ctx.user, f)) throw apiError(400, message);
  return f;
}

// --- POST /api/files/{id}/metadata/categories ---

export async function setCategories(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  const text = (await readBody(ctx)).toString('utf8');
  const f = findFile(ctx, ctx.params.id);
  if (!canSeeFile(store, ctx.user, f)) throw notPermitted(ctx.user);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw apiError(400, `Error parsing Json: ${(e as Error).message}`);
  }
  const requested = (body as Record<string, unknown> | null)?.categories;
  // A missing array or a non-string entry is an uncaught NullPointer/ClassCastException there.
  if (!Array.isArray(requested) || requested.some((c) => typeof c !== 'string')) throw internalError();
  const ds = datasetOfFile(store, f);
  if (!canEdit(store, ctx.user, ds)) throw notPermitted(ctx.user);
  const lock = editLockMessage(store, ctx.user, ds);
  if (lock) throw apiError(403, lock);
  if (!currentFileMetadata(ds, f.id)) {
    throw apiError(400, 'An error has occurred attempting to update the requested DataFile. It is not part of the current version of the Dataset.');
  }
  const fm = draftFileMetadata(ctx, ds, f.id);
  const categories = ctx.query.get('replace') === 'true' ? [] : [...fm.categories];
  for (const c of requested as string[]) if (c !== '' && !categories.includes(c)) categories.push(c);
  fm.categories = categories;
  fm.version += 1;
  touch(getOrCreateDraft(store, ds));
  await store.commit();
  okMessage(ctx, `Categories of file ${ctx.params.id} updated.`);
}

// --- PUT /api/files/{id}/restrict ---

export async function restrictFile(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  const idParam = ctx.params.id;
  const text = (await readBody(ctx)).toString('utf8');
  const f = /^\d+$/.test(idParam) ? store.file(Number(idParam)) : undefined;
  if (!f) throw apiError(400, `Could not find datafile with id ${idParam}`);
  let restrict: boolean;
  let message = ' ';
  if (text.trim().startsWith('{')) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw apiError(400, `Error parsing Json: ${(e as Error).message}`);
    }
    if (!('restrict' in o)) throw apiError(400, "Error parsing Json: 'restrict' is required.");
    if (typeof o.restrict !== 'boolean') throw internalError(); // JsonObject.getBoolean: ClassCastException
    restrict = o.restrict;
    message += restrict ? 'restricted.' : 'unrestricted.';
    if (typeof o.enableAccessRequest === 'boolean') {
      message += ` Access Request is ${o.enableAccessRequest ? 'enabled.' : 'disabled.'}`;
    }
    if (typeof o.termsOfAccess === 'string') message += ` Terms of Access for restricted files: ${o.termsOfAccess}`;
  } else {
    restrict = text.toLowerCase() === 'true'; // Boolean.valueOf
    message += restrict ? 'restricted.' : 'unrestricted.';
  }
  const ds = datasetOfFile(store, f);
  const fm = currentFileMetadata(ds, f.id);
  if (!fm) throw apiError(400, `Could not find datafile with id ${idParam}`);
  const name = fm.label;
  if (!canEdit(store, ctx.user, ds)) {
    throw apiError(400, `Problem trying to update restriction status on ${name}: ${permissionText(ctx)}`);
  }
  if (fm.restricted === restrict) {
    throw apiError(
      400,
      `Problem trying to update restriction status on ${name}: File ${name} is already ${restrict ? 'restricted' : 'unrestricted'}`,
    );
  }
  const lock = editLockMessage(store, ctx.user, ds);
  if (lock) throw apiError(400, `Problem saving datafile ${name}: ${lock}`);
  const target = draftFileMetadata(ctx, ds, f.id);
  target.restricted = restrict;
  target.version += 1;
  touch(getOrCreateDraft(store, ds));
  await store.commit();
  okMessage(ctx, `File ${name}${message}`);
}
