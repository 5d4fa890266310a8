// Tabular ingest of CSV/TSV uploads (dataverse-api-notes.md §6.7, §2.6):
// asynchronous, under an Ingest lock; on success the DataFile keeps its id and
// checksum but becomes a header-less .tab (name, type and size change) with the
// upload kept as the "original". Pending ingests are persisted
// (ingestPendingUntil) and finished by a timer, or at the next server start.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ServerConfig } from './config.js';
import type { DataFileRec, DatasetRec, TabularVariable, UserRec, VersionRec } from './model.js';
import type { Store } from './store.js';
import type { StoredBlob } from './blobs.js';
import { CsvError, CsvParser } from './csv.js';
import { ingestDelimiter, originalFormatLabel, TAB } from './file-types.js';
import { claimUniqueName, takenNames } from './names.js';
import { activeLocks, addLock, removeLocks } from './locks.js';
import { touch } from './versions.js';

const LOCK_MESSAGE = /^Ingest of \d+ tabular data file\(s\) is in progress\.$/;

export function ingestLockMessage(n: number): string {
  return `Ingest of ${n} tabular data file(s) is in progress.`;
}

/** Would this upload be ingested (tabIngest on and a CSV/TSV type)? */
export function wantsIngest(contentType: string, tabIngest: boolean): boolean {
  return tabIngest && ingestDelimiter(contentType) !== undefined;
}

/**
 * Queue files for ingest (call inside the request's state change, before the
 * commit): marks them pending and locks the dataset. Then call scheduleIngest.
 */
export function queueIngest(config: ServerConfig, ds: DatasetRec, files: DataFileRec[], user: UserRec | undefined): number {
  const delayMs = Math.max(0, config.ingestSeconds * 1000);
  const due = Date.now() + delayMs;
  for (const f of files) f.ingestPendingUntil = due;
  // One Ingest lock per dataset (addDatasetLock keeps an existing one).
  if (!activeLocks(ds).some((l) => l.lockType === 'Ingest')) {
    addLock(ds, 'Ingest', user?.username ?? 'dataverseAdmin', ingestLockMessage(files.length));
  }
  return delayMs;
}

// --- the scheduler (one per store) ---

class IngestScheduler {
  private running: Promise<void> = Promise.resolve();
  constructor(
    private readonly store: Store,
    private readonly log: (line: string) => void,
  ) {}

  schedule(delayMs: number): void {
    const t = setTimeout(() => {
      this.running = this.running.then(() => this.runDue()).catch((e: unknown) => this.log(`ingest failed: ${String(e)}`));
    }, delayMs);
    t.unref();
  }

  /** Ingest every file whose time has come, one at a time, then drop Ingest locks with nothing left to do. */
  private async runDue(): Promise<void> {
    const now = Date.now();
    const due = this.store.state.dataFiles.filter((f) => f.ingestPendingUntil !== undefined && f.ingestPendingUntil <= now);
    for (const f of due) await ingestFile(this.store, f.id);
    releaseIdleIngestLocks(this.store);
    await this.store.commit();
  }
}

const schedulers = new WeakMap<Store, IngestScheduler>();

function schedulerFor(store: Store, log: (line: string) => void = () => {}): IngestScheduler {
  let s = schedulers.get(store);
  if (!s) {
    s = new IngestScheduler(store, log);
    schedulers.set(store, s);
  }
  return s;
}

export function scheduleIngest(store: Store, delayMs: number): void {
  schedulerFor(store).schedule(delayMs);
}

/** At server start: finish overdue ingests and re-arm timers for the others. */
export function resumeIngests(store: Store, log: (line: string) => void): void {
  const sched = schedulerFor(store, log);
  const now = Date.now();
  const times = new Set<number>();
  for (const f of store.state.dataFiles) {
    if (f.ingestPendingUntil !== undefined) times.add(Math.max(0, f.ingestPendingUntil - now));
  }
  sched.schedule(0); // also clears Ingest locks left without pending files
  for (const t of times) if (t > 0) sched.schedule(t);
}

/** Remove our Ingest locks from datasets that have no pending ingest any more. */
function releaseIdleIngestLocks(store: Store): void {
  const busy = new Set(store.state.dataFiles.filter((f) => f.ingestPendingUntil !== undefined).map((f) => f.datasetId));
  for (const ds of store.state.datasets) {
    if (busy.has(ds.id)) continue;
    if (activeLocks(ds).some((l) => l.lockType === 'Ingest' && l.message !== undefined && LOCK_MESSAGE.test(l.message))) {
      removeLocks(ds, 'Ingest');
    }
  }
}

// --- one file ---

interface Analysis {
  header: string[];
  numeric: boolean[];
  cases: number;
}

async function ingestFile(store: Store, fileId: number): Promise<void> {
  const f = store.file(fileId);
  if (!f || f.ingestPendingUntil === undefined) return;
  const delimiter = ingestDelimiter(f.contentType);
  const sourceKey = f.blob;
  let analysis: Analysis;
  let tab: { blob: StoredBlob; unf: string } | undefined;
  try {
    if (!delimiter) throw new CsvError(`Tabular ingest is not supported for ${f.contentType}.`);
    analysis = await analyse(store, sourceKey, delimiter);
    tab = await writeTab(store, sourceKey, delimiter, analysis.numeric);
  } catch (e) {
    // Ingest failed: the file stays as uploaded, with the problem recorded.
    const now = store.file(fileId);
    if (now && now.ingestPendingUntil !== undefined) {
      now.ingestProblem = e instanceof CsvError ? e.message : `Ingest failed: ${(e as Error).message}`;
      delete now.ingestPendingUntil;
    }
    return;
  }
  // The file may have been deleted or replaced while we worked.
  const cur = store.file(fileId);
  if (!cur || cur.ingestPendingUntil === undefined || cur.blob !== sourceKey) {
    await store.blobs.remove(tab.blob.key);
    return;
  }
  applyIngest(store, cur, analysis, tab);
}

/** The state change of a finished ingest (synchronous: no other request sees half of it). */
function applyIngest(store: Store, f: DataFileRec, a: Analysis, tab: { blob: StoredBlob; unf: string }): void {
  const ds = store.dataset(f.datasetId);
  const version: VersionRec | undefined = ds && [...ds.versions].reverse().find((v) => v.files.some((fm) => fm.dataFileId === f.id));
  const fm = version?.files.find((x) => x.dataFileId === f.id);
  const originalName = fm?.label ?? `${f.id}`;
  const variables: TabularVariable[] = a.header.map((name, i) => ({
    id: store.nextId('variable'),
    name,
    type: a.numeric[i] ? 'numeric' : 'character',
  }));
  f.tabular = {
    originalFileFormat: f.contentType,
    originalFormatLabel: originalFormatLabel(f.contentType),
    originalFileSize: f.filesize,
    originalFileName: originalName,
    originalBlob: f.blob,
    UNF: tab.unf,
    caseQuantity: a.cases,
    variables,
  };
  f.contentType = TAB;
  f.blob = tab.blob.key;
  f.filesize = tab.blob.size;
  delete f.ingestPendingUntil;
  delete f.ingestProblem;
  if (version && fm) {
    // label → .tab, through the duplicate-name rule (IngestUtil.modifyExistingFilename).
    const taken = takenNames(store, version, [f.id]);
    fm.label = claimUniqueName(taken, fm.directoryLabel, replaceExtension(fm.label, 'tab'));
    fm.version += 1;
    touch(version);
  }
}

/** FileUtil.replaceExtension: "x.csv" → "x.tab", "x" → "x.tab". */
function replaceExtension(name: string, ext: string): string {
  return /\.[^.]*$/.test(name) ? name.replace(/\.[^.]*$/, `.${ext}`) : `${name}.${ext}`;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isNumeric(v: string): boolean {
  return NUMBER.test(v.trim());
}

/** Feed a blob through a CSV parser in chunks. */
async function parseBlob(
  store: Store,
  key: string,
  delimiter: string,
  onRow: (row: string[]) => void,
  afterChunk?: () => Promise<void>,
): Promise<void> {
  const decoder = new TextDecoder('utf-8');
  const parser = new CsvParser(delimiter, onRow);
  for await (const chunk of store.blobs.read(key)) {
    parser.push(decoder.decode(chunk as Buffer, { stream: true }));
    if (afterChunk) await afterChunk();
  }
  parser.push(decoder.decode());
  parser.end();
  if (afterChunk) await afterChunk();
}

/** First pass: header, case count, and which columns are numeric (every non-empty value is a number). */
async function analyse(store: Store, key: string, delimiter: string): Promise<Analysis> {
  let header: string[] | undefined;
  let numeric: boolean[] = [];
  let cases = 0;
  let line = 0;
  await parseBlob(store, key, delimiter, (row) => {
    line += 1;
    if (!header) {
      header = row;
      numeric = row.map(() => true);
      return;
    }
    if (row.length !== header.length) {
      throw new CsvError(
        `Reading mismatch, line ${line} of the Data file: ${header.length} delimited values expected, ${row.length} found.`,
      );
    }
    cases += 1;
    row.forEach((v, i) => {
      if (numeric[i] && v.trim() !== '' && !isNumeric(v)) numeric[i] = false;
    });
  });
  if (!header) throw new CsvError('The file has no header line: there is nothing to ingest.');
  return { header, numeric, cases };
}

/** A .tab value: numbers bare, strings double-quoted (with ", newlines and tabs escaped), missing values empty. */
function tabValue(v: string, numeric: boolean): string {
  if (v === '') return '';
  if (numeric) return v.trim();
  const escaped = v.replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

/**
 * Second pass: write the .tab (no header line, tab-separated, "\n" line ends).
 * The UNF is "UNF:6:" plus a deterministic digest of the .tab bytes (base64 of
 * the first 128 bits of its SHA-256), NOT the real UNF algorithm, which
 * normalises values per type; nothing in dvfs checks UNFs.
 */
async function writeTab(
  store: Store,
  key: string,
  delimiter: string,
  numeric: boolean[],
): Promise<{ blob: StoredBlob; unf: string }> {
  const out = new PassThrough();
  const hash = createHash('sha256');
  let buffered: string[] = [];
  let first = true;
  const flush = async () => {
    if (!buffered.length) return;
    const data = Buffer.from(buffered.join(''));
    buffered = [];
    hash.update(data);
    if (!out.write(data)) await once(out, 'drain');
  };
  const writing = store.blobs.write(out);
  try {
    await parseBlob(
      store,
      key,
      delimiter,
      (row) => {
        if (first) {
          first = false; // the header goes into the variables, not into the .tab
          return;
        }
        buffered.push(`${row.map((v, i) => tabValue(v, numeric[i])).join('\t')}\n`);
      },
      flush,
    );
    out.end();
  } catch (e) {
    out.destroy(e as Error);
    await writing.catch(() => {});
    throw e;
  }
  const blob = await writing;
  return { blob, unf: `UNF:6:${hash.digest().subarray(0, 16).toString('base64')}` };
}
