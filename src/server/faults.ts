// Fault injection and shaping (stub; the faults work package fills this in).
import type { Readable } from 'node:stream';
import type { Shaping } from './config.js';
import type { Ctx } from './http.js';
import type { RequestLog } from './request-log.js';

export class Faults implements Shaping {
  constructor(private readonly requestLog: RequestLog) {}
  set(settings: Record<string, unknown>): void {
    void settings;
  }
  async beforeRequest(ctx: Ctx): Promise<boolean> {
    void ctx;
    void this.requestLog;
    return false;
  }
  wrapBody(ctx: Ctx, body: Readable): Readable {
    void ctx;
    return body;
  }
  ignoreRange(): boolean {
    return false;
  }
  redirectDownloads(): boolean {
    return false;
  }
}
