// Helpers shared by the file/upload/ingest tests of `dvfs serve`.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON read back from the server */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import type { Api, RawResponse } from './helpers/api.js';

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export interface RawPart {
  name: string;
  filename?: string;
  /** Omitted: the part is sent without any Content-Type header. */
  contentType?: string;
  data: Buffer | string;
}

/** A multipart body built by hand, so a part can lack the Content-Type header (fetch's FormData always sends one). */
export function rawMultipart(parts: RawPart[]): { body: Buffer; contentType: string } {
  const boundary = `----dvfsTest${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function postRaw(api: Api, urlPath: string, parts: RawPart[]): Promise<RawResponse> {
  const { body, contentType } = rawMultipart(parts);
  return api.request(urlPath, { method: 'POST', body: new Uint8Array(body), headers: { 'Content-Type': contentType } });
}

/** POST /api/files/{id}/replace with a FormData body. */
export function replaceFile(
  api: Api,
  fileId: number,
  name: string,
  data: Buffer | string,
  json?: Record<string, unknown>,
  contentType?: string,
): Promise<RawResponse> {
  const form = new FormData();
  const bytes = typeof data === 'string' ? data : new Uint8Array(data);
  form.append('file', new Blob([bytes], contentType ? { type: contentType } : {}), name);
  if (json) form.append('jsonData', JSON.stringify(json));
  return api.post(`/api/files/${fileId}/replace`, form);
}

/** POST /api/files/{id}/metadata with a multipart jsonData part. */
export function updateMetadata(api: Api, fileId: number, json: unknown): Promise<RawResponse> {
  const form = new FormData();
  form.append('jsonData', typeof json === 'string' ? json : JSON.stringify(json));
  return api.post(`/api/files/${fileId}/metadata`, form);
}

/** A zip in memory; a null value makes a directory entry. */
export async function zipOf(entries: Record<string, Buffer | string | null>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) {
    if (data === null) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(data), name);
  }
  zip.end();
  const parts: Buffer[] = [];
  for await (const c of zip.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The files of the draft, via the JSON listing. */
export async function draftFiles(api: Api, datasetId: number): Promise<any[]> {
  const r = await api.get(`/api/datasets/${datasetId}/versions/:draft/files`);
  if (r.status !== 200) throw new Error(`draft files of ${datasetId}: ${r.status} ${r.text}`);
  return r.json.data;
}

/** How many blobs the server keeps on disk (to prove refused uploads leave nothing). */
export async function blobCount(dataDir: string): Promise<number> {
  return (await readdir(path.join(dataDir, 'blobs'))).filter((n) => /^[0-9a-f]{32}$/.test(n)).length;
}

export async function download(api: Api, fileId: number, query = ''): Promise<RawResponse> {
  return api.get(`/api/access/datafile/${fileId}${query}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until the dataset has a lock of this type (or fail). */
export async function waitForLock(api: Api, datasetId: number, type: string, timeoutMs = 10_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.get(`/api/datasets/${datasetId}/locks`);
    const lock = r.json?.data?.find((l: { lockType: string }) => l.lockType === type);
    if (lock) return lock;
    if (Date.now() > end) throw new Error(`no ${type} lock on ${datasetId}: ${r.text}`);
    await sleep(50);
  }
}
