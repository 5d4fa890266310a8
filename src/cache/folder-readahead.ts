// Read-ahead across files: when the files of one folder are opened in order
// (rsync, cp -r, tar), fetch the next small files in parallel so each open
// does not cost a round trip. Like byte prefetch, the window starts at zero,
// grows while opens stay in order and resets on a jump. Listing a folder
// (ls -lR, find) opens nothing and so downloads nothing.
import PQueue from 'p-queue';
import { LRUCache } from 'lru-cache';
import type { FileReader, FileSource } from './types.js';

export interface ReaderSource {
  open(source: FileSource): FileReader;
}

export interface FolderReadaheadOptions {
  /** Only files up to this size are read ahead (large files have their own prefetch). */
  maxFileBytes?: number;
  /** Parallel downloads. */
  concurrency?: number;
  /** Largest number of files ahead. */
  maxWindow?: number;
}

interface FolderState {
  last: number;
  window: number;
  /** Files before this index were already queued. */
  queuedUpTo: number;
}

/** Where an opened file sits among its folder's files, in listing order. */
export interface FolderPosition {
  key: string;
  files: readonly FileSource[];
  index: number;
}

export class FolderReadahead {
  private readonly queue: PQueue;
  private readonly folders = new LRUCache<string, FolderState>({ max: 256 });
  private readonly maxFileBytes: number;
  private readonly maxWindow: number;

  constructor(
    private readonly cache: ReaderSource,
    opts: FolderReadaheadOptions = {},
  ) {
    this.queue = new PQueue({ concurrency: opts.concurrency ?? 16 });
    this.maxFileBytes = opts.maxFileBytes ?? 1024 * 1024;
    this.maxWindow = opts.maxWindow ?? 256;
  }

  opened(pos: FolderPosition): void {
    const st = this.folders.get(pos.key);
    if (!st) {
      this.folders.set(pos.key, { last: pos.index, window: 0, queuedUpTo: pos.index + 1 });
      return;
    }
    const inOrder = pos.index > st.last && pos.index - st.last <= 4;
    st.window = inOrder ? Math.min(this.maxWindow, Math.max(8, st.window * 2)) : 0;
    st.last = pos.index;
    if (!inOrder) st.queuedUpTo = pos.index + 1;
    const end = Math.min(pos.files.length, pos.index + 1 + st.window);
    for (let i = Math.max(st.queuedUpTo, pos.index + 1); i < end; i++) {
      const src = pos.files[i];
      if (src.size > 0 && src.size <= this.maxFileBytes) void this.queue.add(() => this.fetch(src));
    }
    st.queuedUpTo = Math.max(st.queuedUpTo, end);
  }

  private async fetch(src: FileSource): Promise<void> {
    const reader = this.cache.open(src);
    try {
      await reader.read(0, src.size);
    } catch {
      // A hint only: the real open reports any error.
    } finally {
      reader.close();
    }
  }

  clear(): void {
    this.queue.clear();
  }
}
