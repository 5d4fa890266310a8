// The server's database: the whole State in memory with id indexes, written
// atomically to <data-dir>/state.json after every change (a restart keeps
// every committed upload and edit).
import { mkdir, readFile, rename, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import { BlobStore } from './blobs.js';
import {
  emptyState,
  type CollectionRec,
  type Counters,
  type DataFileRec,
  type DatasetRec,
  type State,
  type UserRec,
} from './model.js';

export class Store {
  state: State = emptyState();
  readonly blobs: BlobStore;
  private collectionsById = new Map<number, CollectionRec>();
  private datasetsById = new Map<number, DatasetRec>();
  private filesById = new Map<number, DataFileRec>();
  private usersById = new Map<number, UserRec>();
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(readonly dataDir: string) {
    this.blobs = new BlobStore(path.join(dataDir, 'blobs'));
  }

  private get statePath(): string {
    return path.join(this.dataDir, 'state.json');
  }

  async load(): Promise<void> {
    // The state holds every user's API token: the folder (when we make it) and the file are the owner's only.
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await this.blobs.init();
    try {
      this.state = JSON.parse(await readFile(this.statePath, 'utf8')) as State;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.state = emptyState();
    }
    this.reindex();
  }

  private reindex(): void {
    this.collectionsById = new Map(this.state.collections.map((c) => [c.id, c]));
    this.datasetsById = new Map(this.state.datasets.map((d) => [d.id, d]));
    this.filesById = new Map(this.state.dataFiles.map((f) => [f.id, f]));
    this.usersById = new Map(this.state.users.map((u) => [u.id, u]));
  }

  /** Persist the state; resolves when this change is on disk. Saves are serialised and coalesced. */
  commit(): Promise<void> {
    this.dirty = true;
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const tmp = `${this.statePath}.tmp`;
      await writeFile(tmp, JSON.stringify(this.state), { mode: 0o600 });
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      await rename(tmp, this.statePath);
    });
    return this.saving;
  }

  nextId(counter: keyof Counters): number {
    this.state.counters[counter] += 1;
    return this.state.counters[counter];
  }

  // --- lookups ---
  collection(id: number): CollectionRec | undefined {
    return this.collectionsById.get(id);
  }
  collectionByAlias(alias: string): CollectionRec | undefined {
    if (alias === ':root') return this.root();
    const lower = alias.toLowerCase();
    return this.state.collections.find((c) => c.alias.toLowerCase() === lower);
  }
  root(): CollectionRec | undefined {
    return this.state.collections.find((c) => c.ownerId === undefined);
  }
  dataset(id: number): DatasetRec | undefined {
    return this.datasetsById.get(id);
  }
  datasetByPid(pid: string): DatasetRec | undefined {
    return this.state.datasets.find((d) => globalId(d) === pid);
  }
  file(id: number): DataFileRec | undefined {
    return this.filesById.get(id);
  }
  user(id: number): UserRec | undefined {
    return this.usersById.get(id);
  }
  userByName(username: string): UserRec | undefined {
    return this.state.users.find((u) => u.username === username);
  }
  userByToken(token: string): UserRec | undefined {
    return this.state.users.find((u) => u.token?.value === token);
  }

  // --- inserts and deletes (keep the indexes in step) ---
  addCollection(c: CollectionRec): void {
    this.state.collections.push(c);
    this.collectionsById.set(c.id, c);
  }
  removeCollection(id: number): void {
    this.state.collections = this.state.collections.filter((c) => c.id !== id);
    this.collectionsById.delete(id);
  }
  addDataset(d: DatasetRec): void {
    this.state.datasets.push(d);
    this.datasetsById.set(d.id, d);
  }
  removeDataset(id: number): void {
    this.state.datasets = this.state.datasets.filter((d) => d.id !== id);
    this.datasetsById.delete(id);
    this.state.roleAssignments = this.state.roleAssignments.filter((r) => r.definitionPointId !== id);
  }
  addFile(f: DataFileRec): void {
    this.state.dataFiles.push(f);
    this.filesById.set(f.id, f);
  }
  /** Forget a DataFile row; the caller removes its blobs if no one else uses them. */
  removeFile(id: number): void {
    this.state.dataFiles = this.state.dataFiles.filter((f) => f.id !== id);
    this.filesById.delete(id);
  }
  addUser(u: UserRec): void {
    this.state.users.push(u);
    this.usersById.set(u.id, u);
  }

  /** Children of a collection: sub-collections then datasets, each by id. */
  childCollections(id: number): CollectionRec[] {
    return this.state.collections.filter((c) => c.ownerId === id).sort((a, b) => a.id - b.id);
  }
  childDatasets(id: number): DatasetRec[] {
    return this.state.datasets.filter((d) => d.ownerId === id).sort((a, b) => a.id - b.id);
  }

  /** The chain of collections from a collection up to the root (inclusive). */
  collectionChain(id: number | undefined): CollectionRec[] {
    const chain: CollectionRec[] = [];
    let cur = id === undefined ? undefined : this.collection(id);
    while (cur) {
      chain.push(cur);
      cur = cur.ownerId === undefined ? undefined : this.collection(cur.ownerId);
    }
    return chain;
  }
}

export function globalId(d: DatasetRec): string {
  return `${d.protocol}:${d.authority}${d.separator}${d.identifier}`;
}
