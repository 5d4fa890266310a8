// fuse-native wants a number first in every callback (0, a negative errno, or
// a byte count); an exception or `null` there hangs the caller. Every
// operation runs through here.
import { FsError } from '../tree/errors.js';
import { describe, errnoName, toErrno, type ErrnoName } from './errno.js';

export type Cb = (code: number, ...rest: unknown[]) => void;

/** Run an async operation and answer the kernel with a number, never throwing into the binding. */
export function answer(
  log: (line: string) => void,
  op: string,
  path: string,
  cb: Cb,
  fn: () => Promise<unknown[] | void>,
  /** errno values that are normal for this operation and not worth a log line. */
  quiet: readonly ErrnoName[] = ['ENOENT'],
): void {
  let promise: Promise<unknown[] | void>;
  try {
    promise = fn();
  } catch (e) {
    promise = Promise.reject(e);
  }
  promise.then(
    (rest) => cb(0, ...(rest ?? [])),
    (e: unknown) => {
      const name = errnoName(e);
      if (!quiet.includes(name) && !(e instanceof FsError && e.logged)) log(`${op} ${path}: ${name}: ${describe(e)}`);
      cb(toErrno(e));
    },
  );
}
