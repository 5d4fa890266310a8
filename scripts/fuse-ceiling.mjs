// The FUSE binding's own ceiling: one in-memory file served by fuse-native with
// no I/O behind it. `node scripts/fuse-ceiling.mjs <mountpoint> <size-bytes>`
// prints "ready" when mounted; SIGTERM unmounts. Used by scripts/bench.
import Fuse from 'fuse-native';

const [mnt, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const block = Buffer.alloc(1 << 20, 0x5a);
const now = new Date();
const stat = (mode, sz) => ({ mode, size: sz, uid: 0, gid: 0, mtime: now, atime: now, ctime: now, nlink: 1, blksize: 1 << 20 });

const ops = {
  getattr(p, cb) {
    if (p === '/') return cb(0, stat(0o40555, 4096));
    if (p === '/file') return cb(0, stat(0o100444, size));
    cb(Fuse.ENOENT);
  },
  readdir(p, cb) {
    if (p === '/') return cb(0, ['file']);
    cb(Fuse.ENOENT);
  },
  open(p, flags, cb) {
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
};

const fuse = new Fuse(mnt, ops, { mkdir: true, force: true, autoUnmount: true, fsname: 'ceiling' });
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
