// The FUSE binding's own ceiling: files served by fuse-native with no I/O
// behind them. Prints "ready" when mounted; SIGTERM unmounts.
//
//   node scripts/fuse-ceiling.mjs <mountpoint> <size-bytes> [write]
//     one file of that size; reads return a fixed pattern; with `write`, the
//     file is also writable (writes are answered at once and dropped) and the
//     mount has the options dvfs uses for writing (big_writes).
//   node scripts/fuse-ceiling.mjs <mountpoint> tree <dir>
//     a copy of <dir>, held in memory, with the operations and kernel cache
//     settings a dvfs mount uses (the least time any fuse-native mount can
//     take to have a tool like rsync walk and read those files).
//
// Used by scripts/bench-read.mjs and scripts/bench-write.mjs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Fuse from 'fuse-native';

const [mnt, sizeArg, mode] = process.argv.slice(2);
const writable = mode === 'write';
const tree = sizeArg === 'tree';
let size = Number(sizeArg);
const block = Buffer.alloc(1 << 20, 0x5a);
const now = new Date();
const stat = (m, sz) => ({ mode: m, size: sz, uid: 0, gid: 0, mtime: now, atime: now, ctime: now, nlink: 1, blksize: 1 << 20 });

const oneFile = {
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

/** The files and folders under `dir`, in memory, by mount path. */
function load(dir) {
  const files = new Map();
  const dirs = new Map();
  const walk = (rel) => {
    const names = readdirSync(path.join(dir, rel));
    dirs.set(rel || '/', names);
    for (const n of names) {
      const r = `${rel}/${n}`;
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else files.set(r, readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return { files, dirs };
}

function treeOps({ files, dirs }) {
  return {
    getattr(p, cb) {
      if (dirs.has(p)) return cb(0, stat(0o40555, 4096));
      const f = files.get(p);
      if (f) return cb(0, stat(0o100444, f.length));
      cb(Fuse.ENOENT);
    },
    readdir(p, cb) {
      const d = dirs.get(p);
      if (d) return cb(0, d);
      cb(Fuse.ENOENT);
    },
    open(p, flags, cb) {
      cb(files.has(p) ? 0 : Fuse.ENOENT, 42);
    },
    read(p, fd, buf, len, pos, cb) {
      const f = files.get(p);
      const n = Math.max(0, Math.min(len, f.length - pos));
      f.copy(buf, 0, pos, pos + n);
      cb(n);
    },
    flush(p, fd, cb) {
      cb(0);
    },
    release(p, fd, cb) {
      cb(0);
    },
  };
}

const ops = tree ? treeOps(load(mode)) : oneFile;
const fsname = writable ? 'ceiling,big_writes,max_write=1048576,atomic_o_trunc' : 'ceiling';
// A tree mount caches like dvfs's (5 s attribute and entry timeouts, page cache kept across opens).
const kernel = tree ? { autoCache: true, attrTimeout: '5', entryTimeout: '5' } : {};
const fuse = new Fuse(mnt, ops, { mkdir: true, force: true, autoUnmount: true, fsname, ...kernel });
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
