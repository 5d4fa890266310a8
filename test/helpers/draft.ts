// Helpers of the write-through-the-mount tests: the server's own view of a
// draft (its JSON listing and its downloads, never the mount's), the request
// log's write requests, the dvfs CLI, and source trees to copy in.
import { execFile as execFileCb } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import yazl from 'yazl';
import { Api } from './api.js';
import type { Control, LogEntry } from './control.js';
import { CLI } from './serve.js';

const execFile = promisify(execFileCb);

export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

export interface ServerFile {
  id: number;
  /** directoryLabel/label. */
  path: string;
  size: number;
  md5?: string;
  description: string;
  categories: string[];
  restricted: boolean;
}

interface FmJson {
  label: string;
  directoryLabel?: string;
  description?: string;
  categories?: string[];
  restricted: boolean;
  dataFile: { id: number; filesize: number; md5?: string; checksum?: { type: string; value: string } };
}

/**
 * The files of a dataset version as the server lists them (JSON API). The
 * default is the draft, or the latest version while there is no draft (the
 * first edit creates it with the same files).
 */
export async function serverFiles(api: Api, datasetId: number, version = ':draft'): Promise<ServerFile[]> {
  let r = await api.get(`/api/datasets/${datasetId}/versions/${version}/files`);
  if (r.status === 404 && version === ':draft') r = await api.get(`/api/datasets/${datasetId}/versions/:latest/files`);
  if (r.status !== 200) throw new Error(`listing ${datasetId} ${version}: ${r.status} ${r.text}`);
  return (r.json.data as FmJson[])
    .map((fm) => ({
      id: fm.dataFile.id,
      path: fm.directoryLabel ? `${fm.directoryLabel}/${fm.label}` : fm.label,
      size: fm.dataFile.filesize,
      md5: fm.dataFile.md5 ?? (fm.dataFile.checksum?.type === 'MD5' ? fm.dataFile.checksum.value : undefined),
      description: fm.description ?? '',
      categories: fm.categories ?? [],
      restricted: fm.restricted,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** MD5 of a file's bytes as the Access API sends them (streamed). */
export async function downloadMd5(api: Api, fileId: number): Promise<string> {
  const res = await fetch(`${api.base}/api/access/datafile/${fileId}`, { headers: api.token ? { 'X-Dataverse-key': api.token } : {} });
  if (res.status !== 200) throw new Error(`download ${fileId}: ${res.status}`);
  const h = createHash('md5');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) h.update(chunk);
  return h.digest('hex');
}

/** Requests that change something (not GET), as "METHOD path" without the query. */
export async function writeRequests(control: Control, since: number): Promise<string[]> {
  const { entries } = await control.requests(since);
  return entries.filter((e: LogEntry) => e.method !== 'GET' && e.origin === 'api').map((e) => `${e.method} ${e.path.split('?')[0]}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the dvfs CLI (sync, status, publish, unmount…). */
export async function dvfs(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Run a command; resolves with its outcome instead of throwing. */
export async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFile(cmd, args, { maxBuffer: 64 << 20, ...opts });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

export interface SourceFile {
  path: string;
  size: number;
  md5: string;
}

/** Every regular file under `dir` with its size and MD5, sorted by path. */
export async function sourceFiles(dir: string): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else {
        const h = createHash('md5');
        const file = path.join(dir, r);
        for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
        out.push({ path: r, size: (await stat(file)).size, md5: h.digest('hex') });
      }
    }
  };
  await walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A file of `size` random bytes, written in chunks. */
export async function randomFile(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  for (let done = 0; done < size; ) {
    const n = Math.min(8 << 20, size - done);
    if (!out.write(randomBytes(n))) await new Promise<void>((r) => out.once('drain', () => r()));
    done += n;
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** A real zip with two entries (the server would unpack it if it took it for a zip upload). */
export async function zipFile(file: string): Promise<void> {
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from('first entry\n'), 'one.txt');
  z.addBuffer(Buffer.from('second entry\n'), 'sub/two.txt');
  z.end();
  const parts: Buffer[] = [];
  for await (const chunk of z.outputStream) parts.push(chunk as Buffer);
  await writeFile(file, Buffer.concat(parts));
}

/**
 * The tree of the "Done when": three folder levels, non-ASCII and
 * space-containing names, a 0-byte file, a .zip, a .csv and a big file.
 * (Folder names stay ASCII: the server refuses others, see the EINVAL test.)
 */
export async function buildTree(root: string, bigBytes: number): Promise<void> {
  const deep = path.join(root, 'level one', 'level 2', 'level3');
  await mkdir(deep, { recursive: true });
  await writeFile(path.join(root, 'read me.txt'), 'A tree copied in with rsync -a.\n');
  await writeFile(path.join(root, 'naïve résumé.txt'), 'Non-ASCII name.\n');
  await writeFile(path.join(root, 'level one', '日本語 データ.txt'), 'こんにちは\n');
  await writeFile(path.join(root, 'level one', 'survey data.csv'), 'id,name,score\n1,"Smith, Ann",3.5\n2,Bo,4\n');
  await writeFile(path.join(root, 'level one', 'level 2', 'empty.dat'), '');
  await zipFile(path.join(root, 'level one', 'level 2', 'archive.zip'));
  await writeFile(path.join(deep, 'Ünïcödé notes.md'), '# deep\n');
  await randomFile(path.join(deep, 'big.bin'), bigBytes);
  // Older mtimes, as a real tree has (rsync -a must carry them).
  await utimes(path.join(root, 'read me.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  await utimes(path.join(deep, 'big.bin'), new Date('2019-05-06T07:08:09Z'), new Date('2019-05-06T07:08:09Z'));
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8');
}
