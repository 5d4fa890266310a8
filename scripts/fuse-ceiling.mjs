// The FUSE binding's own ceiling: one file served by fuse-native with no I/O
// behind it. `node scripts/fuse-ceiling.mjs <mountpoint> <size-bytes> [write]`
// prints "ready" when mounted; SIGTERM unmounts. Reads return a fixed pattern;
// with `write`, the file is also writable (writes are answered at once and
// dropped) and the mount has the options dvfs uses for writing (big_writes).
// Used by scripts/bench-read.mjs and scripts/bench-write.mjs.
import Fuse from 'fuse-native';

const [mnt, sizeArg, mode] = process.argv.slice(2);
const writable = mode === 'write';
let size = Number(sizeArg);
const block = Buffer.alloc(1 << 20, 0x5a);
const now = new Date();
const stat = (m, sz) => ({ mode: m, size: sz, uid: 0, gid: 0, mtime: now, atime: now, ctime: now, nlink: 1, blksize: 1 << 20 });

const ops = {
  getattr(p, cb) {
    if (p === '/') return cb(0, stat(writable ? 0o40755 : 0o40555, 4096));
    if (p === '/file') return cb(0, stat(writable ? 0o100644 : 0o100444, size));
    cb(Fuse.ENOENT);
  },
  readdir(p, cb) {
    if (p === '/') return cb(0, ['file']);
    cb(Fuse.ENOENT);
  },
  open(p, flags, cb) {
    if (writable && flags & 0o1000) size = 0; // O_TRUNC
    cb(0, 42);
  },
  release(p, fd, cb) {
    cb(0);
  },
  read(p, fd, buf, len, pos, cb) {
    const n = Math.max(0, Math.min(len, size - pos));
    let done = 0;
    while (done < n) {
      const off = (pos + done) % block.length;
      const take = Math.min(n - done, block.length - off);
      block.copy(buf, done, off, off + take);
      done += take;
    }
    cb(n);
  },
  ...(writable && {
    create(p, m, cb) {
      size = 0;
      cb(0, 42);
    },
    truncate(p, sz, cb) {
      size = sz;
      cb(0);
    },
    write(p, fd, buf, len, pos, cb) {
      size = Math.max(size, pos + len);
      cb(len);
    },
  }),
};

const fsname = writable ? 'ceiling,big_writes,max_write=1048576,atomic_o_trunc' : 'ceiling';
const fuse = new Fuse(mnt, ops, { mkdir: true, force: true, autoUnmount: true, fsname });
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
