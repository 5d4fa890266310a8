// Helpers of the write-path tests: a real `dvfs serve`, an editor, datasets,
// a DraftWriter with its state in a temporary folder, and the server's own
// view of a draft (listing, downloads, request log) to check results with —
// never the writer's.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON read back from the server */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import { DataverseClient } from '../src/dataverse/client.js';
import { DraftWriter, type DraftWriterOptions } from '../src/write/index.js';
import { Api } from './helpers/api.js';
import { Control, type LogEntry } from './helpers/control.js';
import { createCollection, createDataset, createUser, publishCollection } from './helpers/fixtures.js';
import { startServe, type ServeProcess } from './helpers/serve.js';

export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WriteEnv {
  srv: ServeProcess;
  admin: Api;
  /** The editor's API (curator on the collection). */
  api: Api;
  editorToken: string;
  control: Control;
  tmp: string;
  newDataset(title?: string): Promise<number>;
  /** A writer with its own state folder (or the one given: a "remount"). */
  writer(opts?: Partial<DraftWriterOptions> & { stateDir?: string; token?: string }): Promise<{ w: DraftWriter; stateDir: string; logs: string[]; client: DataverseClient }>;
  dispose(): Promise<void>;
}

export async function startWriteEnv(): Promise<WriteEnv> {
  const srv = await startServe({ args: ['--publish-seconds', '0.2'] });
  const admin = new Api(srv.url, srv.adminToken);
  const editor = await createUser(admin, 'writer');
  await createCollection(admin, 'root', 'wlab', 'Write Lab');
  await publishCollection(admin, 'wlab');
  const r = await admin.post('/api/dataverses/wlab/assignments', { assignee: '@writer', role: 'curator' });
  if (r.status !== 200) throw new Error(`assign: ${r.status} ${r.text}`);
  const api = admin.as(editor.token);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'dvfs-write-'));
  const clients: DataverseClient[] = [];
  const writers: DraftWriter[] = [];
  let n = 0;
  return {
    srv,
    admin,
    api,
    editorToken: editor.token,
    control: new Control(srv.url),
    tmp,
    async newDataset(title = 'Write test') {
      return (await createDataset(api, 'wlab', `${title} ${++n}`)).id;
    },
    async writer(opts = {}) {
      const stateDir = opts.stateDir ?? (await mkdtemp(path.join(tmp, 'state-')));
      const logs: string[] = [];
      const token = opts.token ?? editor.token;
      const client = new DataverseClient({ baseUrl: srv.url, token: () => token, baseDelayMs: 20, maxDelayMs: 200 });
      clients.push(client);
      const w = new DraftWriter({
        client,
        stateDir,
        quietMs: 150,
        retryBaseMs: 50,
        retryMaxMs: 500,
        log: (l) => logs.push(l),
        ...opts,
      });
      writers.push(w);
      await w.recover();
      return { w, stateDir, logs, client };
    },
    async dispose() {
      for (const w of writers) await w.close({ waitForUploads: false }).catch(() => {});
      for (const c of clients) await c.close().catch(() => {});
      await srv.dispose();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** create + write (in 64 KiB pieces, like the kernel would send them) + release. */
export async function writeFile(w: DraftWriter, ds: number, p: string, data: Buffer | string): Promise<void> {
  const buf = Buffer.from(data);
  const h = await w.create(ds, p);
  for (let pos = 0; pos < buf.length; pos += 65536) await w.write(h, buf.subarray(pos, pos + 65536), pos);
  await w.release(h);
}

/** Open an existing file for writing, replace its whole content, close. */
export async function rewriteFile(w: DraftWriter, ds: number, p: string, data: Buffer | string): Promise<void> {
  const h = await w.open(ds, p, { write: true, truncate: true });
  await w.write(h, Buffer.from(data), 0);
  await w.release(h);
}

export async function readAll(w: DraftWriter, ds: number, p: string): Promise<Buffer> {
  const h = await w.open(ds, p, { write: false });
  const parts: Buffer[] = [];
  for (let pos = 0; ; ) {
    const b = await w.read(h, 65536, pos);
    if (b.length === 0) break;
    parts.push(b);
    pos += b.length;
  }
  await w.release(h);
  return Buffer.concat(parts);
}

export interface ServerFile {
  id: number;
  path: string;
  label: string;
  directoryLabel?: string;
  size: number;
  md5: string;
  contentType: string;
  description: string;
  categories: string[];
  restricted: boolean;
}

/** The draft as the server lists it, by "folder/label". */
export async function serverDraft(api: Api, ds: number): Promise<Map<string, ServerFile>> {
  const r = await api.get(`/api/datasets/${ds}/versions/:draft/files`);
  if (r.status !== 200) throw new Error(`draft files of ${ds}: ${r.status} ${r.text}`);
  const out = new Map<string, ServerFile>();
  for (const fm of r.json.data as any[]) {
    const p = fm.directoryLabel ? `${fm.directoryLabel}/${fm.label}` : fm.label;
    out.set(p, {
      id: fm.dataFile.id,
      path: p,
      label: fm.label,
      directoryLabel: fm.directoryLabel,
      size: fm.dataFile.filesize,
      md5: fm.dataFile.checksum?.value,
      contentType: fm.dataFile.contentType,
      description: fm.description,
      categories: fm.categories ?? [],
      restricted: fm.restricted,
    });
  }
  return out;
}

export async function downloadBytes(api: Api, fileId: number): Promise<Buffer> {
  const r = await api.get(`/api/access/datafile/${fileId}`);
  if (r.status !== 200) throw new Error(`download ${fileId}: ${r.status} ${r.text}`);
  return r.body;
}

/** Every file of the draft downloaded and compared with what the test wrote. */
export async function expectDraft(api: Api, ds: number, expected: Record<string, Buffer | string>): Promise<Map<string, ServerFile>> {
  const files = await serverDraft(api, ds);
  const got = [...files.keys()].sort();
  const want = Object.keys(expected).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`draft of ${ds} lists ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  for (const [p, data] of Object.entries(expected)) {
    const f = files.get(p)!;
    const bytes = await downloadBytes(api, f.id);
    if (!bytes.equals(Buffer.from(data))) throw new Error(`${p}: downloaded bytes differ (${bytes.length} vs ${Buffer.from(data).length})`);
    if (f.md5 !== md5(data)) throw new Error(`${p}: server checksum ${f.md5} differs`);
  }
  return files;
}

/** Requests logged since `since`, as "METHOD /path" with the /api/v1 prefix removed, control calls excluded. */
export async function requestsSince(control: Control, since: number): Promise<LogEntry[]> {
  return (await control.requests(since)).entries.filter((e) => e.origin === 'api');
}

export function writeRequests(entries: LogEntry[]): string[] {
  return entries
    .filter((e) => e.method !== 'GET')
    .map((e) => `${e.method} ${e.path.replace(/^\/api(\/v1)?/, '')}`);
}

export function count(entries: string[], re: RegExp): number {
  return entries.filter((e) => re.test(e)).length;
}

export async function zipOf(entries: Record<string, Buffer | string>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(Buffer.from(data), name);
  zip.end();
  const parts: Buffer[] = [];
  for await (const c of zip.outputStream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** POST /api/datasets/{id}/add as a separate client would (a file that exists before the writer touches it). */
export async function addOnServer(
  api: Api,
  ds: number,
  name: string,
  data: Buffer | string,
  json: Record<string, unknown> = {},
  contentType?: string,
): Promise<any> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(Buffer.from(data))], contentType ? { type: contentType } : {}), name);
  form.append('jsonData', JSON.stringify({ tabIngest: 'false', ...json }));
  const r = await api.post(`/api/datasets/${ds}/add`, form);
  if (r.status !== 200) throw new Error(`add ${name}: ${r.status} ${r.text}`);
  return r.json.data.files[0];
}
