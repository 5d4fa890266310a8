// The FUSE binding's write ceiling: one file whose writes are answered at
// once and dropped, with the mount options dvfs uses for writing (big_writes).
// `node scripts/fuse-write-ceiling.mjs <mountpoint>` prints "ready" when
// mounted; SIGTERM unmounts. Used by scripts/bench-write.mjs.
import Fuse from 'fuse-native';

const [mnt] = process.argv.slice(2);
const now = new Date();
let size = 0;
const stat = (mode, sz) => ({ mode, size: sz, uid: 0, gid: 0, mtime: now, atime: now, ctime: now, nlink: 1, blksize: 1 << 20 });

const ops = {
  getattr(p, cb) {
    if (p === '/') return cb(0, stat(0o40755, 4096));
    if (p === '/file') return cb(0, stat(0o100644, size));
    cb(Fuse.ENOENT);
  },
  readdir(p, cb) {
    cb(0, ['file']);
  },
  create(p, mode, cb) {
    size = 0;
    cb(0, 42);
  },
  open(p, flags, cb) {
    if (flags & 0o1000) size = 0;
    cb(0, 42);
  },
  truncate(p, sz, cb) {
    size = sz;
    cb(0);
  },
  release(p, fd, cb) {
    cb(0);
  },
  write(p, fd, buf, len, pos, cb) {
    size = Math.max(size, pos + len);
    cb(len);
  },
};

const fuse = new Fuse(mnt, ops, { mkdir: true, force: true, autoUnmount: true, fsname: 'ceiling,big_writes,max_write=1048576,atomic_o_trunc' });
fuse.mount((err) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  console.log('ready');
});
const stop = () => fuse.unmount(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
