// The one place where errors become errno values for the kernel.
import { DataverseError } from '../dataverse/errors.js';
import { FsError } from '../tree/errors.js';

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  ENOTSUP: 95,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const FOR_KIND: Record<DataverseError['kind'], ErrnoName> = {
  badToken: 'EACCES',
  unauthorized: 'EACCES',
  forbidden: 'EACCES',
  notFound: 'ENOENT',
  badRequest: 'EINVAL',
  rangeNotSatisfiable: 'EIO',
  locked: 'EBUSY',
  server: 'EIO',
  network: 'EIO',
  protocol: 'EIO',
};

/** errno name for any error thrown below the adapter; unknown errors are EIO. */
export function errnoName(e: unknown): ErrnoName {
  if (e instanceof FsError) return e.code;
  if (e instanceof DataverseError) return FOR_KIND[e.kind];
  return 'EIO';
}

/** Negative errno, as fuse-native callbacks want it. */
export function toErrno(e: unknown): number {
  return -ERRNO[errnoName(e)];
}

/** The message to log for a failed operation. */
export function describe(e: unknown): string {
  if (e instanceof DataverseError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
