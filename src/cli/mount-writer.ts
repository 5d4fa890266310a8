// The write path of a mount: one DraftWriter per mount, its state (journal
// and staged files) in the per-server cache folder, locked against a second
// mount, copy-on-write through the block cache, and the unmount that waits
// for the uploads.
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { BlockCache } from '../cache/block-cache.js';
import type { DataverseClient } from '../dataverse/client.js';
import type { Namespace } from '../tree/namespace.js';
import { fileSource } from '../tree/file-nodes.js';
import { FsError } from '../tree/errors.js';
import { DEFAULT_JUNK, DraftWriter, type BaseFile, type RecoverReport, type SyncResult } from '../write/index.js';
import { formatSize } from './sizes.js';
import { lockDir, type StateLock } from './state-lock.js';

export interface WriterSetup {
  client: DataverseClient;
  ns: Namespace;
  cache: BlockCache;
  /** The per-server cache folder; the write state goes to its `write/` folder. */
  serverDir: string;
  mountpoint: string;
  quietMs: number;
  streamFromBytes?: number;
  tabular: 'original' | 'archival';
  /** More names that stay local and are never uploaded (globs: * and ?). */
  localOnly: string[];
  log: (line: string) => void;
}

export interface MountWriter {
  writer: DraftWriter;
  lock: StateLock;
  recovered: RecoverReport;
  stateDir: string;
}

/** A file-name glob (`*`, `?`) as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

const COPY_CHUNK = 8 << 20;

/** Copy-on-write source: a server file's bytes as the mount shows them, through the block cache (which checks the checksum). */
async function copyThroughCache(cache: BlockCache, base: BaseFile, dest: string): Promise<void> {
  const reader = cache.open(fileSource(base.fileId, base.query ?? '', base.size, base.checksum));
  const fh = await open(dest, 'r+');
  try {
    for (let pos = 0; pos < base.size; ) {
      const data = await reader.read(pos, Math.min(COPY_CHUNK, base.size - pos));
      if (data.length === 0) throw new FsError('EIO', `file ${base.fileId} ended at ${pos} of ${base.size} bytes`);
      await fh.write(data, 0, data.length, pos);
      pos += data.length;
    }
    await fh.datasync();
  } finally {
    reader.close();
    await fh.close();
  }
}

/** Take the write state's lock, open the journal and start finishing what it holds. */
export async function openWriter(s: WriterSetup): Promise<MountWriter> {
  const stateDir = path.join(s.serverDir, 'write');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock = await lockDir(stateDir, `dvfs mount (at ${s.mountpoint})`, 'the write journal', 'unmount it first, or give this mount its own --cache-dir');
  try {
    const writer = new DraftWriter({
      client: s.client,
      stateDir,
      quietMs: s.quietMs,
      streamFromBytes: s.streamFromBytes,
      junk: [...DEFAULT_JUNK, ...s.localOnly.map(globToRegExp)],
      tabular: s.tabular,
      log: s.log,
      serverFiles: (id) => s.ns.draftFiles(id),
      onChange: (id) => s.ns.draftChanged(id),
      download: (base, dest) => copyThroughCache(s.cache, base, dest),
    });
    const recovered = await writer.recover();
    return { writer, lock, recovered, stateDir };
  } catch (e) {
    await lock.release();
    throw e;
  }
}

/**
 * Unmount's wait: upload everything pending, with a progress line on stderr
 * every few seconds. `force` (a second Ctrl-C, `dvfs unmount --force`)
 * stops waiting: what is left stays in the journal for the next mount.
 */
export async function closeWriter(
  writer: DraftWriter,
  force: { requested(): boolean; promise: Promise<void> },
  log: (line: string) => void,
): Promise<{ result: SyncResult; forced: boolean }> {
  // Forced from the start (dvfs unmount --force): nothing is sent, not even what is due.
  if (force.requested()) return { result: await writer.close({ waitForUploads: false }), forced: true };
  let forced = false;
  const ticker = setInterval(() => {
    const s = writer.status();
    const left = s.pending.filter((i) => i.state !== 'failed' && i.op !== 'local' && i.op !== 'folder');
    if (left.length) {
      log(`waiting for ${left.length} change(s) to reach the server (${formatSize(s.bytesPending)} to upload); Ctrl-C again or 'dvfs unmount --force' leaves them in the journal for the next mount`);
    }
  }, 3000);
  try {
    const waiting = writer.close();
    const result = await Promise.race([
      waiting,
      force.promise.then(async () => {
        forced = true;
        return writer.close({ waitForUploads: false });
      }),
    ]);
    return { result, forced };
  } finally {
    clearInterval(ticker);
  }
}
