// Mounting and unmounting with fuse-native: options, stale mounts, clean exit.
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Fuse, { type FuseOptions } from 'fuse-native';

const exec = promisify(execFile);

export interface MountOptions {
  allowOther?: boolean;
  debug?: boolean;
  /** Kernel attribute and entry cache lifetime (seconds). */
  attrTimeoutSeconds: number;
  /** Extra libfuse options (e.g. big_writes), injected through fsname (the binding exposes no other way). */
  extraOptions?: string[];
  readOnly?: boolean;
}

/** Is `mnt` a FUSE mount point right now (per /proc/mounts)? */
export async function isMounted(mnt: string): Promise<boolean> {
  const target = path.resolve(mnt);
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').some((line) => {
    const [, where, type] = line.split(' ');
    return where?.replace(/\\040/g, ' ') === target && type?.startsWith('fuse');
  });
}

/** A mount whose process died answers ENOTCONN ("Transport endpoint is not connected"). */
export async function isStale(mnt: string): Promise<boolean> {
  try {
    await stat(mnt);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

/** Lazy unmount with whichever fusermount the machine has. */
export async function forceUnmount(mnt: string): Promise<void> {
  const target = path.resolve(mnt);
  for (const cmd of ['fusermount3', 'fusermount']) {
    try {
      await exec(cmd, ['-uz', target]);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // command not installed
      throw new Error(`${cmd} -uz ${target} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
  }
  throw new Error('neither fusermount3 nor fusermount is installed (apt-get install fuse3)');
}

/**
 * libfuse options the binding does not expose, injected through fsname:
 * big_writes and a large max_write (writes then arrive in 128 KiB requests,
 * the kernel's cap, instead of 4 KiB); atomic_o_trunc (open(O_TRUNC) arrives
 * as one open with O_TRUNC, so a file about to be overwritten is not first
 * copied from the server and then truncated).
 */
export const WRITE_OPTIONS = ['big_writes', 'max_write=1048576', 'atomic_o_trunc'];

export interface Mounted {
  mountpoint: string;
  unmount(): Promise<void>;
}

/** Mount `ops` at `mnt`, clearing a stale mount left by a crashed process first. */
export async function mountFs(mnt: string, ops: object, opts: MountOptions): Promise<Mounted> {
  const mountpoint = path.resolve(mnt);
  if (await isStale(mountpoint)) await forceUnmount(mountpoint);
  else if (await isMounted(mountpoint)) throw new Error(`${mountpoint} is already mounted (dvfs unmount ${mountpoint})`);
  // libfuse's own words would suggest a 'nonempty' option dvfs does not have.
  const inside = await readdir(mountpoint).catch(() => [] as string[]);
  if (inside.length) throw new Error(`${mountpoint} is not empty (${inside.length} entries): mount on an empty folder, or a new one (dvfs creates it)`);
  const fsOptions = ['dvfs', ...(opts.readOnly ? ['ro'] : WRITE_OPTIONS), ...(opts.extraOptions ?? [])];
  const fuseOpts: FuseOptions = {
    mkdir: true,
    autoUnmount: true, // the kernel mount goes away even if this process is killed
    autoCache: true, // page cache kept across opens unless size or mtime changed
    allowOther: opts.allowOther,
    debug: opts.debug,
    fsname: fsOptions.join(','),
    subtype: 'dvfs',
    attrTimeout: String(opts.attrTimeoutSeconds),
    entryTimeout: String(opts.attrTimeoutSeconds),
    // Above the client's own retry budget, so our EIO comes first. Opening a draft file for writing
    // copies its server bytes first (copy-on-write), which takes as long as the download.
    timeout: { default: 120_000, read: 300_000, open: 3_600_000, truncate: 3_600_000 },
  };
  const fuse = new Fuse(mountpoint, ops, fuseOpts);
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  let unmounted = false;
  return {
    mountpoint,
    async unmount() {
      if (unmounted) return;
      unmounted = true;
      try {
        await new Promise<void>((resolve, reject) => fuse.unmount((err) => (err ? reject(err) : resolve())));
      } catch (e) {
        if (await isMounted(mountpoint)) throw e; // unmounted from outside (fusermount -u) already: fine
      }
    },
  };
}
