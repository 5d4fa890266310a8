// Metadata cache: API answers kept in memory. Immutable things (published
// versions' file lists, collection aliases) are kept until evicted; mutable
// ones (collection contents, version lists, drafts) live for a TTL.
// Concurrent lookups of one key share one request (lru-cache fetch).
import { LRUCache } from 'lru-cache';

export interface MetadataCacheOptions {
  /** Lifetime of mutable entries. */
  ttlMs: number;
  /** Most entries kept. */
  max?: number;
}

type Loader = () => Promise<unknown>;

interface Context {
  load: Loader;
}

export class MetadataCache {
  private readonly cache: LRUCache<string, { value: unknown }, Context>;
  private readonly ttlMs: number;
  /** Keys that never expire (published, immutable). */
  private readonly immutable = new Set<string>();

  constructor(opts: MetadataCacheOptions) {
    this.ttlMs = opts.ttlMs;
    this.cache = new LRUCache<string, { value: unknown }, Context>({
      max: opts.max ?? 20_000,
      ttlAutopurge: false,
      allowStale: false,
      fetchMethod: async (_key, _stale, { context }) => ({ value: await context.load() }),
    });
  }

  /**
   * The cached value of `key`, loading it with `load` on a miss. `immutable`
   * entries never expire; others expire after the TTL.
   */
  async get<T>(key: string, load: () => Promise<T>, immutable = false): Promise<T> {
    const ttl = immutable ? 0 : this.ttlMs;
    if (immutable) this.immutable.add(key);
    const entry = await this.cache.fetch(key, { context: { load }, ttl });
    return entry!.value as T;
  }

  /** Forget one entry (after a change made through the mount). */
  forget(key: string): void {
    this.cache.delete(key);
  }

  /** Forget every mutable entry (`dvfs refresh`, SIGHUP). Published data stays. */
  refresh(): void {
    for (const key of [...this.cache.keys()]) if (!this.immutable.has(key)) this.cache.delete(key);
  }
}
