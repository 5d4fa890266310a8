// The add of a big new file, started while the file is still being written
// front to back: the request's body follows the staged file as it grows
// (only bytes whose write into the staging area has completed are sent), and
// its jsonData part goes last, when the executor finishes the upload after
// the last close (name, folder and description are decided then). Anything
// else that happens to the file meanwhile (a write out of order, a second
// writer, a truncate, an unlink, a failed write, a pause, an unmount) aborts
// it: the server stores nothing from a body cut short, and the file is
// uploaded the usual way after its close.
import { open } from 'node:fs/promises';
import { readPiece, StagedFileChanged, streamedUpload, type MultipartUpload } from '../dataverse/upload-body.js';
import type { FileMetadataInfo } from '../dataverse/types.js';
import { OCTET_STREAM } from './plan.js';

/** Default size a file written front to back must reach to be streamed (small files never are). */
export const STREAM_MIN_BYTES = 64 << 20;
/** A streamed file not written to for this long (still open) is uploaded the usual way after its close. */
const IDLE_MS = 30_000;
const READ_SIZE = 1 << 20;

/** finish() found the stream stopped before any of its end was sent: nothing was stored, upload the usual way. */
export class StreamStopped extends Error {}

export interface StreamedAddOptions {
  /** The staged file. */
  file: string;
  /** The part's file name (the server derives the type from it). */
  partName: string;
  /** Send the add with this body; resolves with the server's answer. */
  send: (form: MultipartUpload) => Promise<FileMetadataInfo[]>;
  log: (line: string) => void;
  /** Where, for log lines. */
  where: string;
  /** The request starts once this many bytes are written (default STREAM_MIN_BYTES). */
  minBytes?: number;
  /** Streams that may hold a connection at once, shared by every streamed add of the mount. */
  slots: StreamSlots;
}

/**
 * A count of the streamed requests on the wire: each holds one of the
 * connections that reads and listings share, from its start until its answer
 * (which may wait behind other uploads of the dataset), so only a few may run.
 */
export class StreamSlots {
  private used = 0;
  constructor(private readonly max: number) {}
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  give(): void {
    this.used--;
  }
}

export class StreamedAdd {
  /** Next byte a sequential write must start at. */
  private next = 0;
  /** Bytes [0, durable) are in the staged file. */
  private durable = 0;
  /** Completed writes past `durable` (start → end): write-behind finishes them in any order. */
  private readonly ahead = new Map<number, number>();
  /** Bytes [0, sent) went into the body. */
  private sent = 0;
  private readonly controller = new AbortController();
  private answer?: Promise<FileMetadataInfo[]>;
  private size?: number;
  private json?: (text: string) => void;
  private wake?: () => void;
  private stopped?: string;
  /** The server's early answer, when it refused the request before finish() (its Retry-After is honoured). */
  private refusal?: unknown;
  private lastWrite = Date.now();
  private idleTimer?: NodeJS.Timeout;

  constructor(private readonly o: StreamedAddOptions) {}

  get partName(): string {
    return this.o.partName;
  }

  /** The request is on its way and nothing went wrong so far. */
  get started(): boolean {
    return this.answer !== undefined && this.stopped === undefined;
  }

  /** A write of `n` bytes at `position` is about to go to the staged file; false (and aborted) unless it is the next one. */
  accept(position: number, n: number): boolean {
    if (this.stopped !== undefined) return false;
    if (position !== this.next || this.size !== undefined) {
      this.abort(`a write at ${position} (not ${this.next})`);
      return false;
    }
    this.next += n;
    return true;
  }

  /** A write accepted before has reached the staged file. */
  written(position: number, n: number): void {
    if (this.stopped !== undefined) return;
    this.lastWrite = Date.now();
    if (position !== this.durable) {
      this.ahead.set(position, position + n);
      return;
    }
    this.durable += n;
    for (let end = this.ahead.get(this.durable); end !== undefined; end = this.ahead.get(this.durable)) {
      this.ahead.delete(this.durable);
      this.durable = end;
    }
    if (!this.answer && this.durable >= (this.o.minBytes ?? STREAM_MIN_BYTES) && this.o.slots.take()) this.start();
    if (this.durable - this.sent >= READ_SIZE) this.wake?.();
  }

  /**
   * The file is complete at `size` bytes: send the rest of it and `jsonData`,
   * and resolve with the server's answer. Fails when the stream was aborted
   * or does not hold exactly those bytes (the caller then uploads the usual way).
   */
  finish(size: number, jsonData: string): Promise<FileMetadataInfo[]> {
    if (this.stopped === undefined && this.answer && (size !== this.next || size !== this.durable)) {
      this.abort(`the file has ${size} bytes, ${this.durable} of them written in order`);
    }
    if (this.stopped !== undefined || !this.answer) {
      return Promise.reject(new StreamStopped(`the streamed upload stopped: ${this.stopped ?? 'not started'}`, { cause: this.refusal }));
    }
    this.size = size;
    clearInterval(this.idleTimer);
    this.json?.(jsonData);
    this.wake?.();
    return this.answer;
  }

  /** The last writer closed the file: it is complete, and waits for finish() however long the uploads before it take. */
  closed(): void {
    clearInterval(this.idleTimer);
  }

  /**
   * The staged file changes (opened for writing again, truncated) while
   * finish() sends its rest: cut the request unless every byte of the file
   * is out already (then the server has the bytes whose MD5 was journaled,
   * and the change is sent the usual way after). The request then fails
   * with StagedFileChanged, as a usual upload of a file that changed does.
   */
  cut(why: string): void {
    if (this.size === undefined) return this.abort(why);
    if (this.stopped !== undefined || this.sent === this.size) return;
    this.stopped = why;
    this.controller.abort(new StagedFileChanged(why));
    this.wake?.();
  }

  /** Stop for good (the server stores nothing); a no-op once finish() was called. */
  abort(why: string): void {
    if (this.stopped !== undefined || this.size !== undefined) return;
    this.stopped = why;
    clearInterval(this.idleTimer);
    this.ahead.clear();
    if (this.answer) {
      this.o.log(`streamed upload of ${this.o.where} stopped (${why}); it is uploaded after its close`);
      this.controller.abort(new Error(`streamed upload stopped: ${why}`));
      this.wake?.();
    }
  }

  private start(): void {
    const json = new Promise<string>((resolve) => (this.json = resolve));
    this.answer = this.o.send(streamedUpload(this.o.partName, OCTET_STREAM, this.bytes(), json, this.controller.signal));
    void this.answer.then(
      () => this.o.slots.give(),
      () => this.o.slots.give(),
    );
    // An answer before finish() (an early refusal, a reset) ends the stream; finish() hands the error over.
    this.answer.catch((e: unknown) => {
      this.refusal ??= e;
      this.abort(`the request failed: ${(e as Error).message}`);
    });
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastWrite > IDLE_MS) this.abort(`no write for ${IDLE_MS / 1000} s`);
    }, IDLE_MS / 4);
    this.idleTimer.unref();
    this.o.log(`streaming the upload of ${this.o.where} while it is written`);
  }

  /**
   * The staged file's bytes, as far as they are written, until finish() says
   * where it ends. One buffer for every read (a new buffer per MiB made the
   * garbage collector run a full collection every few MiB): safe because
   * every piece but the last is a whole MiB (see readPiece).
   */
  private async *bytes(): AsyncGenerator<Buffer> {
    const fh = await open(this.o.file, 'r');
    const buf = Buffer.allocUnsafeSlow(READ_SIZE);
    try {
      for (;;) {
        if (this.stopped !== undefined) throw new Error(`streamed upload stopped: ${this.stopped}`);
        const ready = this.durable - this.sent;
        // Whole MiB pieces while the file grows (fewer reads), the rest at the end.
        if (ready >= READ_SIZE || (ready > 0 && this.size !== undefined)) {
          const want = Math.min(READ_SIZE, ready);
          const piece = await readPiece(fh, buf, want, this.sent);
          if (piece.length < want) throw new Error(`${this.o.file} is shorter than ${this.durable} bytes`);
          this.sent += piece.length;
          yield piece;
          continue;
        }
        if (this.size !== undefined && this.sent === this.size) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      await fh.close();
    }
  }
}
