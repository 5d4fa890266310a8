// What a path in the mount is.
import type { FileSource } from '../cache/types.js';
import type { FolderPosition } from '../cache/folder-readahead.js';

interface Common {
  mtime: Date;
  /** user.dataverse.* extended attributes (names without the prefix). */
  xattrs: Record<string, string>;
  /** Set on a draft folder and everything in it: where the write path takes over. */
  draft?: DraftRef;
}

/** A path of a dataset's draft, as the write path (src/write/) knows it. */
export interface DraftRef {
  datasetId: number;
  /** Relative to the draft folder ("a/b/f.txt"; "" is the draft folder itself). */
  path: string;
  /** The token may edit the dataset (otherwise writes are EACCES; outside a draft they are EROFS). */
  editable: boolean;
  /** A file whose bytes are local (staged, not uploaded yet): read through the writer. */
  local?: boolean;
}

export interface DirNode extends Common {
  kind: 'dir';
  /** Children by name (loaded on demand, cached by the namespace). */
  children(): Promise<Map<string, Node>>;
  /** One child by name, without building the others (large draft folders). */
  child?(name: string): Promise<Node | undefined>;
  /** The node as it is now (a draft folder's mtime changes); undefined when it is gone. */
  fresh?(): Promise<DirNode | undefined>;
  /** Variant entries reachable by name but not listed (see names.ts VARIANT_MARK). */
  hidden?(name: string): Promise<Node | undefined>;
  /** Names of those variant entries, for --show-variants. */
  variantNames?(): Promise<string[]>;
}

export interface FileNode extends Common {
  kind: 'file';
  size: number;
  /** Read through the block cache by ranges. */
  source?: FileSource;
  /** Small generated content (variants of unknown size), held in memory. */
  content?: Buffer;
  /** Restricted on the server: opening needs DownloadFile. */
  restricted: boolean;
  /** Its place among the files of its folder (for read-ahead across files). */
  folder?: FolderPosition;
}

export interface LinkNode extends Common {
  kind: 'link';
  target: string;
}

export type Node = DirNode | FileNode | LinkNode;
