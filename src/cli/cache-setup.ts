// Builds the block cache for a mount. (Temporary: direct range reads until the block cache lands.)
import type { DataverseClient } from '../dataverse/client.js';
import type { FileReader, FileSource } from '../cache/types.js';

export interface CacheSetup {
  dir: string;
  maxBytes: number;
  client: DataverseClient;
  log: (line: string) => void;
}

export async function openBlockCache(setup: CacheSetup) {
  return {
    open(source: FileSource): FileReader {
      return {
        read: (offset, length) =>
          setup.client.readRange({ fileId: source.fileId, query: source.query, start: offset, end: Math.min(source.size, offset + length) }),
        close: () => {},
      };
    },
    async close() {},
  };
}
