// A writable draft folder: the server's listing of the draft with the write
// path's local state laid over it (src/write mergeDraft), so new, renamed and
// deleted files show at once, before anything is uploaded. The merged tree is
// rebuilt only when the listing or the local state changed.
import type { FileMetadataInfo, VersionState } from '../dataverse/types.js';
import type { FileSource } from '../cache/types.js';
import { mergeDraft, type DraftOverlay, type DraftView, type ViewFile } from '../write/index.js';
import { serverFileNode, type TabularView } from './file-nodes.js';
import type { DirNode, DraftRef, FileNode, Node } from './nodes.js';
import { variantNames, variantNode, type VariantContext } from './variants.js';

/** The write path as the namespace sees it (a DraftWriter). */
export interface DraftSource {
  overlay(datasetId: number): DraftOverlay;
  /** Changes whenever what overlay() returns may have changed. */
  readonly version: number;
}

export interface DraftTreeContext {
  datasetId: number;
  datasetPid: string;
  editable: boolean;
  /** The draft's server listing (the namespace's cached copy). */
  files(): Promise<FileMetadataInfo[]>;
  source: DraftSource;
  tabular: TabularView;
  /** State of the version the listing is of (DRAFT, or RELEASED before the first edit). */
  versionState: VersionState;
  /** mtime of folders and files that have none remembered. */
  mtime: Date;
  variants: VariantContext;
}

type Item = { file: ViewFile } | { dir: string };

interface Built {
  files: FileMetadataInfo[];
  version: number;
  view: DraftView;
  /** Folder path → its entries by name. */
  folders: Map<string, Map<string, Item>>;
  /** Server files of a folder in byte order of names, for read-ahead across files (made when first needed). */
  positions: Map<string, { files: FileSource[]; index: Map<string, number> }>;
}

function splitPath(p: string): { dir: string; name: string } {
  const slash = p.lastIndexOf('/');
  return slash < 0 ? { dir: '', name: p } : { dir: p.slice(0, slash), name: p.slice(slash + 1) };
}

export class DraftTree {
  private built?: Built;

  constructor(private readonly c: DraftTreeContext) {}

  /** The draft folder itself. */
  root(xattrs: Record<string, string>): DirNode {
    return this.dirNode('', this.c.mtime, xattrs);
  }

  private async current(): Promise<Built> {
    const files = await this.c.files();
    const version = this.c.source.version;
    const b = this.built;
    if (b && b.files === files && b.version === version) return b;
    const view = mergeDraft(files, this.c.source.overlay(this.c.datasetId), this.c.tabular);
    const folders = new Map<string, Map<string, Item>>();
    for (const d of view.dirs.keys()) folders.set(d, new Map());
    for (const d of view.dirs.keys()) {
      if (d === '') continue;
      const { dir, name } = splitPath(d);
      folders.get(dir)?.set(name, { dir: d });
    }
    for (const f of view.files.values()) {
      const { dir, name } = splitPath(f.path);
      const folder = folders.get(dir);
      if (!folder) continue;
      // A folder wins over a file of the same name (possible on the server only); the file gets a distinct name.
      const shown = folder.has(name) ? `${name} (${f.fm ? `file ${f.fm.dataFile.id}` : 'local'})` : name;
      folder.set(shown, { file: f });
    }
    const next: Built = { files, version, view, folders, positions: new Map() };
    this.built = next;
    return next;
  }

  private ref(path: string, local?: boolean): DraftRef {
    return { datasetId: this.c.datasetId, path, editable: this.c.editable, ...(local ? { local: true } : {}) };
  }

  private node(b: Built, folder: string, name: string, item: Item): Node {
    if ('dir' in item) return this.dirNode(item.dir, b.view.dirs.get(item.dir)?.mtime ?? this.c.mtime);
    const node = this.fileNode(item.file);
    if (node.source) {
      const pos = this.positions(b, folder);
      const index = pos.index.get(name);
      if (index !== undefined) node.folder = { key: `${this.c.datasetId}:draft:${b.version}:${folder}`, files: pos.files, index };
    }
    return node;
  }

  private positions(b: Built, folder: string): { files: FileSource[]; index: Map<string, number> } {
    let pos = b.positions.get(folder);
    if (pos) return pos;
    const names = [...(b.folders.get(folder) ?? [])]
      .filter(([, item]) => 'file' in item && item.file.fm !== undefined)
      .sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0));
    pos = { files: [], index: new Map() };
    for (const [name, item] of names) {
      pos.index.set(name, pos.files.length);
      pos.files.push(this.fileNode((item as { file: ViewFile }).file).source!);
    }
    b.positions.set(folder, pos);
    return pos;
  }

  private fileNode(f: ViewFile): FileNode {
    const l = f.local;
    if (!l) {
      const node = serverFileNode(this.c.datasetPid, this.c.versionState, f.fm!, f.mtime ?? this.c.mtime, this.c.tabular);
      node.draft = this.ref(f.path);
      return node;
    }
    const { dir, name } = splitPath(f.path);
    const xattrs: Record<string, string> = {
      type: 'file',
      dataset_pid: this.c.datasetPid,
      label: name,
      description: l.meta.description,
      restricted: String(l.meta.restricted),
      version_state: 'DRAFT',
      // Where the local bytes are in the write path: writing, waiting (quiet period), queued, uploading, failed.
      upload_state: l.junk ? 'local-only' : l.state,
    };
    if (dir) xattrs.directory = dir;
    if (l.meta.categories.length) xattrs.categories = l.meta.categories.join(',');
    if (l.replaces !== undefined) xattrs.id = String(l.replaces);
    // The bytes are local: readable whatever the server's restriction will be.
    return { kind: 'file', size: l.size, mtime: l.mtime, restricted: false, xattrs, draft: this.ref(f.path, true) };
  }

  private dirNode(path: string, mtime: Date, xattrs?: Record<string, string>): DirNode {
    const folder = async () => (await this.current()).folders.get(path);
    return {
      kind: 'dir',
      mtime,
      xattrs: xattrs ?? { type: 'folder', path },
      draft: this.ref(path),
      // The draft folder's own mtime can change (utimens): resolve() asks for it again.
      fresh: async () => {
        const b = await this.current();
        if (!b.view.dirs.has(path)) return undefined;
        return this.dirNode(path, b.view.dirs.get(path)?.mtime ?? this.c.mtime, xattrs);
      },
      children: async () => {
        const b = await this.current();
        const map = new Map<string, Node>();
        for (const [name, item] of b.folders.get(path) ?? []) map.set(name, this.node(b, path, name, item));
        return map;
      },
      child: async (name) => {
        const b = await this.current();
        const item = b.folders.get(path)?.get(name);
        return item ? this.node(b, path, name, item) : undefined;
      },
      hidden: async (name) => {
        const at = name.lastIndexOf('@');
        if (at <= 0) return undefined;
        const item = (await folder())?.get(name.slice(0, at));
        if (!item || 'dir' in item || !item.file.fm) return undefined;
        return variantNode(this.c.variants, item.file.fm, this.fileNode(item.file), name.slice(at + 1));
      },
      variantNames: async () => {
        const names: string[] = [];
        for (const [name, item] of (await folder()) ?? []) {
          if ('file' in item && item.file.fm) for (const v of variantNames(item.file.fm)) names.push(`${name}@${v}`);
        }
        return names;
      },
    };
  }
}
