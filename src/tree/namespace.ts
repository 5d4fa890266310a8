// The namespace: what each path of the mount is (design.md "The namespace").
//   /<collection alias>/…/<dataset folder>/<version>/<directoryLabel…>/<file>
// Listings come from the JSON API through the metadata cache; published
// versions are immutable and cached for good, the rest for a TTL.
import type { DataverseClient } from '../dataverse/client.js';
import type { CollectionInfo, DatasetInfo, FileMetadataInfo, VersionInfo } from '../dataverse/types.js';
import { DataverseWrites } from '../dataverse/writes.js';
import type { MetadataCache } from '../cache/metadata-cache.js';
import { notDir, notFound } from './errors.js';
import { datasetFolderName, DRAFT, isPid, LATEST, versionFolderName } from './names.js';
import type { DirNode, FileNode, Node } from './nodes.js';
import type { FileSource } from '../cache/types.js';
import { variantNames, variantNode, type VariantContext } from './variants.js';
import { displayName, serverFileNode } from './file-nodes.js';
import { DraftTree, type DraftSource } from './draft-tree.js';

export interface NamespaceOptions {
  /** ':root', a collection alias, or a dataset PID. */
  root: string;
  /** Show ingested tabular files as their original upload (default) or as the archival .tab. */
  tabular: 'original' | 'archival';
  /** List the hidden `@variant` entries in folders too. */
  showVariants: boolean;
  /** No token: skip calls that need one. */
  guest: boolean;
}

export function datasetPid(ds: Pick<DatasetInfo, 'protocol' | 'authority' | 'separator' | 'identifier'>): string {
  return `${ds.protocol}:${ds.authority}${ds.separator ?? '/'}${ds.identifier}`;
}

/**
 * List a folder in byte order of names (the order rsync and sorted tools
 * open files in) and tell each file its position, for read-ahead across files.
 */
function sortFolder(folder: Folder, key: string): void {
  const entries = [...folder.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  folder.files = new Map(entries);
  const files = entries.map(([, n]) => n).filter((n): n is FileNode & { source: FileSource } => n.kind === 'file' && n.source !== undefined);
  const sources = files.map((n) => n.source);
  files.forEach((n, index) => (n.folder = { key, files: sources, index }));
}

function dateOf(s: string | undefined): Date {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? new Date(0) : new Date(t);
}

/** A folder inside a version, built from the files' directoryLabel. */
interface Folder {
  files: Map<string, Node>;
  /** Files by their listed name, for variant lookups. */
  byName: Map<string, { node: FileNode; fm: FileMetadataInfo }>;
}

export class Namespace {
  private rootNode?: DirNode;
  private drafts?: DraftSource;
  private readonly writes: DataverseWrites;
  /** Datasets last seen without a server draft: their first change creates one (the version list changes). */
  private readonly noDraftYet = new Set<number>();
  /** Where each dataset folder was seen in the mount (for `dvfs status`). */
  private readonly datasetPaths = new Map<number, string>();

  constructor(
    private readonly client: DataverseClient,
    private readonly meta: MetadataCache,
    private readonly opts: NamespaceOptions,
  ) {
    this.writes = new DataverseWrites(client);
  }

  /** Make the `draft` folders of editable datasets writable, shown through the write path's local state. */
  attachDrafts(source: DraftSource): void {
    this.drafts = source;
    this.meta.refresh();
  }

  /** The server's file list of a dataset's draft (of its latest version before the first edit), cached for the TTL. */
  draftFiles(datasetId: number): Promise<FileMetadataInfo[]> {
    return this.cached(`draftfiles:${datasetId}`, () => this.writes.draftFiles(datasetId));
  }

  /**
   * A cached API answer. A change that lands while it loads forgets the key,
   * which aborts the load (lru-cache rejects with Error('deleted')): load
   * again, the newer answer is the one wanted anyway.
   */
  private async cached<T>(key: string, load: () => Promise<T>, immutable = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.meta.get(key, load, immutable);
      } catch (e) {
        if (!(e instanceof Error && e.message === 'deleted') || attempt >= 5) throw e;
      }
    }
  }

  /** The server's state of a dataset's draft changed (an upload, rename or delete landed). */
  draftChanged(datasetId: number): void {
    this.meta.forget(`draftfiles:${datasetId}`);
    this.meta.forget(`files:${datasetId}::draft`);
    if (this.noDraftYet.has(datasetId)) this.meta.forget(`dataset:${datasetId}`); // `latest` now points at the draft
  }

  /** The mount path of a dataset's folder ("/lab/doi-…"), if it was seen. */
  datasetPath(datasetId: number): string | undefined {
    return this.datasetPaths.get(datasetId);
  }

  /** The dataset a mount path is in (the path of its folder, or of anything below it). */
  async datasetAt(path: string): Promise<{ id: number; pid: string; path: string } | undefined> {
    const parts = path.split('/').filter(Boolean);
    for (let n = parts.length; n >= 0; n--) {
      const p = '/' + parts.slice(0, n).join('/');
      const node = await this.resolve(p);
      if (node.kind === 'dir' && node.xattrs.type === 'dataset') return { id: Number(node.xattrs.id), pid: node.xattrs.pid, path: p };
    }
    return undefined;
  }

  /** Forget everything cached about a dataset's versions (after a publish). */
  datasetChanged(datasetId: number): void {
    this.draftChanged(datasetId);
    this.meta.forget(`dataset:${datasetId}`);
    this.meta.forget(`files:${datasetId}::latest`);
  }

  /** Find the mount's root object; fails (DataverseError) when it does not exist or cannot be seen. */
  async init(): Promise<void> {
    if (isPid(this.opts.root)) {
      const ds = await this.client.dataset(this.opts.root);
      this.rootNode = this.datasetDir(ds);
    } else {
      const c = await this.client.collection(this.opts.root);
      this.rootNode = this.collectionDir(c);
    }
  }

  refresh(): void {
    this.meta.refresh();
  }

  async resolve(path: string): Promise<Node> {
    if (!this.rootNode) throw new Error('namespace not initialised');
    let node: Node = this.rootNode;
    if (path === '/' || path === '') return node;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i];
      if (part === '') continue;
      if (node.kind !== 'dir') throw notDir(path);
      const dir: DirNode = node;
      let next: Node | undefined = dir.child ? await dir.child(part) : (await dir.children()).get(part);
      if (!next && dir.hidden) next = await dir.hidden(part);
      if (!next) throw notFound(path);
      if (next.kind === 'dir' && next.xattrs.type === 'dataset') this.datasetPaths.set(Number(next.xattrs.id), parts.slice(0, i + 1).join('/'));
      node = next;
    }
    if (node.kind === 'dir' && node.fresh) {
      const now = await node.fresh();
      if (!now) throw notFound(path);
      node = now;
    }
    return node;
  }

  /** Names in a folder (plus its variant names with --show-variants). */
  async list(path: string): Promise<string[]> {
    const node = await this.resolve(path);
    if (node.kind !== 'dir') throw notDir(path);
    const names = [...(await node.children()).keys()];
    if (this.opts.showVariants && node.variantNames) names.push(...(await node.variantNames()));
    return names;
  }

  // --- collections ---

  private collectionDir(c: CollectionInfo): DirNode {
    return {
      kind: 'dir',
      mtime: dateOf(c.creationDate),
      xattrs: { type: 'collection', id: String(c.id), alias: c.alias, name: c.name, ...(c.description ? { description: c.description } : {}) },
      children: () =>
        this.cached(`contents:${c.id}`, async () => {
          const entries = await this.client.contents(c.id);
          const map = new Map<string, Node>();
          const subs = await Promise.all(
            entries
              .filter((e) => e.type === 'dataverse')
              .map((e) => this.meta.get(`collection:${e.id}`, () => this.client.collection(e.id))),
          );
          for (const sub of subs) map.set(sub.alias, this.collectionDir(sub));
          for (const e of entries) {
            if (e.type === 'dataset') map.set(datasetFolderName(datasetPid(e)), this.datasetDir(e));
          }
          return map;
        }),
    };
  }

  // --- datasets ---

  private datasetDir(ds: DatasetInfo): DirNode {
    const pid = datasetPid(ds);
    return {
      kind: 'dir',
      mtime: dateOf(ds.publicationDate),
      xattrs: { type: 'dataset', id: String(ds.id), pid },
      children: () =>
        this.cached(`dataset:${ds.id}`, async () => {
          const [versions, perms] = await Promise.all([
            this.client.versions(ds.id),
            this.opts.guest ? Promise.resolve({ canEditDataset: false }) : this.client.userPermissions(ds.id).catch(() => ({ canEditDataset: false })),
          ]);
          const map = new Map<string, Node>();
          let newest: { name: string; n: number; v: VersionInfo } | undefined;
          let draft: VersionInfo | undefined;
          for (const v of versions) {
            if (v.versionState === 'DRAFT') draft = v;
            if (v.versionState !== 'RELEASED') continue;
            const name = versionFolderName(v.versionNumber ?? 0, v.versionMinorNumber ?? 0);
            map.set(name, this.versionDir(ds, v, name, true));
            const n = (v.versionNumber ?? 0) * 1e6 + (v.versionMinorNumber ?? 0);
            if (!newest || n > newest.n) newest = { name, n, v };
          }
          if (draft) this.noDraftYet.delete(ds.id);
          else this.noDraftYet.add(ds.id);
          const editable = perms.canEditDataset === true;
          if (draft && this.drafts) {
            // Through the write path: writable where the token may edit, EACCES otherwise.
            map.set(DRAFT, this.writableDraftDir(ds, draft, this.drafts, editable));
          } else if (draft) {
            map.set(DRAFT, this.versionDir(ds, draft, ':draft', false));
          } else if (editable && newest) {
            // Where the token may edit, `draft` exists already; until the server has one it shows the latest version.
            const base = versions.find((v) => versionFolderName(v.versionNumber ?? 0, v.versionMinorNumber ?? 0) === newest!.name)!;
            map.set(DRAFT, this.drafts ? this.writableDraftDir(ds, base, this.drafts, true) : this.versionDir(ds, base, ':latest', false));
          }
          // The link's time is that of the version it points to (the dataset's publicationDate is a day, or none).
          const latest = draft ? { target: DRAFT, time: draft.createTime ?? draft.lastUpdateTime } : newest && { target: newest.name, time: newest.v.releaseTime ?? newest.v.lastUpdateTime };
          if (latest) map.set(LATEST, { kind: 'link', target: latest.target, mtime: dateOf(latest.time), xattrs: {} });
          return map;
        }),
    };
  }

  /** The draft folder of a dataset, through the write path (local changes shown on top of the server's listing). */
  private writableDraftDir(ds: DatasetInfo, v: VersionInfo, source: DraftSource, editable: boolean): DirNode {
    // Folders without a remembered mtime show the draft's creation time, not its last update: every
    // upload moves the last update, and a folder whose time rsync saw equal to its source (and so
    // never set) would change under it when the uploads land.
    const mtime = dateOf(v.versionState === 'DRAFT' ? (v.createTime ?? v.lastUpdateTime) : (v.releaseTime ?? v.lastUpdateTime));
    const pid = datasetPid(ds);
    const tree = new DraftTree({
      datasetId: ds.id,
      datasetPid: pid,
      editable,
      files: () => this.draftFiles(ds.id),
      source,
      tabular: this.opts.tabular,
      versionState: v.versionState,
      mtime,
      variants: { client: this.client, meta: this.meta, immutable: false, datasetPid: pid },
    });
    const xattrs: Record<string, string> = { type: 'version', dataset_id: String(ds.id), pid, version: DRAFT, version_state: v.versionState };
    const title = this.titleOf(v);
    if (title) xattrs.title = title;
    return tree.root(xattrs);
  }

  private titleOf(v: VersionInfo): string | undefined {
    const f = v.metadataBlocks?.citation?.fields.find((x) => x.typeName === 'title');
    return typeof f?.value === 'string' ? f.value : undefined;
  }

  // --- versions and their folders ---

  private versionDir(ds: DatasetInfo, v: VersionInfo, spec: string, immutable: boolean): DirNode {
    const mtime = dateOf(v.releaseTime ?? v.lastUpdateTime);
    const tree = () => this.cached(`files:${ds.id}:${spec}`, () => this.buildVersion(ds, v, spec, mtime, immutable), immutable);
    const xattrs: Record<string, string> = {
      type: 'version',
      dataset_id: String(ds.id),
      pid: datasetPid(ds),
      version: spec.startsWith(':') ? DRAFT : spec,
      version_state: spec === ':latest' ? 'RELEASED' : v.versionState,
    };
    const title = this.titleOf(v);
    if (title) xattrs.title = title;
    const ctx: VariantContext = { client: this.client, meta: this.meta, immutable, datasetPid: datasetPid(ds) };
    return this.folderDir(async () => (await tree()).get('')!, mtime, xattrs, ctx);
  }

  private folderDir(folder: () => Promise<Folder>, mtime: Date, xattrs: Record<string, string>, ctx: VariantContext): DirNode {
    return {
      kind: 'dir',
      mtime,
      xattrs,
      children: async () => (await folder()).files,
      hidden: async (name) => {
        const at = name.lastIndexOf('@');
        if (at <= 0) return undefined;
        const entry = (await folder()).byName.get(name.slice(0, at));
        return entry ? variantNode(ctx, entry.fm, entry.node, name.slice(at + 1)) : undefined;
      },
      variantNames: async () => {
        const names: string[] = [];
        for (const [name, { fm }] of (await folder()).byName) for (const v of variantNames(fm)) names.push(`${name}@${v}`);
        return names;
      },
    };
  }

  /** Every folder of a version, keyed by path ('' is the version itself), built from the file list. */
  private async buildVersion(
    ds: DatasetInfo,
    v: VersionInfo,
    spec: string,
    mtime: Date,
    immutable: boolean,
  ): Promise<Map<string, Folder>> {
    const files = await this.client.versionFiles(ds.id, spec);
    const ctx: VariantContext = { client: this.client, meta: this.meta, immutable, datasetPid: datasetPid(ds) };
    const folders = new Map<string, Folder>();
    const folderAt = (path: string): Folder => {
      let f = folders.get(path);
      if (f) return f;
      f = { files: new Map(), byName: new Map() };
      folders.set(path, f);
      if (path !== '') {
        const slash = path.lastIndexOf('/');
        const self = f;
        folderAt(slash < 0 ? '' : path.slice(0, slash)).files.set(
          path.slice(slash + 1),
          this.folderDir(async () => self, mtime, { type: 'folder', path }, ctx),
        );
      }
      return f;
    };
    const dirOf = (fm: FileMetadataInfo) => (fm.directoryLabel ?? '').split('/').filter(Boolean).join('/');
    folderAt('');
    for (const fm of files) folderAt(dirOf(fm)); // folders first: a file never shadows a folder
    for (const fm of files) {
      const folder = folderAt(dirOf(fm));
      const node = serverFileNode(datasetPid(ds), v.versionState, fm, mtime, this.opts.tabular);
      let name = displayName(fm, this.opts.tabular);
      if (folder.files.has(name) || name === '.' || name === '..') name = `${name} (file ${fm.dataFile.id})`; // names never collide
      folder.files.set(name, node);
      folder.byName.set(name, { node, fm });
    }
    for (const [path, folder] of folders) sortFolder(folder, `${ds.id}:${spec}:${path}`);
    return folders;
  }
}
