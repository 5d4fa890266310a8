// Filesystem-level errors raised by tree/ and write/; fs/errno.ts maps them
// (and DataverseError) to errno values in one place.

export type ErrnoName =
  | 'ENOENT'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EACCES'
  | 'EROFS'
  | 'EINVAL'
  | 'EIO'
  | 'EXDEV'
  | 'ENOTEMPTY'
  | 'EEXIST'
  | 'EBUSY'
  | 'ENOSYS'
  | 'EFBIG'
  | 'ENODATA'
  | 'ENOTSUP'
  | 'EBADF';

export class FsError extends Error {
  constructor(
    readonly code: ErrnoName,
    message: string,
    /** The layer that raised it logged it already, with more context than the adapter has. */
    readonly logged = false,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

export const notFound = (path: string) => new FsError('ENOENT', `no such file or folder: ${path}`);
export const notDir = (path: string) => new FsError('ENOTDIR', `not a folder: ${path}`);
export const readOnly = (path: string, why = 'published versions are read-only') => new FsError('EROFS', `${path}: ${why}`);
