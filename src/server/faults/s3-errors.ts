// S3-style XML error responses of the blob origin (what a presigned-URL client sees).
import { randomBytes } from 'node:crypto';
import { send, type Ctx } from '../http.js';

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `<Error><Code>…</Code><Message>…</Message>…</Error>` with the given status. */
export function s3Error(
  ctx: Ctx,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>` +
    `<RequestId>${requestId}</RequestId></Error>`;
  send(ctx, status, { 'Content-Type': 'application/xml', 'x-amz-request-id': requestId, ...headers }, Buffer.from(body));
}

/** The S3 code and message an injected status is dressed in. */
export function s3ErrorFor(status: number): { code: string; message: string } {
  switch (status) {
    case 500:
      return { code: 'InternalError', message: 'We encountered an internal error. Please try again.' };
    case 503:
      return { code: 'SlowDown', message: 'Please reduce your request rate.' };
    case 403:
      return { code: 'AccessDenied', message: 'Access Denied' };
    case 404:
      return { code: 'NoSuchKey', message: 'The specified key does not exist.' };
    default:
      return { code: 'ServiceUnavailable', message: `Injected fault (HTTP ${status}).` };
  }
}
