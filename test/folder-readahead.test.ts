// Read-ahead across files: window logic, with a fake cache counting fetches.
import { describe, expect, it } from 'vitest';
import { FolderReadahead } from '../src/cache/folder-readahead.js';
import type { FileSource } from '../src/cache/types.js';

function setup(sizes: number[]) {
  const fetched: number[] = [];
  const files: FileSource[] = sizes.map((size, i) => ({ fileId: i, query: '', size, cacheKey: `k${i}` }));
  const ra = new FolderReadahead({
    open: (src) => ({
      read: async () => {
        fetched.push(src.fileId);
        return Buffer.alloc(0);
      },
      close: () => {},
    }),
  });
  const open = (index: number) => ra.opened({ key: 'f', files, index });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { fetched, open, settle };
}

describe('folder read-ahead', () => {
  it('fetches nothing on a first open or on random opens', async () => {
    const { fetched, open, settle } = setup(Array(100).fill(10));
    open(50);
    open(10);
    open(70);
    await settle();
    expect(fetched).toEqual([]);
  });

  it('reads ahead once opens go in order, with a growing window, each file once', async () => {
    const { fetched, open, settle } = setup(Array(100).fill(10));
    open(0);
    open(1);
    await settle();
    expect(fetched).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    open(2);
    await settle();
    expect(fetched.slice(8)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(new Set(fetched).size).toBe(fetched.length);
  });

  it('skips large and empty files (they have their own prefetch)', async () => {
    const { fetched, open, settle } = setup([10, 10, 5 * 1024 * 1024, 0, 10, 10]);
    open(0);
    open(1);
    await settle();
    expect(fetched).toEqual([4, 5]);
  });
});
