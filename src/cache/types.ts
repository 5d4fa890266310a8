// The contract between the cache layer and its callers (tree/ and fs/).

import type { Checksum } from '../dataverse/types.js';

/** What the cache needs to know to read one file variant. */
export interface FileSource {
  /** DataFile id: bytes of an id (and variant) never change. */
  fileId: number;
  /** Access API variant query without '?', e.g. 'format=original' or '' for the default. */
  query: string;
  /** Exact size of the bytes this variant returns. */
  size: number;
  /** Checksum of exactly these bytes, when the server gives one (checked after a whole-file read). */
  checksum?: Checksum;
  /**
   * Stable cache identity: file id + variant + checksum (or size when there
   * is no checksum). Blocks stored under it are valid forever.
   */
  cacheKey: string;
}

/** One open file handle's view of a file: sequential detection and prefetch live here. */
export interface FileReader {
  /** Exactly `length` bytes from `offset` (fewer only at end of file). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Release prefetch buffers and pins. */
  close(): void;
}

export interface CacheStats {
  /** Bytes of blocks on disk. */
  diskBytes: number;
  diskBlocks: number;
  /** Bytes of blocks held in memory (ready or in flight). */
  memoryBytes: number;
  hits: number;
  misses: number;
  /** HTTP range requests issued by the cache. */
  rangeRequests: number;
  bytesDownloaded: number;
  evictions: number;
  /** Blocks served without being cached because the disk was behind the network. */
  writesSkipped?: number;
}
