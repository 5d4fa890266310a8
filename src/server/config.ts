// Run-time configuration of the server and the hooks the fault layer provides.
import type { Readable } from 'node:stream';
import type { Ctx } from './http.js';

/** What faults.ts provides to the request pipeline; settable at run time. */
export interface Shaping {
  /** Runs before routing: may delay, or answer the request itself (returns true). */
  beforeRequest(ctx: Ctx): Promise<boolean>;
  /** Wraps every response body (bandwidth cap, reset after N bytes, stalls). */
  wrapBody(ctx: Ctx, body: Readable): Readable;
  /** Old-server mode (Dataverse 5.9–5.11): a Range request gets 200 and the whole body. */
  ignoreRange(): boolean;
  /** Redirect mode: downloads answer 303 to the blob origin with a signed URL. */
  redirectDownloads(): boolean;
}

export interface ServerConfig {
  /** Base URL clients use, e.g. http://127.0.0.1:8080 (no trailing slash). */
  publicUrl: string;
  /** Installation brand name: the "publisher" of datasets. */
  installationName: string;
  /** What /api/info/version reports. */
  version: string;
  /** How long the Ingest lock of a tabular upload lasts. */
  ingestSeconds: number;
  /** How long the finalizePublication lock after a publish lasts. */
  publishSeconds: number;
  /** :ZipUploadFilesLimit */
  zipUploadFilesLimit: number;
  /** :MaxFileUploadSizeInBytes, undefined = no limit. */
  maxFileUploadSize?: number;
  /** API token lifetime for new tokens. */
  tokenLifetimeDays: number;
  /** Base URL of the blob origin used in redirect mode (set once it listens). */
  blobOrigin?: string;
  /** Lifetime of signed blob URLs. */
  signedUrlSeconds: number;
  /** Port of the blob origin; 0 or absent picks a free one (fixed, signed URLs outlive a restart). */
  blobPort?: number;
  shaping: Shaping;
}

export function defaultConfig(shaping: Shaping): ServerConfig {
  return {
    publicUrl: 'http://127.0.0.1:8080',
    installationName: 'dvfs Demo Dataverse',
    version: '6.11',
    ingestSeconds: 3,
    publishSeconds: 1,
    zipUploadFilesLimit: 1000,
    tokenLifetimeDays: 365,
    signedUrlSeconds: 3600,
    shaping,
  };
}
