// The namespace: what each path of the mount is (design.md "The namespace").
//   /<collection alias>/…/<dataset folder>/<version>/<directoryLabel…>/<file>
// Listings come from the JSON API through the metadata cache; published
// versions are immutable and cached for good, the rest for a TTL.
import type { DataverseClient } from '../dataverse/client.js';
import type { CollectionInfo, DatasetInfo, FileMetadataInfo, VersionInfo } from '../dataverse/types.js';
import type { MetadataCache } from '../cache/metadata-cache.js';
import { notDir, notFound } from './errors.js';
import { datasetFolderName, DRAFT, isPid, LATEST, versionFolderName } from './names.js';
import type { DirNode, FileNode, Node } from './nodes.js';
import type { FileSource } from '../cache/types.js';
import { variantNames, variantNode, type VariantContext } from './variants.js';

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

  constructor(
    private readonly client: DataverseClient,
    private readonly meta: MetadataCache,
    private readonly opts: NamespaceOptions,
  ) {}

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
      let next: Node | undefined = (await dir.children()).get(part);
      if (!next && dir.hidden) next = await dir.hidden(part);
      if (!next) throw notFound(path);
      node = next;
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
        this.meta.get(`contents:${c.id}`, async () => {
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
        this.meta.get(`dataset:${ds.id}`, async () => {
          const [versions, perms] = await Promise.all([
            this.client.versions(ds.id),
            this.opts.guest ? Promise.resolve({ canEditDataset: false }) : this.client.userPermissions(ds.id).catch(() => ({ canEditDataset: false })),
          ]);
          const map = new Map<string, Node>();
          let newest: { name: string; n: number } | undefined;
          let draft: VersionInfo | undefined;
          for (const v of versions) {
            if (v.versionState === 'DRAFT') draft = v;
            if (v.versionState !== 'RELEASED') continue;
            const name = versionFolderName(v.versionNumber ?? 0, v.versionMinorNumber ?? 0);
            map.set(name, this.versionDir(ds, v, name, true));
            const n = (v.versionNumber ?? 0) * 1e6 + (v.versionMinorNumber ?? 0);
            if (!newest || n > newest.n) newest = { name, n };
          }
          if (draft) {
            map.set(DRAFT, this.versionDir(ds, draft, ':draft', false));
          } else if (perms.canEditDataset && newest) {
            // Where the token may edit, `draft` exists already; until the server has one it shows the latest version.
            const base = versions.find((v) => versionFolderName(v.versionNumber ?? 0, v.versionMinorNumber ?? 0) === newest!.name)!;
            map.set(DRAFT, this.versionDir(ds, base, ':latest', false));
          }
          const latest = draft ? DRAFT : newest?.name;
          if (latest) map.set(LATEST, { kind: 'link', target: latest, mtime: dateOf(ds.publicationDate), xattrs: {} });
          return map;
        }),
    };
  }

  private titleOf(v: VersionInfo): string | undefined {
    const f = v.metadataBlocks?.citation?.fields.find((x) => x.typeName === 'title');
    return typeof f?.value === 'string' ? f.value : undefined;
  }

  // --- versions and their folders ---

  private versionDir(ds: DatasetInfo, v: VersionInfo, spec: string, immutable: boolean): DirNode {
    const mtime = dateOf(v.releaseTime ?? v.lastUpdateTime);
    const tree = () => this.meta.get(`files:${ds.id}:${spec}`, () => this.buildVersion(ds, v, spec, mtime, immutable), immutable);
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
      const node = this.fileNode(ds, v, fm, mtime);
      let name = this.displayName(fm);
      if (folder.files.has(name) || name === '.' || name === '..') name = `${name} (file ${fm.dataFile.id})`; // names never collide
      folder.files.set(name, node);
      folder.byName.set(name, { node, fm });
    }
    for (const [path, folder] of folders) sortFolder(folder, `${ds.id}:${spec}:${path}`);
    return folders;
  }

  private isTabular(fm: FileMetadataInfo): boolean {
    return fm.dataFile.tabularData === true || fm.dataFile.originalFileFormat !== undefined;
  }

  private displayName(fm: FileMetadataInfo): string {
    if (this.isTabular(fm) && this.opts.tabular === 'original' && fm.dataFile.originalFileName) return fm.dataFile.originalFileName;
    return fm.label;
  }

  private fileNode(ds: DatasetInfo, v: VersionInfo, fm: FileMetadataInfo, mtime: Date): FileNode {
    const df = fm.dataFile;
    const tabular = this.isTabular(fm);
    let query = '';
    let size = df.filesize;
    let checksum = df.checksum ?? (df.md5 ? { type: 'MD5' as const, value: df.md5 } : undefined);
    if (tabular && this.opts.tabular === 'original') {
      query = 'format=original';
      size = df.originalFileSize ?? df.filesize;
    } else if (tabular) {
      query = 'noVarHeader=true'; // the stored .tab: exactly `filesize` bytes
      checksum = undefined; // the checksum is the original's
    }
    const xattrs: Record<string, string> = {
      type: 'file',
      id: String(df.id),
      dataset_pid: datasetPid(ds),
      label: fm.label,
      content_type: df.contentType,
      description: fm.description ?? '',
      restricted: String(fm.restricted),
      version_state: v.versionState,
    };
    if (df.persistentId) xattrs.pid = df.persistentId;
    if (fm.directoryLabel) xattrs.directory = fm.directoryLabel;
    if (df.checksum) xattrs.checksum = `${df.checksum.type}:${df.checksum.value}`;
    if (fm.categories?.length) xattrs.categories = fm.categories.join(',');
    if (tabular) {
      if (df.originalFileFormat) xattrs.original_format = df.originalFileFormat;
      if (df.UNF) xattrs.unf = df.UNF;
    }
    return {
      kind: 'file',
      size,
      mtime,
      restricted: fm.restricted,
      xattrs,
      source: { fileId: df.id, query, size, checksum, cacheKey: `${df.id}-${query || 'raw'}-${checksum?.value ?? size}` },
    };
  }
}

