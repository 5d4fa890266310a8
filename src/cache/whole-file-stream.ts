// Old servers (Dataverse before 5.12) answer a Range request with 200 and the
// whole file, so every block fetch would download from byte 0: reading a file
// block by block would cost O(size²). Instead such a file is read in one pass
// from byte 0 that fills every block it passes (blocks already on disk are
// skipped without copying), and readers wait for their blocks to go by.
import type { DataverseClient } from '../dataverse/client.js';
import type { FileState } from './file-state.js';

export interface WholeFileHooks {
  /** Whether block i is worth assembling (someone waits for it, or it is not on disk). */
  wanted(index: number): boolean;
  arrived(index: number, data: Buffer): void;
  /** The stream failed or stopped: blocks from `from` on will not come from it. */
  failed(from: number, e: unknown): void;
  /** Too many bytes are waiting for the disk: pause the download until they are written. */
  waitForDisk(): Promise<void> | undefined;
  counters: { bytesDownloaded: number };
}

export class StreamStoppedError extends Error {
  constructor() {
    super('the whole-file download was stopped (no reader left)');
  }
}

export class WholeFileStream {
  /** Index of the block being passed. */
  private next = 0;
  /** Whether the block being passed is copied (false: its bytes are skipped). */
  private assembling = false;
  private stopped = false;
  /** True while the current block has not received a byte yet (it can still be assembled). */
  private blockStartPending = true;

  constructor(
    private readonly f: FileState,
    private readonly client: DataverseClient,
    private readonly hooks: WholeFileHooks,
  ) {}

  /** Whether block i will still be delivered by this stream. */
  willPass(index: number): boolean {
    if (this.stopped) return false;
    return index > this.next || (index === this.next && (this.assembling || this.blockStartPending));
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const { f, hooks } = this;
    let cur: Buffer | undefined;
    let filled = 0;
    try {
      await this.client.streamRange({ fileId: f.source.fileId, query: f.source.query, start: 0, end: f.source.size }, async (chunk) => {
        if (this.stopped || f.readers === 0) {
          this.stopped = true;
          return false;
        }
        hooks.counters.bytesDownloaded += chunk.length;
        for (let off = 0; off < chunk.length; ) {
          const len = f.blockLength(this.next);
          if (this.blockStartPending) {
            this.blockStartPending = false;
            this.assembling = hooks.wanted(this.next);
            if (this.assembling) cur = Buffer.allocUnsafe(len);
            filled = 0;
          }
          const n = Math.min(chunk.length - off, len - filled);
          if (cur) chunk.copy(cur, filled, off, off + n);
          filled += n;
          off += n;
          if (filled === len) {
            if (cur) hooks.arrived(this.next, cur);
            cur = undefined;
            this.next++;
            this.blockStartPending = true;
            this.assembling = false;
          }
        }
        await hooks.waitForDisk();
      });
      if (this.stopped) hooks.failed(this.next, new StreamStoppedError());
    } catch (e) {
      this.stopped = true;
      hooks.failed(this.next, e);
    }
  }
}
