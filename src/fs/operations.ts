// FUSE operations (fuse-native): each one translates to the layers below and
// answers with a number. No business logic here (design.md, fs/). Reads of
// server bytes go through the block cache; everything that changes a draft
// (and reads of bytes not uploaded yet) goes to the write path (write-ops.ts).
import type { Namespace } from '../tree/namespace.js';
import type { Node } from '../tree/nodes.js';
import type { FileReader, FileSource } from '../cache/types.js';
import type { FolderPosition } from '../cache/folder-readahead.js';
import type { DraftWriter } from '../write/index.js';
import { FsError, readOnly } from '../tree/errors.js';
import { answer, type Cb } from './callback.js';
import { describe, ERRNO, errnoName, toErrno } from './errno.js';
import { Handles } from './handles.js';
import { makeWriteOps } from './write-ops.js';

export interface ReaderFactory {
  open(source: FileSource): FileReader;
  /** Added to a file's mtime in ms, so the kernel drops its cached pages after a checksum mismatch (BlockCache). */
  checksumChanges(cacheKey: string): number;
}

export interface OperationsDeps {
  ns: Namespace;
  cache: ReaderFactory;
  /** Checks that the caller may read a restricted file (a 1-byte request to the server). */
  probeAccess(source: FileSource): Promise<void>;
  /** Told of every open, to read the next small files of a folder ahead. */
  readahead?: { opened(pos: FolderPosition): void };
  /** The write path; without it (--read-only, guests) every change is EROFS. */
  writer?: DraftWriter;
  log: (line: string) => void;
}

const XATTR_PREFIX = 'user.dataverse.';
/** st_blksize: tools like cat size their reads by it. */
const BLKSIZE = 1 << 20;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const W_OK = 2;

export function makeOperations(deps: OperationsDeps) {
  const { ns, cache, log } = deps;
  const handles = new Handles();
  const writes = deps.writer ? makeWriteOps({ ns, writer: deps.writer, handles, log }) : undefined;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const run = (op: string, path: string, cb: Cb, fn: () => Promise<unknown[] | void>, quiet: 'ENOENT' | 'EROFS' = 'ENOENT') =>
    answer(log, op, path, cb, fn, op === 'getxattr' ? [quiet, 'ENODATA'] : [quiet]);

  function stat(node: Node) {
    const base = { uid, gid, mtime: node.mtime, atime: node.mtime, ctime: node.mtime, blksize: BLKSIZE };
    const writable = node.draft?.editable === true;
    if (node.kind === 'dir') return { ...base, mode: writable ? 0o040755 : 0o040555, size: 4096, nlink: 2, blocks: 8 };
    if (node.kind === 'link') return { ...base, mode: 0o120777, size: Buffer.byteLength(node.target), nlink: 1 };
    const shift = node.source ? cache.checksumChanges(node.source.cacheKey) : 0;
    if (shift) base.mtime = base.atime = base.ctime = new Date(node.mtime.getTime() + shift);
    return { ...base, mode: writable ? 0o100644 : 0o100444, size: node.size, nlink: 1, blocks: Math.ceil(node.size / 512) };
  }

  const refuse = (op: string) => (path: string, ...args: unknown[]) => {
    const cb = args[args.length - 1] as Cb;
    run(op, path, cb, async () => {
      throw readOnly(path, 'this mount is read-only');
    }, 'EROFS');
  };

  const readOps = {
    init(cb: Cb) {
      cb(0);
    },
    getattr(path: string, cb: Cb) {
      run('getattr', path, cb, async () => [stat(await ns.resolve(path))]);
    },
    readdir(path: string, cb: Cb) {
      // '.' and '..' as every file system lists them (ls -a; libfuse's high-level API does not add them).
      run('readdir', path, cb, async () => [['.', '..', ...(await ns.list(path))]]);
    },
    readlink(path: string, cb: Cb) {
      run('readlink', path, cb, async () => {
        const node = await ns.resolve(path);
        if (node.kind !== 'link') throw new FsError('EINVAL', 'not a symbolic link');
        return [node.target];
      });
    },
    access(path: string, mode: number, cb: Cb) {
      run('access', path, cb, async () => {
        const node = await ns.resolve(path);
        if (!(mode & W_OK)) return;
        if (!writes) throw readOnly(path, 'this mount is read-only');
        await writes.checkWrite(path, node);
      }, 'EROFS');
    },
    open(path: string, flags: number, cb: Cb) {
      run('open', path, cb, async () => {
        const node = await ns.resolve(path);
        if (node.kind === 'dir') throw new FsError('EISDIR', 'is a folder');
        if (node.kind !== 'file') throw new FsError('EINVAL', 'not a file');
        if ((flags & O_ACCMODE) !== 0 || flags & O_TRUNC) {
          if (!writes) throw readOnly(path, 'this mount is read-only');
          return [await writes.openForWrite(path, node, (flags & O_TRUNC) !== 0)];
        }
        if (node.draft?.local && writes) return [await writes.openLocal(path, node.draft)];
        if (node.restricted && node.source) await deps.probeAccess(node.source);
        if (node.folder) deps.readahead?.opened(node.folder);
        return [handles.add({ kind: 'read', node, reader: node.source && node.size > 0 ? cache.open(node.source) : undefined })];
      }, 'EROFS');
    },
    read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const h = handles.get(fd);
      if (!h) return cb(-ERRNO.EBADF);
      if (h.kind === 'draft') return writes!.read(path, fd, buf, len, pos, cb);
      if (pos >= h.node.size || len === 0) return cb(0);
      const n = Math.min(len, h.node.size - pos);
      if (h.node.content) {
        h.node.content.copy(buf, 0, pos, pos + n);
        return cb(n);
      }
      h.reader!.read(pos, n).then(
        (data) => {
          data.copy(buf, 0, 0, data.length);
          cb(data.length);
        },
        (e: unknown) => {
          log(`read ${path} @${pos}+${n}: ${errnoName(e)}: ${describe(e)}`);
          cb(toErrno(e));
        },
      );
    },
    release(path: string, fd: number, cb: Cb) {
      const h = handles.get(fd);
      if (h?.kind === 'draft') return writes!.release(path, fd, cb);
      h?.reader?.close();
      handles.delete(fd);
      cb(0);
    },
    flush(path: string, fd: number, cb: Cb) {
      // Draft files: written bytes reach the staging area (the upload starts after the last close and a quiet period).
      if (writes) return writes.flush(path, fd, cb);
      cb(0);
    },
    fsync(path: string, datasync: number, fd: number, cb: Cb) {
      if (writes) return writes.fsync(path, datasync, fd, cb);
      cb(0);
    },
    statfs(path: string, cb: Cb) {
      // Values pass through a Uint32Array: keep them below 2^32 with a large block size.
      cb(0, { bsize: BLKSIZE, frsize: BLKSIZE, blocks: 2 ** 30, bfree: 2 ** 30, bavail: 2 ** 30, files: 1e9, ffree: 1e9, favail: 1e9, fsid: 0x64766673, flag: 0, namemax: 255 });
    },
    getxattr(path: string, name: string, position: number, cb: Cb) {
      run('getxattr', path, cb, async () => {
        const node = await ns.resolve(path);
        const value = name.startsWith(XATTR_PREFIX) ? node.xattrs[name.slice(XATTR_PREFIX.length)] : undefined;
        if (value === undefined) throw new FsError('ENODATA', `no attribute ${name}`);
        return [Buffer.from(value)];
      });
    },
    listxattr(path: string, cb: Cb) {
      run('listxattr', path, cb, async () => {
        const node = await ns.resolve(path);
        return [Object.keys(node.xattrs).map((k) => XATTR_PREFIX + k)];
      });
    },
    link: refuse('link'),
    symlink: refuse('symlink'),
    mknod: refuse('mknod'),
  };

  if (!writes) {
    return {
      ...readOps,
      create: refuse('create'),
      write: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => cb(-ERRNO.EROFS),
      truncate: refuse('truncate'),
      ftruncate: refuse('ftruncate'),
      mkdir: refuse('mkdir'),
      rmdir: refuse('rmdir'),
      unlink: refuse('unlink'),
      rename: refuse('rename'),
      chmod: refuse('chmod'),
      chown: refuse('chown'),
      utimens: refuse('utimens'),
      setxattr: refuse('setxattr'),
      removexattr: refuse('removexattr'),
    };
  }
  return {
    ...readOps,
    create: writes.create,
    write: writes.write,
    truncate: writes.truncate,
    ftruncate: writes.ftruncate,
    mkdir: writes.mkdir,
    rmdir: writes.rmdir,
    unlink: writes.unlink,
    rename: writes.rename,
    chmod: writes.chmod,
    chown: writes.chown,
    utimens: writes.utimens,
    setxattr: writes.setxattr,
    removexattr: writes.removexattr,
  };
}
