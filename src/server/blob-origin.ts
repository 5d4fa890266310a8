// The separate blob origin of redirect mode (stub; the faults work package fills this in).
import type { ServerConfig } from './config.js';
import type { Faults } from './faults.js';
import type { RequestLog } from './request-log.js';
import type { Store } from './store.js';

export class BlobOrigin {
  constructor(
    private readonly store: Store,
    private readonly config: ServerConfig,
    private readonly faults: Faults,
    private readonly requestLog: RequestLog,
  ) {}
  async listen(host: string): Promise<string> {
    void [this.store, this.config, this.faults, this.requestLog, host];
    return '';
  }
  async close(): Promise<void> {}
}
