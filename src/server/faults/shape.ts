// Shaping of one response body: a bandwidth cap shared by every response on
// the same connection (token bucket per socket), stalls, and a connection
// close after N body bytes.
import { Transform, type TransformCallback } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Per-connection bucket state: the time (ms) at which the bytes sent so far are paid for. */
interface Bucket {
  paidUntil: number;
}
const buckets = new WeakMap<Socket, Bucket>();

/** How far (ms) a connection may run ahead of its rate, so late timers do not lose throughput. */
const BURST_MS = 50;
/** How far ahead of its schedule a body may send before it sleeps. */
const AHEAD_MS = 10;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface Stall {
  afterBytes: number;
  ms: number;
}

export interface ShapeOptions {
  res: ServerResponse;
  /** The current cap in bytes/s (read for every piece, so a change applies at once); undefined = none. */
  rate: () => number | undefined;
  /** Close the connection once this many body bytes have gone out and more would follow. */
  resetAfterBytes?: number;
  stalls: Stall[];
}

export class ShapedBody extends Transform {
  private sent = 0;
  private readonly stalls: Stall[];

  constructor(private readonly opts: ShapeOptions) {
    super({ highWaterMark: 1 << 20 });
    this.stalls = [...opts.stalls].sort((a, b) => a.afterBytes - b.afterBytes);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pass(chunk).then(
      (goOn) => {
        if (goOn) cb();
      },
      (e: Error) => cb(e),
    );
  }

  /** Push `chunk` in pieces, honouring stalls, the reset point and the rate; false once the connection is being closed. */
  private async pass(chunk: Buffer): Promise<boolean> {
    let off = 0;
    while (off < chunk.length) {
      if (this.destroyed) return false;
      let n = chunk.length - off;
      const stall = this.stalls[0];
      if (stall && stall.afterBytes <= this.sent) {
        this.stalls.shift();
        await sleep(stall.ms);
        continue;
      }
      if (stall) n = Math.min(n, stall.afterBytes - this.sent);
      const reset = this.opts.resetAfterBytes;
      if (reset !== undefined) {
        if (this.sent >= reset) {
          this.closeConnection();
          return false;
        }
        n = Math.min(n, reset - this.sent);
      }
      const rate = this.opts.rate();
      if (rate !== undefined && rate > 0) {
        n = Math.min(n, Math.max(1, Math.min(65536, Math.floor(rate / 50))));
        const wait = this.reserve(n, rate);
        // Sleep only when well ahead: short timers overshoot and would cost throughput.
        if (wait > AHEAD_MS) await sleep(wait);
        if (this.destroyed) return false;
      }
      this.push(chunk.subarray(off, off + n));
      off += n;
      this.sent += n;
    }
    return true;
  }

  /** Book `n` bytes on this connection's bucket; returns how long to wait before sending them. */
  private reserve(n: number, rate: number): number {
    const socket = this.opts.res.socket;
    const now = performance.now();
    let bucket = socket ? buckets.get(socket) : undefined;
    if (!bucket) {
      bucket = { paidUntil: now };
      if (socket) buckets.set(socket, bucket);
    }
    const burst = Math.max(BURST_MS, ((n / rate) * 1000));
    const start = Math.max(bucket.paidUntil, now - burst);
    bucket.paidUntil = start + (n / rate) * 1000;
    return start - now;
  }

  /** Let the bytes already pushed reach the kernel, then close the socket (the client sees a cut body). */
  private closeConnection(): void {
    const { res } = this.opts;
    const deadline = Date.now() + 5000;
    const check = () => {
      const socket = res.socket;
      const pending = this.readableLength + res.writableLength + (socket?.writableLength ?? 0);
      if (socket && !socket.destroyed && pending > 0 && Date.now() < deadline) {
        setTimeout(check, 1).unref();
        return;
      }
      socket?.destroy();
      this.destroy();
    };
    check();
  }
}
