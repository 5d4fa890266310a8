// The Native API write calls dvfs makes (dataverse-api-notes.md §6–§9): add,
// replace, delete, file metadata, and the reads the write path needs (the
// draft's file list, locks). Each call is ONE attempt: add and replace are
// not idempotent, so retries, lock waits and "did it happen?" checks belong
// to the caller (src/write/), which knows what to look for.
import { FormData } from 'undici';
import type { DataverseClient } from './client.js';
import { errorFrom } from './client.js';
import { DataverseError } from './errors.js';
import { isRetryableError, retryAfterMs } from './transport.js';
import { multipartUpload, StagedFileChanged, type MultipartUpload } from './upload-body.js';
import type { FileMetadataInfo, LockInfo } from './types.js';

/** jsonData of add/replace (OptionalFileParams) and of POST /api/files/{id}/metadata. */
export interface FileJsonData {
  label?: string;
  directoryLabel?: string;
  description?: string;
  categories?: string[];
  restrict?: boolean;
  tabIngest?: 'false' | 'true';
  forceReplace?: boolean;
}

export interface UploadBody {
  /** Local file whose bytes are sent (streamed, never held in memory). */
  file: string;
  /** File name in the part's Content-Disposition (decides the type and, without `label`, the name). */
  partName: string;
  /** The part's Content-Type. */
  contentType: string;
  jsonData: FileJsonData;
}

/** What POST /api/files/{id}/metadata answers (the Gson FileMetadata after the text prefix). */
export interface MetadataResult {
  label?: string;
  directoryLabel?: string;
  description?: string;
  restricted?: boolean;
  categories?: string[];
}

/**
 * A request whose fate is unknown: the connection broke after it was sent, or
 * the answer was a 5xx that a proxy may have given after the server acted.
 * The caller must look at the server's state before sending it again.
 */
export function outcomeUnknown(e: unknown): boolean {
  if (e instanceof DataverseError) {
    return e.kind === 'network' || e.kind === 'protocol' || (e.status !== undefined && e.status >= 500);
  }
  return isRetryableError(e);
}

const METADATA_PREFIX = 'File Metadata update has been completed:';

export class DataverseWrites {
  constructor(private readonly client: DataverseClient) {}

  /** POST /api/datasets/{id}/add; the files the upload became (one, unless the server unpacked a zip). */
  async addFile(datasetId: number, body: UploadBody): Promise<FileMetadataInfo[]> {
    const res = await this.post(`datasets/${datasetId}/add`, await uploadForm(body));
    return filesOf(res, `POST /api/v1/datasets/${datasetId}/add`);
  }

  /** POST /api/datasets/{id}/add with a body built by the caller (a streamed upload, see streamedUpload). */
  async addStreamed(datasetId: number, form: MultipartUpload): Promise<FileMetadataInfo[]> {
    const res = await this.post(`datasets/${datasetId}/add`, form);
    return filesOf(res, `POST /api/v1/datasets/${datasetId}/add`);
  }

  /** POST /api/files/{id}/replace; the new file (it has a new id). */
  async replaceFile(fileId: number, body: UploadBody): Promise<FileMetadataInfo[]> {
    const res = await this.post(`files/${fileId}/replace`, await uploadForm(body));
    return filesOf(res, `POST /api/v1/files/${fileId}/replace`);
  }

  /** DELETE /api/files/{id}; true when the file was destroyed (never released). */
  async deleteFile(fileId: number): Promise<boolean> {
    const label = `DELETE /api/v1/files/${fileId}`;
    const res = await this.request('DELETE', `files/${fileId}`);
    if (res.status !== 200) throw failure(res, label);
    const body = parseJson(res.text, res.status, label) as { data?: unknown };
    return body.data === true;
  }

  /** POST /api/files/{id}/metadata (multipart jsonData): rename, move, description, categories, restrict. */
  async updateMetadata(fileId: number, json: FileJsonData): Promise<MetadataResult> {
    const label = `POST /api/v1/files/${fileId}/metadata`;
    const form = new FormData();
    form.append('jsonData', JSON.stringify(json));
    const res = await this.post(`files/${fileId}/metadata`, form);
    if (res.status !== 200) throw failure(res, label);
    // 200 text/plain "File Metadata update has been completed: {json}" (notes §8.2).
    const at = res.text.indexOf(METADATA_PREFIX);
    if (at < 0) return {};
    return parseJson(res.text.slice(at + METADATA_PREFIX.length).trim(), res.status, label) as MetadataResult;
  }

  /**
   * The files of the dataset's draft as the server has them now (never a
   * cache). Without a draft, the latest version's files: the first edit
   * creates the draft from it and file ids stay the same (notes §6.2).
   */
  async draftFiles(datasetId: number): Promise<FileMetadataInfo[]> {
    try {
      return await this.client.versionFiles(datasetId, ':draft');
    } catch (e) {
      if (e instanceof DataverseError && e.kind === 'notFound') return this.client.versionFiles(datasetId, ':latest');
      throw e;
    }
  }

  async locks(datasetId: number): Promise<LockInfo[]> {
    return this.client.locks(datasetId);
  }

  /**
   * POST /api/datasets/{id}/actions/:publish?type=major|minor (notes §10).
   * The server finishes asynchronously: a finalizePublication lock stays
   * until it is done (the caller waits for the locks to clear).
   */
  async publish(datasetId: number, type: 'major' | 'minor'): Promise<void> {
    const label = `POST /api/v1/datasets/${datasetId}/actions/:publish`;
    const res = await this.request('POST', `datasets/${datasetId}/actions/:publish?type=${type}`);
    // 202: a PrePublish workflow is running; it ends like a publication, with the locks gone.
    if (res.status !== 200 && res.status !== 202) throw failure(res, label);
  }

  private post(path: string, form: FormData | MultipartUpload): Promise<Answer> {
    return this.request('POST', path, form);
  }

  private async request(method: string, path: string, form?: FormData | MultipartUpload): Promise<Answer> {
    const url = this.client.transport.url(`api/v1/${path}`);
    this.client.stats.apiRequests++;
    try {
      const upload = form instanceof FormData ? undefined : form;
      const res = await this.client.transport.send(method, url, {
        headers: { accept: 'application/json', ...upload?.headers },
        body: form instanceof FormData ? form : upload?.body,
        signal: upload?.signal,
      });
      return { status: res.status, text: await res.body.text(), retryAfterMs: retryAfterMs(res.headers['retry-after']) };
    } catch (e) {
      if (e instanceof DataverseError || e instanceof StagedFileChanged) throw e;
      // Reset, refused, timeout, or the staged file changed while it was read.
      const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code;
      const message = `${(e as Error).message}${code ? ` (${code})` : ''}`;
      throw new DataverseError('network', message, undefined, `${method} ${url.pathname}`);
    }
  }
}

export { StagedFileChanged };

function uploadForm(body: UploadBody): Promise<MultipartUpload> {
  return multipartUpload(body.file, body.partName, body.contentType, JSON.stringify(body.jsonData));
}

function parseJson(text: string, status: number, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DataverseError('protocol', `not JSON: ${text.slice(0, 200)}`, status, label);
  }
}

interface Answer {
  status: number;
  text: string;
  retryAfterMs?: number;
}

/** The server's error as a DataverseError; a Retry-After hint rides along as `retryAfterMs`. */
function failure(res: Answer, label: string): DataverseError {
  const err = errorFrom(res.status, res.text, label);
  if (res.retryAfterMs !== undefined) Object.assign(err, { retryAfterMs: res.retryAfterMs });
  return err;
}

function filesOf(res: Answer, label: string): FileMetadataInfo[] {
  if (res.status !== 200 && res.status !== 201) throw failure(res, label);
  const body = parseJson(res.text, res.status, label) as { status?: string; data?: { files?: FileMetadataInfo[] } };
  const files = body.data?.files;
  // An "OK" without files happened once for replace-while-locked (notes §6.8): not a success.
  if (!Array.isArray(files) || files.length === 0) {
    throw new DataverseError('protocol', `no files in the answer: ${res.text.slice(0, 200)}`, res.status, label);
  }
  return files;
}
