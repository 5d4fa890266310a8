// The add/replace pipeline (dataverse-api-notes.md §6, §7): read the
// multipart body (the upload streams to the blob store), decide the type,
// unpack zips, apply jsonData, validate names, then change the state in one
// synchronous step (renaming duplicates), commit, and queue tabular ingest.
// Whatever is refused leaves nothing stored.
import { apiError, ok, type Ctx } from './http.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, UserRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import type { StoredBlob } from './blobs.js';
import { canEdit } from './auth.js';
import { fileMetadataJson, friendlyType, humanSize } from './json.js';
import { readForm, type FormFile } from './multipart.js';
import { decideContentType, isZip, OCTET_STREAM } from './file-types.js';
import { claimUniqueName, directoryProblem, labelProblem, sanitizeDirectory, takenNames } from './names.js';
import { unpackZip, ZipProblem } from './zip-unpack.js';
import { queueIngest, scheduleIngest, wantsIngest } from './ingest.js';
import { datasetOfFile, fileEverReleased, findDataset, getOrCreateDraft, touch } from './versions.js';
import { currentFileMetadata, editLockMessage } from './file-lookup.js';

export const NO_EDIT_PERMISSION = 'You do not have permission to edit this dataset.';
export const MUST_UPLOAD = 'You must upload a file or provide a valid storageidentifier, filename, and mimetype.';
export const PARSE_ERROR = 'Error in parsing provided json';
export const ADD_FAILED = 'Failed to add file to dataset.';

// --- jsonData (OptionalFileParams) ---

export interface FileParams {
  description?: string;
  directoryLabel?: string;
  label?: string;
  categories?: string[];
  /** undefined when jsonData did not say. */
  restrict?: boolean;
  tabIngest: boolean;
  forceReplace: boolean;
}

class ParamError extends Error {}

/** Gson's getAsString: primitives as text, null as absent; objects and arrays are errors. */
function asString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ParamError();
}

/** Boolean.valueOf(getAsString()): only "true" (any case) is true. */
function asBoolean(v: unknown): boolean | undefined {
  const s = asString(v);
  return s === undefined ? undefined : s.toLowerCase() === 'true';
}

/** categories as ["A","B"] or [{"name":"A"}]; duplicates, nulls and empty strings dropped. */
function asCategories(v: unknown): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ParamError();
  const names = v.map((c: unknown) => {
    if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
      const name = (c as Record<string, unknown>).name;
      if (name !== undefined && name !== null && typeof name !== 'string') throw new ParamError();
      return name as string | null | undefined;
    }
    return c === null ? null : asString(c);
  });
  const kinds = new Set(v.map((c: unknown) => (c !== null && typeof c === 'object' ? 'object' : 'other')));
  if (kinds.size > 1) throw new ParamError(); // neither List<Map> nor List<String>
  return [...new Set(names.filter((n): n is string => typeof n === 'string' && n !== ''))];
}

/** Parse jsonData the way OptionalFileParams does; unknown keys are ignored. */
export function parseJsonData(text: string | undefined): FileParams {
  const params: FileParams = { tabIngest: true, forceReplace: false };
  if (text === undefined || text.trim() === '') return params;
  try {
    const o: unknown = JSON.parse(text);
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ParamError();
    const j = o as Record<string, unknown>;
    params.description = asString(j.description);
    params.directoryLabel = asString(j.directoryLabel);
    params.label = asString(j.label);
    params.categories = asCategories(j.categories);
    params.restrict = asBoolean(j.restrict);
    params.tabIngest = asBoolean(j.tabIngest) ?? true;
    params.forceReplace = asBoolean(j.forceReplace) ?? false;
    return params;
  } catch {
    throw apiError(400, PARSE_ERROR);
  }
}

// --- preparing the uploaded bytes ---

export interface PreparedFile {
  /** The name the bytes came with (the duplicate-content warning names it). */
  uploadedName: string;
  label: string;
  directoryLabel?: string;
  description: string;
  categories: string[];
  restricted: boolean;
  contentType: string;
  blob: StoredBlob;
}

async function discard(store: Store, blobs: StoredBlob[]): Promise<void> {
  await removeBlobs(store, blobs.map((b) => b.key));
}

export async function removeBlobs(store: Store, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => store.blobs.remove(key)));
}

export function sizeLimitMessage(size: number, limit: number): string {
  return `There was an error when trying to add the new file. This file size (${humanSize(size)}) exceeds the size limit of ${humanSize(limit)}.`;
}

/**
 * From the stored upload to the files it becomes: type decision, size limit,
 * zip unpacking, jsonData, name checks. On any refusal every blob is removed.
 * `defaultType` is the part type when the part had no Content-Type header.
 */
export async function prepareUpload(ctx: Ctx, part: FormFile, params: FileParams, defaultType: string): Promise<PreparedFile[]> {
  const { store, config } = ctx;
  const name = part.filename ?? '';
  const limit = config.maxFileUploadSize;
  if (part.tooLarge && limit !== undefined) {
    await discard(store, [part.blob]);
    throw apiError(400, sizeLimitMessage(part.blob.size, limit));
  }
  const type = decideContentType(name, part.partType ?? defaultType);
  let files: { name: string; dir?: string; type: string; blob: StoredBlob }[] = [{ name, type, blob: part.blob }];
  if (isZip(type)) {
    try {
      const entries = await unpackZip(store.blobs, part.blob.key, { fileLimit: config.zipUploadFilesLimit, maxFileSize: limit });
      // An empty zip (nothing to unpack) is kept as it is.
      if (entries.length) {
        await discard(store, [part.blob]);
        files = entries.map((e) => ({
          name: e.name,
          dir: e.directoryLabel,
          type: decideContentType(e.name, OCTET_STREAM),
          blob: e.blob,
        }));
      }
    } catch (e) {
      await discard(store, [part.blob]);
      if (e instanceof ZipProblem) throw apiError(400, e.message);
      throw e;
    }
  }
  const prepared = files.map((f) => ({
    uploadedName: f.name,
    // jsonData applies to every file the upload became (OptionalFileParams.addOptionalParams).
    label: params.label ?? f.name,
    directoryLabel: params.directoryLabel !== undefined ? sanitizeDirectory(params.directoryLabel) : f.dir,
    description: params.description ?? '',
    categories: params.categories ?? [],
    restricted: params.restrict ?? false,
    contentType: f.type,
    blob: f.blob,
  }));
  for (const p of prepared) {
    const problem = labelProblem(p.label) ?? directoryProblem(p.directoryLabel);
    if (problem) {
      await discard(store, prepared.map((x) => x.blob));
      throw apiError(400, problem);
    }
  }
  return prepared;
}

// --- state changes ---

function newDataFile(store: Store, ds: DatasetRec, p: PreparedFile): DataFileRec {
  const f: DataFileRec = {
    id: store.nextId('dvObject'),
    datasetId: ds.id,
    contentType: p.contentType,
    filesize: p.blob.size,
    blob: p.blob.key,
    checksum: { type: 'MD5', value: p.blob.md5 },
    createDate: new Date().toISOString(),
    rootDataFileId: -1,
    accessGrants: [],
  };
  store.addFile(f);
  return f;
}

function newFileMetadata(store: Store, f: DataFileRec, p: PreparedFile, label: string): FileMetadataRec {
  return {
    id: store.nextId('fileMetadata'),
    dataFileId: f.id,
    label,
    directoryLabel: p.directoryLabel,
    description: p.description,
    categories: [...p.categories],
    restricted: p.restricted,
    version: 1,
  };
}

/**
 * The duplicate-content warning (DuplicateFileChecker over the working
 * version plus earlier files of the same upload). The bundle text names the
 * NEW file, as the 6.11 code does.
 */
function duplicateWarning(store: Store, v: VersionRec, prepared: PreparedFile[]): string | undefined {
  const seen = new Set(v.files.map((fm) => store.file(fm.dataFileId)?.checksum.value));
  for (const p of prepared) {
    if (seen.has(p.blob.md5)) return `This file has the same content as ${p.uploadedName} that is in the dataset. `;
    seen.add(p.blob.md5);
  }
  return undefined;
}

/** Queue the ingestable files; returns the delay for scheduleIngest, or undefined when none. */
function queueTabular(ctx: Ctx, ds: DatasetRec, files: DataFileRec[], tabIngest: boolean): number | undefined {
  const tabular = files.filter((f) => wantsIngest(f.contentType, tabIngest));
  return tabular.length ? queueIngest(ctx.config, ds, tabular, ctx.user) : undefined;
}

/** Read the upload form; the blob is removed if the form is refused. */
async function readUpload(ctx: Ctx): Promise<{ params: FileParams; part: FormFile }> {
  const form = await readForm(ctx, { fileField: 'file', maxFileSize: ctx.config.maxFileUploadSize });
  try {
    const params = parseJsonData(form.fields.get('jsonData'));
    if (!form.file) throw apiError(400, MUST_UPLOAD);
    return { params, part: form.file };
  } catch (e) {
    if (form.file) await discard(ctx.store, [form.file.blob]);
    throw e;
  }
}

/**
 * The last checks before the state change, made after all awaits so nothing
 * can change between them and the change: the dataset still exists (it may
 * have been deleted while the upload streamed) and no lock but Ingest is on it.
 * Returns the refusal, or undefined.
 */
function finalRefusal(ctx: Ctx, ds: DatasetRec, user: UserRec | undefined) {
  if (ctx.store.dataset(ds.id) !== ds) return apiError(404, `Dataset with ID ${ds.id} not found.`);
  if (editLockMessage(ctx.store, user, ds) !== undefined) return apiError(400, ADD_FAILED);
  return undefined;
}

/** POST /api/datasets/{id}/add */
export async function handleAdd(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  const ds = findDataset(ctx, ctx.params.id);
  if (!canEdit(store, ctx.user, ds)) throw apiError(403, NO_EDIT_PERMISSION);
  const { params, part } = await readUpload(ctx);
  const prepared = await prepareUpload(ctx, part, params, OCTET_STREAM);
  const refusal = finalRefusal(ctx, ds, ctx.user);
  if (refusal) {
    await discard(store, prepared.map((p) => p.blob));
    throw refusal;
  }

  // One synchronous state change from here to the commit: no other request can interleave.
  const draft = getOrCreateDraft(store, ds);
  const warning = duplicateWarning(store, draft, prepared);
  const taken = takenNames(store, draft);
  const created: DataFileRec[] = [];
  const fms: FileMetadataRec[] = [];
  for (const p of prepared) {
    const f = newDataFile(store, ds, p);
    const fm = newFileMetadata(store, f, p, claimUniqueName(taken, p.directoryLabel, p.label));
    draft.files.push(fm);
    created.push(f);
    fms.push(fm);
  }
  const ingestDelay = queueTabular(ctx, ds, created, params.tabIngest);
  touch(draft);
  await store.commit();
  if (ingestDelay !== undefined) scheduleIngest(store, ingestDelay);

  const files = fms.map((fm) => fileMetadataJson(store, ds, draft, fm));
  ok(ctx, { files }, warning ? { message: { message: warning } } : {});
}

// --- replace ---

export const NOT_IN_LATEST =
  'You cannot replace a file that is not in the most recently published dataset. (The file is unpublished or was deleted from a previous version.)';
export const DUPLICATE_REPLACE = 'Error! You may not replace a file with a file that has duplicate content.';
export const MULTIPLE_FILES =
  'You cannot replace a single file with multiple files. The file you uploaded was ingested into multiple files.';

/** POST /api/files/{id}/replace */
export async function handleReplace(ctx: Ctx): Promise<void> {
  const { store } = ctx;
  const idParam = ctx.params.id;
  const old = /^\d+$/.test(idParam) ? store.file(Number(idParam)) : undefined;
  if (!old) throw apiError(400, `Replacement file not found. There was no file found for ID: ${idParam}`);
  const ds = datasetOfFile(store, old);
  if (!canEdit(store, ctx.user, ds)) throw apiError(403, NO_EDIT_PERMISSION);
  const { params, part } = await readUpload(ctx);
  if (!currentFileMetadata(ds, old.id)) {
    await discard(store, [part.blob]);
    throw apiError(400, NOT_IN_LATEST);
  }
  // Here a part without Content-Type counts as text/plain (FormDataBodyPart.getMediaType()).
  const prepared = await prepareUpload(ctx, part, params, 'text/plain');
  const refuse = async (message: string) => {
    await discard(store, prepared.map((p) => p.blob));
    throw apiError(400, message);
  };
  if (prepared.length > 1) await refuse(MULTIPLE_FILES);
  const p = prepared[0];
  const oldType = old.tabular?.originalFileFormat ?? old.contentType;
  if (!params.forceReplace && oldType.toLowerCase() !== p.contentType.toLowerCase()) {
    const oldLabel = old.tabular?.originalFormatLabel ?? friendlyType(old.contentType);
    await refuse(`The original file (${oldLabel}) and replacement file (${friendlyType(p.contentType)}) are different file types.`);
  }
  if (old.checksum.value === p.blob.md5) await refuse(DUPLICATE_REPLACE);
  const refusal = finalRefusal(ctx, ds, ctx.user);
  if (refusal) {
    await discard(store, prepared.map((x) => x.blob));
    throw refusal;
  }
  // The old file may have been deleted or replaced while the upload streamed.
  if (store.file(old.id) !== old || !currentFileMetadata(ds, old.id)) await refuse(NOT_IN_LATEST);

  // One synchronous state change from here to the commit.
  const draft = getOrCreateDraft(store, ds);
  draft.files = draft.files.filter((fm) => fm.dataFileId !== old.id);
  const released = fileEverReleased(ds, old.id);
  const f = newDataFile(store, ds, p);
  if (released) {
    if (old.rootDataFileId === -1) old.rootDataFileId = old.id;
    f.rootDataFileId = old.rootDataFileId;
    f.previousDataFileId = old.id;
  } else {
    // A never-released file is simply swapped out: its chain (if any) passes on, the row and bytes go.
    f.rootDataFileId = old.rootDataFileId;
    f.previousDataFileId = old.previousDataFileId;
    store.removeFile(old.id);
  }
  const fm = newFileMetadata(store, f, p, claimUniqueName(takenNames(store, draft), p.directoryLabel, p.label));
  draft.files.push(fm);
  const ingestDelay = queueTabular(ctx, ds, [f], params.tabIngest);
  touch(draft);
  await store.commit();
  if (!released) await removeBlobs(store, blobKeysOf(old));
  if (ingestDelay !== undefined) scheduleIngest(store, ingestDelay);
  ok(ctx, { files: [fileMetadataJson(store, ds, draft, fm)] });
}

/** Every blob a DataFile owns (the stored bytes and, for ingested files, the original). */
export function blobKeysOf(f: DataFileRec): string[] {
  return [f.blob, ...(f.tabular ? [f.tabular.originalBlob] : [])];
}
