// Open file handles of the mount: readers of server bytes (block cache, or
// small generated content) and handles of the write path.
import type { FileReader } from '../cache/types.js';
import type { FileNode } from '../tree/nodes.js';

export type Handle =
  | { kind: 'read'; node: FileNode; reader?: FileReader }
  /** A DraftWriter handle: local bytes, or a file open for writing. */
  | { kind: 'draft'; writerHandle: number; write: boolean; path: string };

export class Handles {
  private readonly map = new Map<number, Handle>();
  private next = 1;

  add(h: Handle): number {
    const fd = this.next++;
    this.map.set(fd, h);
    return fd;
  }

  get(fd: number): Handle | undefined {
    return this.map.get(fd);
  }

  delete(fd: number): void {
    this.map.delete(fd);
  }
}
