// Errors from the Dataverse API as typed values carrying the server's message.
// The FUSE adapter maps them to errno in one place (fs/errno.ts).

export type DataverseErrorKind =
  | 'badToken' // 401 "Bad API key": the token is wrong, expired or revoked
  | 'unauthorized' // 401 for other reasons (guest, not permitted)
  | 'forbidden' // 403
  | 'notFound' // 404
  | 'badRequest' // 400 and other 4xx
  | 'rangeNotSatisfiable' // 416
  | 'locked' // the dataset is locked (several codes, see dataverse-api-notes.md §9)
  | 'server' // 5xx after retries
  | 'network' // connection refused/reset, timeouts after retries
  | 'protocol'; // an answer that breaks the API contract (bad Content-Range, short body…)

export class DataverseError extends Error {
  constructor(
    readonly kind: DataverseErrorKind,
    message: string,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
    /** Method and path of the request (never with a token). */
    readonly request?: string,
  ) {
    super(message);
    this.name = 'DataverseError';
  }

  /** One line for logs: what the server said about which request. */
  describe(): string {
    const where = this.request ? ` (${this.request})` : '';
    const code = this.status ? `HTTP ${this.status}: ` : '';
    return `${code}${this.message}${where}`;
  }
}

export function kindForStatus(status: number, message: string): DataverseErrorKind {
  if (status === 401) return message === 'Bad API key' ? 'badToken' : 'unauthorized';
  if (status === 403) return /lock/i.test(message) ? 'locked' : 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 416) return 'rangeNotSatisfiable';
  if (status >= 500) return 'server';
  return /lock/i.test(message) ? 'locked' : 'badRequest';
}

/** The message of an error body: {"status":"ERROR","message":...} or a plain text body. */
export function messageFromBody(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: unknown };
    if (typeof j.message === 'string') return j.message;
    if (j.message && typeof (j.message as { message?: unknown }).message === 'string') {
      return (j.message as { message: string }).message;
    }
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 500) || 'no message';
}
