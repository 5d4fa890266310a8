// FUSE operations that change a draft, translated to the write path
// (src/write DraftWriter, one call each). What may be written is decided here
// from the node: inside an editable draft → the writer; a draft the token may
// not edit → EACCES; anything else (published versions, collections,
// dataset folders) → EROFS. Across datasets → EXDEV.
import path from 'node:path';
import type { DraftWriter, FileMeta } from '../write/index.js';
import type { Namespace } from '../tree/namespace.js';
import type { DraftRef, Node } from '../tree/nodes.js';
import { FsError, readOnly } from '../tree/errors.js';
import { answer, type Cb } from './callback.js';
import { ERRNO } from './errno.js';
import type { Handles } from './handles.js';

export interface WriteOpsDeps {
  ns: Namespace;
  writer: DraftWriter;
  handles: Handles;
  log: (line: string) => void;
}

const XATTR_PREFIX = 'user.dataverse.';
/** A utimens time the caller left unchanged (UTIME_OMIT, see the fuse-native patch). */
const OMIT = 2 ** 53;

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** The draft reference of a node that may be changed, or the errno why not. */
export function writableRef(node: Node, p: string): DraftRef {
  if (!node.draft) throw readOnly(p, node.kind === 'dir' && node.xattrs.type === 'version' ? 'published versions are read-only' : 'only the draft folder of a dataset is writable');
  if (!node.draft.editable) throw new FsError('EACCES', `${p}: this token may not edit the dataset`);
  return node.draft;
}

/** The metadata a `user.dataverse.*` attribute sets (undefined value: removexattr). */
function metaPatch(name: string, value: string | undefined): FileMeta {
  switch (name.startsWith(XATTR_PREFIX) ? name.slice(XATTR_PREFIX.length) : '') {
    case 'description':
      return { description: value ?? '' };
    case 'restricted': {
      if (value === undefined) return { restricted: false };
      const v = value.trim().toLowerCase();
      if (v === 'true' || v === '1') return { restricted: true };
      if (v === 'false' || v === '0') return { restricted: false };
      throw new FsError('EINVAL', `user.dataverse.restricted is true or false, not "${value}"`);
    }
    case 'categories':
      return { categories: (value ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '') };
    default:
      throw new FsError('ENOTSUP', `${name} cannot be set (writable: ${XATTR_PREFIX}description, restricted, categories)`);
  }
}

export function makeWriteOps(deps: WriteOpsDeps) {
  const { ns, writer, handles, log } = deps;
  const run = (op: string, p: string, cb: Cb, fn: () => Promise<unknown[] | void>) =>
    answer(log, op, p, cb, fn, ['ENOENT', 'EROFS', 'EEXIST', 'ENOTEMPTY', 'ENOTSUP', 'EXDEV']);

  /** The draft folder a new name `p` would go in, and the name's path relative to the draft. */
  async function newPath(p: string): Promise<{ ref: DraftRef; rel: string }> {
    const parent: Node = await ns.resolve(path.posix.dirname(p));
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', `not a folder: ${path.posix.dirname(p)}`);
    const ref = writableRef(parent, p);
    return { ref, rel: join(ref.path, path.posix.basename(p)) };
  }

  async function existing(p: string): Promise<{ node: Node; ref: DraftRef }> {
    const node = await ns.resolve(p);
    return { node, ref: writableRef(node, p) };
  }

  function draftHandle(fd: number): { writerHandle: number; write: boolean } | undefined {
    const h = handles.get(fd);
    return h?.kind === 'draft' ? h : undefined;
  }

  return {
    create(p: string, mode: number, cb: Cb) {
      run('create', p, cb, async () => {
        const { ref, rel } = await newPath(p);
        const wh = await writer.create(ref.datasetId, rel);
        return [handles.add({ kind: 'draft', writerHandle: wh, write: true, path: p })];
      });
    },

    /** open(2) with write access (or O_TRUNC) of a draft file; the read path handles the rest. */
    async openForWrite(p: string, node: Node, truncate: boolean): Promise<number> {
      const ref = writableRef(node, p);
      const wh = await writer.open(ref.datasetId, ref.path, { write: true, truncate });
      return handles.add({ kind: 'draft', writerHandle: wh, write: true, path: p });
    },

    /** open(2) read-only of a draft file whose bytes are local. */
    async openLocal(p: string, ref: DraftRef): Promise<number> {
      const wh = await writer.open(ref.datasetId, ref.path, { write: false });
      return handles.add({ kind: 'draft', writerHandle: wh, write: false, path: p });
    },

    read(p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const h = draftHandle(fd)!;
      writer.read(h.writerHandle, len, pos).then(
        (data) => {
          data.copy(buf, 0, 0, data.length);
          cb(data.length);
        },
        (e: unknown) => answer(log, 'read', p, cb, () => Promise.reject(e)),
      );
    },

    write(p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const h = draftHandle(fd);
      if (!h || !h.write) return cb(-ERRNO.EBADF);
      // The buffer is only used until the callback (fuse-native detaches it afterwards).
      writer.write(h.writerHandle, buf.subarray(0, len), pos).then(
        (n) => cb(n),
        (e: unknown) => answer(log, 'write', p, cb, () => Promise.reject(e)),
      );
    },

    release(p: string, fd: number, cb: Cb) {
      const h = draftHandle(fd)!;
      handles.delete(fd);
      run('release', p, cb, () => writer.release(h.writerHandle));
    },

    /** Each close(2): answered writes reach the staged file, and a failure among them is the close's error. */
    flush(p: string, fd: number, cb: Cb) {
      const h = draftHandle(fd);
      if (!h) return cb(0);
      run('flush', p, cb, () => writer.flush(h.writerHandle));
    },

    fsync(p: string, datasync: number, fd: number, cb: Cb) {
      const h = draftHandle(fd);
      if (!h) return cb(0);
      run('fsync', p, cb, () => writer.fsync(h.writerHandle));
    },

    truncate(p: string, size: number, cb: Cb) {
      run('truncate', p, cb, async () => {
        const { node, ref } = await existing(p);
        if (node.kind === 'dir') throw new FsError('EISDIR', 'is a folder');
        await writer.truncate(ref.datasetId, ref.path, size);
      });
    },

    ftruncate(p: string, fd: number, size: number, cb: Cb) {
      const h = draftHandle(fd);
      run('ftruncate', p, cb, async () => {
        if (h?.write) return writer.ftruncate(h.writerHandle, size);
        const { ref } = await existing(p);
        await writer.truncate(ref.datasetId, ref.path, size);
      });
    },

    unlink(p: string, cb: Cb) {
      run('unlink', p, cb, async () => {
        const { node, ref } = await existing(p);
        if (node.kind === 'dir') throw new FsError('EISDIR', 'is a folder');
        await writer.unlink(ref.datasetId, ref.path);
      });
    },

    mkdir(p: string, mode: number, cb: Cb) {
      run('mkdir', p, cb, async () => {
        const { ref, rel } = await newPath(p);
        await writer.mkdir(ref.datasetId, rel);
      });
    },

    rmdir(p: string, cb: Cb) {
      run('rmdir', p, cb, async () => {
        const { node, ref } = await existing(p);
        if (node.kind !== 'dir') throw new FsError('ENOTDIR', `not a folder: ${p}`);
        await writer.rmdir(ref.datasetId, ref.path);
      });
    },

    rename(src: string, dest: string, cb: Cb) {
      run('rename', src, cb, async () => {
        const from = await ns.resolve(src);
        const parent = await ns.resolve(path.posix.dirname(dest));
        if (parent.kind !== 'dir') throw new FsError('ENOTDIR', `not a folder: ${path.posix.dirname(dest)}`);
        // Into or out of a published version (or anywhere but a draft): read-only.
        const a = writableRef(from, src);
        const b = writableRef(parent, dest);
        if (a.datasetId !== b.datasetId) throw new FsError('EXDEV', 'files cannot move between datasets (copy them)');
        await writer.rename(a.datasetId, a.path, join(b.path, path.posix.basename(dest)));
      });
    },

    utimens(p: string, atime: number, mtime: number, cb: Cb) {
      run('utimens', p, cb, async () => {
        const { ref } = await existing(p);
        if (mtime >= OMIT) return; // only atime, which is not kept
        await writer.utimens(ref.datasetId, ref.path, mtime);
      });
    },

    /** Accepted and forgotten (the server has no modes or owners). */
    chmod(p: string, mode: number, cb: Cb) {
      run('chmod', p, cb, async () => {
        await existing(p);
      });
    },

    chown(p: string, uid: number, gid: number, cb: Cb) {
      run('chown', p, cb, async () => {
        await existing(p);
      });
    },

    setxattr(p: string, name: string, value: Buffer, position: number, flags: number, cb: Cb) {
      run('setxattr', p, cb, async () => {
        const { node, ref } = await existing(p);
        if (node.kind !== 'file') throw new FsError('ENOTSUP', 'only files have writable attributes');
        await writer.setMetadata(ref.datasetId, ref.path, metaPatch(name, value.toString('utf8')));
      });
    },

    removexattr(p: string, name: string, cb: Cb) {
      run('removexattr', p, cb, async () => {
        const { node, ref } = await existing(p);
        if (node.kind !== 'file') throw new FsError('ENOTSUP', 'only files have writable attributes');
        await writer.setMetadata(ref.datasetId, ref.path, metaPatch(name, undefined));
      });
    },

    /** access(2) with W_OK. */
    async checkWrite(p: string, node: Node): Promise<void> {
      writableRef(node, p);
    },
  };
}

export type WriteOps = ReturnType<typeof makeWriteOps>;
