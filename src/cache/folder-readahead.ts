// Read-ahead across files: when the files of one folder are opened in order
// (rsync, cp -r, tar), fetch the next small files in parallel so each open
// does not cost a round trip. Like byte prefetch, the window starts at zero,
// grows while opens stay in order and resets on a jump; once it is large it
// is topped up when half of it is used, so files are asked for in batches.
// Where the cache can (BlockCache.fetchMany), a batch is one zip request
// (zip-fetch.ts) instead of a request per file. Listing a folder (ls -lR,
// find) opens nothing and so downloads nothing.
import PQueue from 'p-queue';
import { LRUCache } from 'lru-cache';
import type { FileReader, FileSource } from './types.js';

export interface ReaderSource {
  open(source: FileSource): FileReader;
  /** Download several small files of one dataset in one request (else: one by one). */
  fetchMany?(sources: readonly FileSource[]): Promise<void>;
}

export interface FolderReadaheadOptions {
  /** Only files up to this size are read ahead (large files have their own prefetch). */
  maxFileBytes?: number;
  /** Parallel downloads of single files. */
  concurrency?: number;
  /** Parallel zip requests (each holds its batch twice while it is unpacked). */
  zipConcurrency?: number;
  /** Largest number of files ahead. */
  maxWindow?: number;
  /** Most files in one fetchMany batch. */
  batchFiles?: number;
}

/**
 * Most bytes in one fetchMany batch (far below any server's :ZipDownloadLimit).
 * With the zip concurrency this bounds the memory read-ahead takes: a batch
 * is held twice while it is unpacked, then written to the cache, and rsync
 * of a folder of 600 KB files peaked at 330 MiB RSS with 16 parallel zips of
 * 8 MiB.
 */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Variant queries a zip request takes as well: the plain file, and a table's original (format=original). */
const ZIP_QUERIES = new Set(['', 'format=original']);

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
  private readonly zipQueue: PQueue;
  private readonly folders = new LRUCache<string, FolderState>({ max: 256 });
  private readonly maxFileBytes: number;
  private readonly maxWindow: number;
  private readonly batchFiles: number;

  constructor(
    private readonly cache: ReaderSource,
    opts: FolderReadaheadOptions = {},
  ) {
    this.queue = new PQueue({ concurrency: opts.concurrency ?? 16 });
    this.zipQueue = new PQueue({ concurrency: opts.zipConcurrency ?? 4 });
    this.maxFileBytes = opts.maxFileBytes ?? 1024 * 1024;
    this.maxWindow = opts.maxWindow ?? 256;
    this.batchFiles = opts.batchFiles ?? 64;
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
    const from = Math.max(st.queuedUpTo, pos.index + 1);
    // Top up when at most half the window is left ahead, so batches are not one file each.
    if (from - pos.index - 1 > st.window / 2) return;
    const end = Math.min(pos.files.length, pos.index + 1 + st.window);
    const wanted = pos.files.slice(from, end).filter((s) => s.size > 0 && s.size <= this.maxFileBytes);
    st.queuedUpTo = Math.max(st.queuedUpTo, end);
    // Files a zip can carry go in batches of one request each (per variant query); the others one by one.
    const zippable = new Map<string, FileSource[]>();
    for (const src of wanted) {
      if (!this.cache.fetchMany || !src.checksum || !ZIP_QUERIES.has(src.query)) {
        void this.queue.add(() => this.fetch(src));
        continue;
      }
      const list = zippable.get(src.query) ?? [];
      list.push(src);
      zippable.set(src.query, list);
    }
    for (const files of zippable.values()) {
      for (const batch of this.batches(files)) void this.zipQueue.add(() => this.cache.fetchMany!(batch).catch(() => undefined));
    }
  }

  /** `files` cut into batches of at most batchFiles files and BATCH_BYTES bytes. */
  private batches(files: FileSource[]): FileSource[][] {
    const out: FileSource[][] = [];
    let bytes = 0;
    for (const src of files) {
      const last = out[out.length - 1];
      if (last && last.length < this.batchFiles && bytes + src.size <= BATCH_BYTES) {
        last.push(src);
        bytes += src.size;
      } else {
        out.push([src]);
        bytes = src.size;
      }
    }
    return out;
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
    this.zipQueue.clear();
  }
}
