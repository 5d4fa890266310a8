// Errors of the cache layer. The FUSE adapter maps anything it does not know
// to EIO, which is what these must become.

/** A whole sequential read did not match the checksum the server lists for the file. */
export class ChecksumMismatchError extends Error {
  constructor(
    readonly fileId: number,
    readonly algorithm: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `file ${fileId}: the ${algorithm} of the bytes read (${actual}) is not the one the server lists (${expected}); ` +
        'the cached copy was discarded, read it again to download it anew',
    );
    this.name = 'ChecksumMismatchError';
  }
}

/** read() after close(). */
export class ReaderClosedError extends Error {
  constructor() {
    super('read on a closed file reader');
    this.name = 'ReaderClosedError';
  }
}
