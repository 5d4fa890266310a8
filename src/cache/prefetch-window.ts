// Sequential detection and prefetch window of one open file (mountpoint-s3's
// scheme, in whole blocks). Pure logic, no I/O: the reader asks what to
// prefetch after each read and says how much it could afford.
//
// - A read at offset 0 starts a sequential stream; elsewhere, the first read
//   (and the first after a seek) fetches only its own blocks: random access
//   (SQLite pages, a Parquet footer) costs one block per miss.
// - A read that continues the previous ones (within `tolerance` bytes back or
//   forward, or anywhere up to what is already requested: the kernel's
//   readahead reorders its 128 KiB requests) keeps the stream going; the
//   first forward continuation starts the window at `initialBytes`.
// - Each time the window is topped up it doubles, up to `maxBlocks`; it is
//   topped up once at least a part's worth (or half the window) is free, so
//   requests go out in part-sized pieces.
// - Any other read is a seek: the window resets.

export interface WindowOptions {
  blockSize: number;
  blockCount: number;
  /** First prefetch, counted from the read's start (mountpoint-s3: 1 MiB + 128 KiB). */
  initialBytes: number;
  /** Largest window, in blocks. */
  maxBlocks: number;
  /** Largest range request, in blocks. */
  partBlocks: number;
  /** Out-of-order distance still counted as sequential, in bytes. */
  tolerance: number;
}

export interface ReadPlan {
  /** The read is not a continuation: what was prefetched is of no use now. */
  seek: boolean;
  /** Blocks to prefetch: [from, to) (empty when from >= to). */
  from: number;
  to: number;
}

export class PrefetchWindow {
  /** End of the furthest read so far (-1: no read yet). */
  private maxEnd = -1;
  private sequential = false;
  /** Current window (blocks ahead of the block being read). */
  window = 0;
  private toppedUp = 0;
  /** First block not yet requested by prefetch. */
  frontier = 0;

  constructor(private readonly o: WindowOptions) {}

  /** Called for each read [offset, end); `cap` limits the window (the reader's share of the memory budget), in blocks. */
  onRead(offset: number, end: number, cap: number): ReadPlan {
    const { blockSize, tolerance } = this.o;
    const last = Math.floor((end - 1) / blockSize);
    let seek = false;
    if (this.maxEnd < 0) {
      if (offset === 0) this.start(offset, last);
    } else if (offset >= this.maxEnd - tolerance && offset <= Math.max(this.maxEnd + tolerance, this.frontier * blockSize)) {
      // A random reader going back a little (pages near each other) is not a stream yet.
      if (!this.sequential) {
        if (offset < this.maxEnd - 128 * 1024) {
          this.maxEnd = Math.max(this.maxEnd, end);
          return { seek, from: 0, to: 0 };
        }
        this.start(offset, last);
      }
    } else {
      seek = true;
      this.sequential = false;
      this.window = 0;
      this.frontier = last + 1;
      this.maxEnd = end;
      return { seek, from: 0, to: 0 };
    }
    this.maxEnd = Math.max(this.maxEnd, end);
    if (!this.sequential) return { seek, from: 0, to: 0 };
    this.frontier = Math.max(this.frontier, last + 1);
    const w = Math.max(1, Math.min(this.window, cap));
    const step = Math.min(this.o.partBlocks, Math.max(1, Math.floor(w / 2)));
    const ahead = this.frontier - (last + 1);
    if (ahead > w - step) return { seek, from: 0, to: 0 };
    if (this.toppedUp++ > 0) this.window = Math.min(this.window * 2, this.o.maxBlocks);
    const to = Math.min(last + 1 + Math.max(1, Math.min(this.window, cap)), this.o.blockCount);
    const from = this.frontier;
    if (from >= to) return { seek, from: 0, to: 0 };
    this.frontier = to;
    return { seek, from, to };
  }

  /** Prefetch could only afford blocks up to `to` (exclusive): the rest is asked again later. */
  granted(to: number): void {
    this.frontier = Math.min(this.frontier, to);
  }

  private start(offset: number, last: number): void {
    this.sequential = true;
    this.toppedUp = 0;
    const lastInitial = Math.floor((offset + this.o.initialBytes - 1) / this.o.blockSize);
    this.window = Math.max(1, lastInitial - last);
    this.frontier = last + 1;
  }
}
