// Whole-file checksum of one reader's sequential pass. The blocks are hashed
// in order as the reader's delivered bytes cover them; the kernel's
// readahead reorders 128 KiB requests a little, so delivered ranges beyond
// the contiguous prefix are remembered (a few of them) until the gap fills.
// A pass that jumps away is abandoned: only a read of every byte from 0 to
// EOF is checked.
import type { FileState } from './file-state.js';
import type { HashJob } from './hash-service.js';

/** Out-of-order reads further than this from the prefix end the pass. */
const MAX_GAP = 4 * 1024 * 1024;
/** More separate ranges beyond the prefix than this: the reader is not sequential. */
const MAX_RANGES = 32;
/** Blocks kept for hashing while a gap fills (they are held in memory). */
const MAX_BLOCKS = 8;

export type PassState = 'going' | 'abandoned' | 'complete';

export class VerifyPass {
  private prefix = 0;
  private readonly ranges: [number, number][] = [];
  private nextBlock = 0;
  private readonly pending = new Map<number, Buffer>();
  state: PassState = 'going';

  constructor(
    private readonly f: FileState,
    readonly job: HashJob,
  ) {}

  /**
   * A read delivered bytes [offset, end) taken from `blocks` (index → data).
   * Returns the new state and, when the hash queue is full, a promise to wait on.
   */
  delivered(offset: number, end: number, blocks: Map<number, Buffer>): { state: PassState; wait?: Promise<void> } {
    if (this.state !== 'going') return { state: this.state };
    if (end <= this.prefix) return { state: 'going' };
    if (offset > this.prefix + MAX_GAP) return { state: this.abandon() };
    for (const [i, data] of blocks) if (i >= this.nextBlock) this.pending.set(i, data);
    this.addRange(Math.max(offset, this.prefix), end);
    if (this.ranges.length > MAX_RANGES || this.pending.size > MAX_BLOCKS) return { state: this.abandon() };
    const { size } = this.f.source;
    let wait: Promise<void> | undefined;
    while (this.nextBlock < this.f.blockCount && this.prefix >= Math.min(size, (this.nextBlock + 1) * this.f.blockSize)) {
      const data = this.pending.get(this.nextBlock);
      if (!data) return { state: this.abandon() };
      this.pending.delete(this.nextBlock);
      this.nextBlock++;
      wait = this.job.update(data) ?? wait;
    }
    if (this.prefix >= size) this.state = 'complete';
    return { state: this.state, wait };
  }

  abandon(): PassState {
    if (this.state === 'going') {
      this.state = 'abandoned';
      this.job.abort();
      this.pending.clear();
    }
    return this.state;
  }

  private addRange(s: number, e: number): void {
    const r = this.ranges;
    r.push([s, e]);
    r.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const x of r) {
      const top = merged[merged.length - 1];
      if (top && x[0] <= top[1]) top[1] = Math.max(top[1], x[1]);
      else merged.push([x[0], x[1]]);
    }
    r.length = 0;
    for (const x of merged) {
      if (x[0] <= this.prefix) this.prefix = Math.max(this.prefix, x[1]);
      else r.push(x);
    }
  }
}
