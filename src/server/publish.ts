// Publishing a dataset (dataverse-api-notes.md §10): version numbering,
// the checks of PublishDatasetCommand and the finalizePublication lock.
import { apiError } from './http.js';
import type { DatasetRec, LockType, UserRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import type { ServerConfig } from './config.js';
import { activeLocks, addLock } from './locks.js';
import { dateOnly, isoSeconds } from './json.js';
import { draftOf, latestReleased } from './versions.js';

export type ReleaseType = 'major' | 'minor' | 'updatecurrent';

/** Validate the ?type= parameter: 400 on missing or illegal values. */
export function parseReleaseType(value: string | null): ReleaseType {
  if (value === null || value === '') {
    throw apiError(400, "Missing 'type' parameter (either 'major','minor', or 'updatecurrent').");
  }
  const t = value.toLowerCase();
  if (t !== 'major' && t !== 'minor' && t !== 'updatecurrent') {
    throw apiError(400, `Illegal 'type' parameter value '${t}'. It needs to be either 'major', 'minor', or 'updatecurrent'.`);
  }
  return t;
}

/** Locks that stop a publish (PermissionServiceBean.checkPublishDatasetLock). */
const PUBLISH_BLOCKING: LockType[] = ['Ingest', 'finalizePublication', 'EditInProgress', 'Workflow'];

function checkPublishLocks(ds: DatasetRec): void {
  for (const l of activeLocks(ds)) {
    if (l.lockType === 'FileValidationFailed') {
      throw apiError(
        403,
        'This dataset is locked. Reason: some files have been found missing or corrupted. Please contact the support.',
      );
    }
    if (PUBLISH_BLOCKING.includes(l.lockType)) {
      throw apiError(403, `This dataset is locked. Reason: ${l.lockType}. Please try publishing later.`);
    }
  }
}

/**
 * DatasetVersion.isMinorUpdate: the draft holds exactly the DataFiles of the
 * latest released version, and the version before the draft is not deaccessioned.
 */
function isMinorUpdate(ds: DatasetRec, draft: VersionRec): boolean {
  const before = ds.versions[ds.versions.indexOf(draft) - 1];
  if (before?.versionState === 'DEACCESSIONED') return false;
  const released = latestReleased(ds);
  if (!released) return true;
  const ids = (v: VersionRec) => v.files.map((fm) => fm.dataFileId).sort((x, y) => x - y).join(',');
  return ids(released) === ids(draft);
}

/**
 * Release the draft of a dataset. Throws ApiError with the real server's
 * status and message when the publish is refused. The caller commits.
 */
export function publishDataset(
  store: Store,
  config: ServerConfig,
  ds: DatasetRec,
  user: UserRec,
  type: ReleaseType,
): void {
  const host = store.collection(ds.ownerId);
  if (host && !host.released) {
    throw apiError(403, `This dataset may not be published because its host dataverse (${host.alias}) has not been published.`);
  }
  checkPublishLocks(ds);
  const draft = draftOf(ds);
  const previous = latestReleased(ds, true);
  if (type === 'updatecurrent') {
    if (!user.superuser) throw apiError(403, 'Only superusers can update the current version');
    if (!draft || !previous) throw apiError(403, 'Cannot update as majorVersion is not released');
  }
  if (!draft) {
    throw apiError(403, `Latest version of dataset ${ds.identifier} is already released. Only draft versions can be released.`);
  }
  if (!draft.license && !draft.termsOfUse) {
    throw apiError(403, 'Dataset must have a valid license or Custom Terms Of Use configured before it can be published.');
  }
  const now = isoSeconds();
  if (type === 'updatecurrent' && previous) {
    // Overwrite the current published version with the draft's content.
    previous.fields = draft.fields;
    previous.files = draft.files;
    previous.license = draft.license;
    previous.termsOfUse = draft.termsOfUse;
    previous.lastUpdateTime = now;
    previous.internalVersionNumber += 1;
    ds.versions = ds.versions.filter((v) => v !== draft);
    stampFiles(store, previous);
  } else {
    if (!previous) {
      if (type === 'minor') throw apiError(403, 'Cannot publish as minor version. Re-try as major release.');
      draft.versionNumber = 1;
      draft.minorVersionNumber = 0;
    } else if (type === 'minor') {
      if (!isMinorUpdate(ds, draft)) throw apiError(403, 'Cannot release as minor version. Re-try as major release.');
      draft.versionNumber = previous.versionNumber;
      draft.minorVersionNumber = (previous.minorVersionNumber ?? 0) + 1;
    } else {
      draft.versionNumber = (previous.versionNumber ?? 0) + 1;
      draft.minorVersionNumber = 0;
    }
    draft.versionState = 'RELEASED';
    draft.releaseTime = now;
    draft.lastUpdateTime = now;
    draft.internalVersionNumber += 1;
    stampFiles(store, draft);
  }
  if (!ds.publicationDate) ds.publicationDate = dateOnly();
  // Publication finishes asynchronously on the real server: a timed lock says so.
  addLock(ds, 'finalizePublication', user.username, undefined, config.publishSeconds);
}

function stampFiles(store: Store, v: VersionRec): void {
  const today = dateOnly();
  for (const fm of v.files) {
    const f = store.file(fm.dataFileId);
    if (f && !f.publicationDate) f.publicationDate = today;
  }
}
