// Builds the block cache of a mount (one per server, under the cache dir).
import type { DataverseClient } from '../dataverse/client.js';
import { BlockCache } from '../cache/block-cache.js';

export interface CacheSetup {
  dir: string;
  maxBytes: number;
  client: DataverseClient;
  log: (line: string) => void;
}

export function openBlockCache(setup: CacheSetup): Promise<BlockCache> {
  return BlockCache.create({ dir: setup.dir, maxBytes: setup.maxBytes, client: setup.client, log: setup.log });
}
