// Dataset locks (dataverse-api-notes.md §9). Timed locks (Ingest,
// finalizePublication, injected test locks) carry `until` and vanish by themselves.
import type { DatasetRec, LockRec, LockType } from './model.js';
import { javaDateString } from './json.js';

/** The current locks, after dropping expired timed ones. */
export function activeLocks(ds: DatasetRec): LockRec[] {
  const now = Date.now();
  if (ds.locks.some((l) => l.until !== undefined && l.until <= now)) {
    ds.locks = ds.locks.filter((l) => l.until === undefined || l.until > now);
  }
  return ds.locks;
}

export function addLock(ds: DatasetRec, lockType: LockType, user: string, message?: string, seconds?: number): LockRec {
  const lock: LockRec = {
    lockType,
    date: javaDateString(),
    user,
    message,
    until: seconds === undefined ? undefined : Date.now() + seconds * 1000,
  };
  ds.locks.push(lock);
  return lock;
}

export function removeLocks(ds: DatasetRec, type?: LockType): void {
  ds.locks = type ? ds.locks.filter((l) => l.lockType !== type) : [];
}

/** Locks that block edits: everything but Ingest (5.14+), or everything with `includeIngest`. */
export function editBlockingLocks(ds: DatasetRec, includeIngest = false): LockRec[] {
  return activeLocks(ds).filter((l) => includeIngest || l.lockType !== 'Ingest');
}
