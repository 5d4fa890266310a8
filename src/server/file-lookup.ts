// Shared lookups of the file endpoints: who may see a DataFile, which
// FileMetadata is "latest", what lock stops an edit, and the Gson-style
// FileMetadata JSON of the text/plain endpoints.
import type { Ctx } from './http.js';
import type { DataFileRec, DatasetRec, FileMetadataRec, UserRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import { canViewUnpublished, hasPermission } from './auth.js';
import { editBlockingLocks } from './locks.js';
import { datasetOfFile, draftOf, fileEverReleased, fileMetadataIn } from './versions.js';

/** GetDataFileCommand: a released file is public; an unreleased one needs ViewUnpublishedDataset. */
export function canSeeFile(store: Store, user: UserRec | undefined, f: DataFileRec): boolean {
  const ds = datasetOfFile(store, f);
  return fileEverReleased(ds, f.id) || canViewUnpublished(store, user, ds);
}

/** The dataset's newest version (draft or not): where add/replace/edit look for a file. */
export function latestVersion(ds: DatasetRec): VersionRec {
  return ds.versions[ds.versions.length - 1];
}

/** The FileMetadata of a file in the dataset's newest version, if it is there. */
export function currentFileMetadata(ds: DatasetRec, fileId: number): FileMetadataRec | undefined {
  return fileMetadataIn(latestVersion(ds), fileId);
}

/** The newest released (optionally deaccessioned) version that holds the file. */
export function latestPublishedWith(ds: DatasetRec, fileId: number, includeDeaccessioned = false): VersionRec | undefined {
  for (let i = ds.versions.length - 1; i >= 0; i--) {
    const v = ds.versions[i];
    const state = v.versionState;
    if ((state === 'RELEASED' || (includeDeaccessioned && state === 'DEACCESSIONED')) && fileMetadataIn(v, fileId)) return v;
  }
  return undefined;
}

/** GetLatestAccessibleFileMetadataCommand: the draft's if the caller may see drafts, else the latest published. */
export function latestAccessible(ctx: Ctx, ds: DatasetRec, fileId: number, includeDeaccessioned = false): VersionRec | undefined {
  const draft = draftOf(ds);
  if (draft && fileMetadataIn(draft, fileId) && canViewUnpublished(ctx.store, ctx.user, ds)) return draft;
  return latestPublishedWith(ds, fileId, includeDeaccessioned);
}

/** The DataFile that replaced this one, if any (DataFile.findDataFileThatReplacedId). */
export function replacementOf(store: Store, fileId: number): DataFileRec | undefined {
  return store.state.dataFiles.find((f) => f.previousDataFileId === fileId);
}

/**
 * checkUpdateDatasetVersionLock: every lock but Ingest stops an edit; an
 * In Review lock only stops those who cannot publish. Undefined = no lock in the way.
 */
export function editLockMessage(store: Store, user: UserRec | undefined, ds: DatasetRec): string | undefined {
  const locks = editBlockingLocks(ds);
  if (!locks.length) return undefined;
  if (locks.every((l) => l.lockType === 'InReview')) {
    return hasPermission(store, user, 'PublishDataset', ds.id)
      ? undefined
      : 'Dataset cannot be edited due to In Review dataset lock.';
  }
  return 'Dataset cannot be edited due to dataset lock.';
}

/**
 * FileMetadata.asGsonObject(): @Expose fields in declaration order (nulls
 * left out), then categories (if any) and the FileMetadata id.
 */
export function gsonFileMetadata(fm: FileMetadataRec): string {
  const o: Record<string, unknown> = { label: fm.label };
  if (fm.directoryLabel !== undefined) o.directoryLabel = fm.directoryLabel;
  o.description = fm.description;
  o.restricted = fm.restricted;
  if (fm.categories.length) o.categories = [...fm.categories];
  o.id = fm.id;
  return JSON.stringify(o);
}
