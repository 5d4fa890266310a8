// The global budget for prefetched bytes (in flight or downloaded and not yet
// read). Prefetch asks before it fetches and backs off when the budget is
// spent; demand reads never ask. `blocked` can hold prefetch back for another
// reason (blocks waiting for a slow disk).
export class MemoryBudget {
  used = 0;
  /** Readers currently holding prefetched bytes (for a fair share each). */
  holders = 0;

  constructor(
    readonly limit: number,
    private readonly blocked: () => boolean = () => false,
  ) {}

  /** Take `n` bytes if they fit. */
  tryAcquire(n: number): boolean {
    if (this.used + n > this.limit || this.blocked()) return false;
    this.used += n;
    return true;
  }

  /** Take `n` bytes whether they fit or not (a reader's minimum, so it always progresses). */
  force(n: number): void {
    this.used += n;
  }

  release(n: number): void {
    this.used -= n;
    if (this.used < 0) this.used = 0;
  }

  /** What one prefetching reader may hold when `holders` share the budget. */
  fairShare(): number {
    return Math.floor(this.limit / Math.max(1, this.holders));
  }
}
