// What all open readers of one file variant share: its identity, its block
// geometry, and who is verifying its checksum.
import type { FileSource } from './types.js';

export class FileState {
  readonly blockCount: number;
  /** Open readers of this file (the store stops an old-server stream when none is left). */
  readers = 0;
  /** A reader is hashing a whole sequential pass (others need not); settles when the pass ends either way. */
  verifying?: Promise<void>;
  /** The whole-file check of a file that failed its checksum (one at a time). */
  recheck?: Promise<void>;
  /** Prefetched blocks its readers hold: holders per block (the memory budget is charged once per block). */
  readonly held = new Map<number, number>();
  /** Called by purge: readers drop what they prefetched. */
  readonly onPurge = new Set<() => void>();

  constructor(
    readonly source: FileSource,
    /** SHA-256 of the cache key (disk entry name). */
    readonly hash: string,
    readonly blockSize: number,
  ) {
    this.blockCount = Math.ceil(source.size / blockSize);
  }

  blockLength(index: number): number {
    return Math.min(this.blockSize, this.source.size - index * this.blockSize);
  }

  /** Block id, unique across files: `<hash>/<index>`. */
  id(index: number): string {
    return `${this.hash}/${index}`;
  }
}
