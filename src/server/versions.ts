// Finding datasets, files and versions the way the real server does, with its
// status codes and messages (dataverse-api-notes.md §1.4, §3).
import { apiError, type Ctx } from './http.js';
import { canViewUnpublished, notPermitted } from './auth.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import { isoSeconds } from './json.js';

/** {id} may be a database id or ':persistentId' with ?persistentId=. */
export function findDataset(ctx: Ctx, idParam: string): DatasetRec {
  if (idParam === ':persistentId') {
    const pid = ctx.query.get('persistentId');
    if (!pid) {
      throw apiError(404, 'When accessing a dataset based on Persistent ID, a persistentId query parameter must be present.');
    }
    if (!/^(doi|hdl|perma):.+\/.+/.test(pid)) throw apiError(400, `Bad dataset ID number: ${pid}.`);
    const ds = ctx.store.datasetByPid(pid);
    if (!ds) {
      // The real server's misleading message for a well-formed PID that does not exist.
      throw apiError(404, 'When accessing a dataset based on Persistent ID, a persistentId query parameter must be present.');
    }
    return ds;
  }
  if (!/^\d+$/.test(idParam)) throw apiError(400, `Bad dataset ID number: ${idParam}.`);
  const ds = ctx.store.dataset(Number(idParam));
  if (!ds) throw apiError(404, `Dataset with ID ${idParam} not found.`);
  return ds;
}

export function findFile(ctx: Ctx, idParam: string): DataFileRec {
  if (idParam === ':persistentId') {
    const pid = ctx.query.get('persistentId') ?? '';
    throw apiError(404, `Datafile with Persistent ID ${pid} not found.`); // no file PIDs here
  }
  if (!/^\d+$/.test(idParam)) throw apiError(400, `Bad file ID number: ${idParam}.`);
  const f = ctx.store.file(Number(idParam));
  if (!f) throw apiError(404, `File with ID ${idParam} not found.`);
  return f;
}

export function draftOf(ds: DatasetRec): VersionRec | undefined {
  const last = ds.versions[ds.versions.length - 1];
  return last?.versionState === 'DRAFT' ? last : undefined;
}

export function latestReleased(ds: DatasetRec, includeDeaccessioned = false): VersionRec | undefined {
  for (let i = ds.versions.length - 1; i >= 0; i--) {
    const v = ds.versions[i];
    if (v.versionState === 'RELEASED' || (includeDeaccessioned && v.versionState === 'DEACCESSIONED')) return v;
  }
  return undefined;
}

export function isReleased(ds: DatasetRec): boolean {
  return ds.versions.some((v) => v.versionState !== 'DRAFT');
}

/** "1.0" for released versions, ":draft" for the draft. */
export function versionLabel(v: VersionRec): string {
  return v.versionState === 'DRAFT' ? ':draft' : `${v.versionNumber}.${v.minorVersionNumber}`;
}

/**
 * Resolve a version specifier (:draft, :latest, :latest-published, x, x.y)
 * for the caller, with the permission rules of the real server.
 */
export function resolveVersion(
  ctx: Ctx,
  ds: DatasetRec,
  spec: string,
  opts: { includeDeaccessioned?: boolean } = {},
): VersionRec {
  const includeDeaccessioned = opts.includeDeaccessioned ?? ctx.query.get('includeDeaccessioned') === 'true';
  const mayViewDraft = canViewUnpublished(ctx.store, ctx.user, ds);
  const notFound = () => apiError(404, `Dataset version ${spec} of dataset ${ds.id} not found`);
  switch (spec) {
    case ':draft': {
      if (!mayViewDraft) throw notPermitted(ctx.user);
      const d = draftOf(ds);
      if (!d) throw notFound();
      return d;
    }
    case ':latest': {
      const d = mayViewDraft ? draftOf(ds) : undefined;
      const v = d ?? latestReleased(ds, includeDeaccessioned);
      if (!v) throw notFound();
      return v;
    }
    case ':latest-published': {
      const v = latestReleased(ds, includeDeaccessioned);
      if (!v) throw notFound();
      return v;
    }
    default: {
      const m = /^(\d+)(?:\.(\d+))?$/.exec(spec);
      if (!m) throw apiError(400, `Illegal version identifier '${spec}'`);
      const major = Number(m[1]);
      const minor = m[2] === undefined ? 0 : Number(m[2]);
      const v = ds.versions.find(
        (x) =>
          x.versionNumber === major &&
          x.minorVersionNumber === minor &&
          (x.versionState === 'RELEASED' || (includeDeaccessioned && x.versionState === 'DEACCESSIONED')),
      );
      if (!v) throw notFound();
      return v;
    }
  }
}

/** The draft, created from the latest version if there is none (getOrCreateEditVersion). */
export function getOrCreateDraft(store: Store, ds: DatasetRec): VersionRec {
  const existing = draftOf(ds);
  if (existing) return existing;
  const base = ds.versions[ds.versions.length - 1];
  const now = isoSeconds();
  const draft: VersionRec = {
    id: store.nextId('version'),
    versionState: 'DRAFT',
    internalVersionNumber: 1,
    createTime: now,
    lastUpdateTime: now,
    license: base?.license ? { ...base.license } : undefined,
    termsOfUse: base?.termsOfUse,
    fields: structuredClone(base?.fields ?? []),
    files: (base?.files ?? []).map((fm) => ({ ...fm, categories: [...fm.categories], id: store.nextId('fileMetadata'), version: 1 })),
  };
  ds.versions.push(draft);
  return draft;
}

/** Mark a version as changed now. */
export function touch(v: VersionRec): void {
  v.lastUpdateTime = isoSeconds();
  v.internalVersionNumber += 1;
}

export function fileMetadataIn(v: VersionRec, fileId: number): FileMetadataRec | undefined {
  return v.files.find((fm) => fm.dataFileId === fileId);
}

/** The dataset a file belongs to (every DataFile has one). */
export function datasetOfFile(store: Store, f: DataFileRec): DatasetRec {
  const ds = store.dataset(f.datasetId);
  if (!ds) throw new Error(`dataset ${f.datasetId} of file ${f.id} missing`);
  return ds;
}

/** Has this DataFile been part of any released (or deaccessioned) version? */
export function fileEverReleased(ds: DatasetRec, fileId: number): boolean {
  return ds.versions.some((v) => v.versionState !== 'DRAFT' && v.files.some((fm) => fm.dataFileId === fileId));
}
