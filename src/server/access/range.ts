// The Range header of the Access API (dataverse-api-notes.md §5.1), read the
// way DownloadInstanceWriter.getRanges reads it: one range only, an end past
// EOF clamped, everything else a 416 whose message starts "Error due to Range header: ".
import { ApiError } from '../http.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

const RANGE_SYNTAX = /^bytes=\d*-\d*(,\d*-\d*)*$/;

/**
 * The 416 of a bad Range header. A ClientErrorException with a status the
 * WebApplicationExceptionHandler has no case for: its message passed through,
 * with no requestUrl/requestMethod.
 */
export function rangeError(reason: string): ApiError {
  const message = `Error due to Range header: ${reason}`;
  return new ApiError(416, { status: 'ERROR', code: 416, message });
}

/** Long.parseLong of a run of digits; the JDK's message when it overflows. */
function parseLong(digits: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw rangeError(`For input string: "${digits}"`);
  return n;
}

/**
 * Parse a Range header against content of `size` bytes (size > 0; the caller
 * handles unknown and zero sizes). Throws the 416 ApiError on any problem.
 */
export function parseRange(header: string, size: number): ByteRange {
  if (!RANGE_SYNTAX.test(header)) {
    throw rangeError('The format is bytes=<range-start>-<range-end> where start and end are optional.');
  }
  const parts = header.slice('bytes='.length).split(',');
  if (parts.length > 1) throw rangeError('Only one range is allowed.');
  const [first, second] = parts[0].split('-');
  let start = first === '' ? -1 : parseLong(first);
  let end = second === '' ? -1 : parseLong(second);
  if (start === -1) {
    // bytes=-n: the last n bytes. ("bytes=-" ends up start > end, as in the real code.)
    // A suffix longer than the content starts at 0 (the real server would seek before the start).
    start = Math.max(0, size - end);
    end = size - 1;
  } else if (end === -1 || end > size - 1) {
    end = size - 1;
  }
  if (start > end) throw rangeError('Start is larger than end or size of file.');
  return { start, end };
}
