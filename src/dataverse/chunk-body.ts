// A response body fed straight by undici's dispatch handler, for GETs. An
// undici `request()` body is a Readable: each 64 KiB chunk passes through the
// stream machinery (buffering, nextTicks, events) and cost 0.65–1.9 s of CPU
// per GiB here, on a 2-core machine where CPU is what limits a cold read. A
// dispatch handler costs 0.30 s per GiB (a raw socket 0.35). This body keeps
// the part of the Readable interface dvfs uses — on/off/once for 'data',
// 'end' and 'error', pause/resume, destroy, dump, text and async iteration —
// with the same order of events, and back-pressure through the dispatch
// controller: chunks that arrive while paused wait in a queue and the socket
// is paused until the queue is drained.
import type { Dispatcher } from 'undici';

type DataListener = (chunk: Buffer) => void;

/** dump() reads at most this much of a body to keep its connection (undici's own dump reads 128 KiB). */
const DUMP_LIMIT = 128 * 1024;
type EndListener = () => void;
type ErrorListener = (err: Error) => void;

export class ChunkBody {
  private controller?: Dispatcher.DispatchController;
  private readonly queue: Buffer[] = [];
  private readonly dataListeners: DataListener[] = [];
  private endListeners: EndListener[] = [];
  private errorListeners: ErrorListener[] = [];
  /** 'data' listeners were added at least once (like a Readable, the body flows from then on). */
  private flowing = false;
  private paused = false;
  private ended = false;
  private error?: Error;
  private finished = false;
  private destroyed = false;
  private drainScheduled = false;

  // --- fed by the dispatch handler ---

  /** @internal */
  attach(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Nobody reads yet: hold the socket until a reader comes.
    if (!this.flowing || this.paused) controller.pause();
  }

  /** @internal */
  push(chunk: Buffer): void {
    // llhttp resumed after a pause can hand over an empty piece: passing it on would make an
    // async consumer pause again at once, and pause/resume would then spin without reading.
    if (this.destroyed || chunk.length === 0) return;
    if (this.flowing && !this.paused && this.queue.length === 0 && this.dataListeners.length > 0) {
      this.emitData(chunk);
      return;
    }
    this.queue.push(chunk);
    this.controller?.pause();
  }

  /** @internal */
  end(): void {
    this.ended = true;
    this.maybeFinish();
  }

  /** @internal */
  fail(err: Error): void {
    if (this.destroyed || this.finished) return;
    this.error = err;
    this.maybeFinish();
  }

  // --- the Readable-like side ---

  on(event: 'data', fn: DataListener): this;
  on(event: 'end', fn: EndListener): this;
  on(event: 'error', fn: ErrorListener): this;
  on(event: string, fn: (...args: never[]) => void): this {
    if (event === 'data') {
      this.dataListeners.push(fn as DataListener);
      if (!this.flowing) {
        this.flowing = true;
        // Like a Readable: data starts on a later tick, so 'end'/'error' listeners added right after are in place.
        this.scheduleDrain();
      }
    } else if (event === 'end') this.endListeners.push(fn as EndListener);
    else if (event === 'error') {
      this.errorListeners.push(fn as ErrorListener);
      // An error that came before anyone listened is reported to the first listener.
      if (this.error && !this.finished) this.scheduleDrain();
    }
    return this;
  }

  once(event: 'end', fn: EndListener): this;
  once(event: 'error', fn: ErrorListener): this;
  once(event: 'end' | 'error', fn: EndListener | ErrorListener): this {
    // 'end' and 'error' happen at most once.
    return event === 'end' ? this.on('end', fn as EndListener) : this.on('error', fn as ErrorListener);
  }

  off(event: string, fn: (...args: never[]) => void): this {
    const list: unknown[] = event === 'data' ? this.dataListeners : event === 'end' ? this.endListeners : this.errorListeners;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  pause(): this {
    this.paused = true;
    this.controller?.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.scheduleDrain();
    return this;
  }

  /** Stop the download and drop what is queued; no event follows. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    if (!this.finished && !this.ended && !this.error) this.controller?.abort(new Error('response body destroyed'));
    this.finished = true;
  }

  /** Throw the rest away: a short rest is read, so the connection is kept for the next request; a long one closes it. */
  async dump(): Promise<void> {
    if (this.destroyed || this.finished) return;
    let n = 0;
    await new Promise<void>((resolve) => {
      this.on('data', (c) => {
        n += c.length;
        if (n <= DUMP_LIMIT) return;
        this.destroy();
        resolve();
      });
      this.once('end', resolve);
      this.once('error', () => resolve());
    });
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const ready: Buffer[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: Error | undefined;
    const onData = (c: Buffer) => {
      ready.push(c);
      this.pause(); // one chunk at a time: the loop asks for the next
      wake?.();
    };
    this.on('data', onData);
    this.once('end', () => {
      done = true;
      wake?.();
    });
    this.once('error', (e) => {
      failure = e;
      wake?.();
    });
    try {
      for (;;) {
        if (ready.length > 0) {
          yield ready.shift()!;
          continue;
        }
        if (failure) throw failure;
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
          this.resume();
        });
        wake = undefined;
      }
    } finally {
      this.off('data', onData);
      if (!done) this.destroy();
    }
  }

  // --- internals ---

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    process.nextTick(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.destroyed) return;
    if (this.error || !this.flowing) return this.maybeFinish();
    while (!this.paused && this.queue.length > 0 && this.dataListeners.length > 0 && !this.destroyed) this.emitData(this.queue.shift()!);
    if (this.destroyed) return;
    if (!this.paused && this.queue.length === 0) {
      this.controller?.resume();
      this.maybeFinish();
    }
  }

  private emitData(chunk: Buffer): void {
    const listeners = this.dataListeners;
    // Once per 64 KiB chunk: no copy of the list in the usual case of one listener.
    if (listeners.length === 1) listeners[0](chunk);
    else for (const fn of listeners.slice()) fn(chunk);
  }

  private maybeFinish(): void {
    if (this.finished || this.destroyed) return;
    if (this.error) {
      // An error is reported at once (a Readable does too), whatever is still queued; it waits for a listener.
      if (this.errorListeners.length === 0) return;
      this.finished = true;
      this.queue.length = 0;
      const listeners = this.errorListeners;
      this.errorListeners = [];
      for (const fn of listeners) fn(this.error);
      return;
    }
    if (!this.ended || this.queue.length > 0 || !this.flowing || this.paused) return;
    this.finished = true;
    const listeners = this.endListeners;
    this.endListeners = [];
    for (const fn of listeners) fn();
  }
}

/**
 * A GET through `dispatcher.dispatch`: resolves with the status and headers,
 * and a ChunkBody that delivers the payload.
 */
export function dispatchGet(
  dispatcher: Dispatcher,
  opts: Dispatcher.DispatchOptions,
): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: ChunkBody }> {
  return new Promise((resolve, reject) => {
    const body = new ChunkBody();
    let started = false;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return; // 1xx informational: the real answer follows
        started = true;
        body.attach(controller);
        resolve({ statusCode, headers: headers as Record<string, string | string[] | undefined>, body });
      },
      onResponseData(_controller, chunk) {
        body.push(chunk);
      },
      onResponseEnd() {
        body.end();
      },
      onResponseError(_controller, err) {
        if (started) body.fail(err);
        else reject(err);
      },
    };
    try {
      dispatcher.dispatch(opts, handler);
    } catch (e) {
      reject(e);
    }
  });
}
