// Deleting a dataset's draft (DeleteDatasetVersionCommand): files that exist
// only in the draft are gone for good (rows and bytes); a never-published
// dataset is destroyed with it.
import type { DataFileRec, DatasetRec } from './model.js';
import type { Store } from './store.js';
import { draftOf, fileEverReleased } from './versions.js';

/** Remove the draft and commit; returns true when the whole dataset was destroyed. */
export async function deleteDraft(store: Store, ds: DatasetRec): Promise<boolean> {
  const draft = draftOf(ds);
  if (!draft) return false;
  const doomed: DataFileRec[] = [];
  for (const fm of draft.files) {
    const f = store.file(fm.dataFileId);
    if (f && !fileEverReleased(ds, f.id)) doomed.push(f);
  }
  ds.versions = ds.versions.filter((v) => v !== draft);
  if (ds.versions.length === 0) {
    await destroyDataset(store, ds);
    return true;
  }
  await removeFiles(store, doomed);
  return false;
}

/** Remove a dataset with every DataFile it ever had (DestroyDatasetCommand), and commit. */
export async function destroyDataset(store: Store, ds: DatasetRec): Promise<void> {
  const doomed = store.state.dataFiles.filter((f) => f.datasetId === ds.id);
  store.removeDataset(ds.id);
  await removeFiles(store, doomed);
}

/**
 * Forget DataFile rows, commit, then delete their blobs when no remaining file
 * shares them (the state on disk never points at a deleted blob).
 */
export async function removeFiles(store: Store, files: DataFileRec[]): Promise<void> {
  const keys = new Set<string>();
  for (const f of files) {
    store.removeFile(f.id);
    keys.add(f.blob);
    if (f.tabular?.originalBlob) keys.add(f.tabular.originalBlob);
  }
  for (const other of store.state.dataFiles) {
    keys.delete(other.blob);
    if (other.tabular?.originalBlob) keys.delete(other.tabular.originalBlob);
  }
  await store.commit();
  for (const k of keys) await store.blobs.remove(k);
}
