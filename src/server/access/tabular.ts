// Derived views of an ingested tabular file (dataverse-api-notes.md §5.3): the
// variable-name header line, column subsets, summary statistics for the
// "preprocessed" JSON and the DDI codeBook. The stored .tab has no header;
// values are tab-separated, strings quoted, numbers bare.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { DataFileRec, TabularInfo, TabularVariable } from '../model.js';
import type { Store } from '../store.js';

/** The line the Access API prepends: variable names joined by tabs, then a newline. */
export function varHeader(t: TabularInfo): Buffer {
  return Buffer.from(`${t.variables.map((v) => v.name).join('\t')}\n`);
}

/**
 * The variables a `variables=` list selects, in the order given: ids with an
 * optional leading "v"; tokens that are not numbers or not variables of this
 * file are skipped, as the real server does.
 */
export function selectVariables(t: TabularInfo, list: string): { variable: TabularVariable; column: number }[] {
  const out: { variable: TabularVariable; column: number }[] = [];
  for (const token of list.split(',')) {
    const id = token.replace(/^v/, '');
    if (!/^\d+$/.test(id)) continue;
    const column = t.variables.findIndex((v) => v.id === Number(id));
    if (column >= 0) out.push({ variable: t.variables[column], column });
  }
  return out;
}

/** Lines of a stream, without their newline; the last line is emitted even without one. */
class LineSplitter extends Transform {
  private rest = '';
  constructor(private readonly onLine: (line: string) => string | undefined) {
    super({ readableObjectMode: false });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    const out = lines.map((l) => this.onLine(l)).filter((l): l is string => l !== undefined);
    if (out.length) this.push(out.join(''));
    done();
  }
  override _flush(done: TransformCallback): void {
    if (this.rest !== '') {
      const l = this.onLine(this.rest);
      if (l !== undefined) this.push(l);
    }
    done();
  }
}

/** The chosen columns of each stored line (TabularSubsetGenerator), tab-joined. */
export function subsetStream(source: Readable, columns: number[]): Readable {
  const splitter = new LineSplitter((line) => {
    const fields = line.split('\t');
    return `${columns.map((c) => fields[c] ?? '').join('\t')}\n`;
  });
  source.on('error', (e) => splitter.destroy(e));
  splitter.on('close', () => source.destroy());
  return source.pipe(splitter);
}

// --- summary statistics ---

export interface VariableStats {
  variable: TabularVariable;
  valid: number;
  invalid: number;
  uniques: number;
  /** Numeric variables only. */
  mean?: number;
  median?: number;
  min?: number;
  max?: number;
  stdev?: number;
  /** All valid values are integers. */
  discrete: boolean;
}

function isMissing(raw: string): boolean {
  return raw === '' || raw === 'NA' || raw === '""';
}

/** One pass over the stored .tab computing what prep JSON and DDI report per variable. */
export async function computeStats(store: Store, file: DataFileRec): Promise<VariableStats[]> {
  const t = file.tabular!;
  const numbers: number[][] = t.variables.map(() => []);
  const distinct: Set<string>[] = t.variables.map(() => new Set());
  const invalid = t.variables.map(() => 0);
  const valid = t.variables.map(() => 0);
  let rest = '';
  const takeLine = (line: string) => {
    if (line === '') return;
    const fields = line.split('\t');
    t.variables.forEach((v, i) => {
      const raw = fields[i] ?? '';
      if (isMissing(raw)) {
        invalid[i] += 1;
        return;
      }
      if (v.type === 'numeric') {
        const n = Number(raw);
        if (!Number.isFinite(n)) {
          invalid[i] += 1;
          return;
        }
        numbers[i].push(n);
      }
      valid[i] += 1;
      distinct[i].add(raw);
    });
  };
  for await (const chunk of store.blobs.read(file.blob)) {
    const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    lines.forEach(takeLine);
  }
  takeLine(rest);
  return t.variables.map((variable, i) => {
    const values = numbers[i];
    const stats: VariableStats = {
      variable,
      valid: valid[i],
      invalid: invalid[i],
      uniques: distinct[i].size,
      discrete: values.every(Number.isInteger),
    };
    if (variable.type === 'numeric' && values.length) {
      const sorted = [...values].sort((a, b) => a - b);
      const mean = values.reduce((s, x) => s + x, 0) / values.length;
      const mid = Math.floor(sorted.length / 2);
      stats.mean = mean;
      stats.median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
      stats.min = sorted[0];
      stats.max = sorted[sorted.length - 1];
      stats.stdev =
        values.length > 1 ? Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (values.length - 1)) : 0;
    }
    return stats;
  });
}

// --- "preprocessed" JSON (format=prep) ---

/** The TwoRavens-style summary the real server's preprocessing produces, one entry per variable. */
export function prepJson(stats: VariableStats[]): Buffer {
  const variables: Record<string, Record<string, unknown>> = {};
  for (const s of stats) {
    const numeric = s.variable.type === 'numeric';
    const interval = numeric && !s.discrete ? 'continuous' : 'discrete';
    const nature = numeric ? (s.discrete ? 'ordinal' : 'ratio') : 'nominal';
    variables[s.variable.name] = {
      varnamesSumStat: s.variable.name,
      median: s.median ?? 'NA',
      mean: s.mean ?? 'NA',
      max: s.max ?? 'NA',
      min: s.min ?? 'NA',
      invalid: s.invalid,
      valid: s.valid,
      sd: s.stdev ?? 'NA',
      uniques: s.uniques,
      numchar: numeric ? 'numeric' : 'character',
      nature,
      binary: s.uniques === 2 ? 'yes' : 'no',
      interval,
      varnamesTypes: s.variable.name,
      defaultInterval: interval,
      defaultNumchar: numeric ? 'numeric' : 'character',
      defaultNature: nature,
      defaultBinary: s.uniques === 2 ? 'yes' : 'no',
      labl: '',
    };
  }
  return Buffer.from(JSON.stringify({ dataset: { private: false }, variables }));
}

// --- DDI codeBook (metadata/ddi and the bundle) ---

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(15)));
}

/** DDIExportServiceBean.exportDataFile: fileDscr plus one dataDscr/var per variable. */
export function ddiXml(file: DataFileRec, label: string, stats: VariableStats[]): string {
  const t = file.tabular!;
  const fileId = `f${file.id}`;
  const vars = stats
    .map((s) => {
      const v = s.variable;
      const numeric = v.type === 'numeric';
      const intrvl = numeric && !s.discrete ? 'contin' : 'discrete';
      const sum: string[] = [];
      if (numeric && s.mean !== undefined) {
        sum.push(
          `<sumStat type="medn">${num(s.median!)}</sumStat>`,
          `<sumStat type="min">${num(s.min!)}</sumStat>`,
          `<sumStat type="max">${num(s.max!)}</sumStat>`,
          `<sumStat type="mean">${num(s.mean)}</sumStat>`,
          `<sumStat type="stdev">${num(s.stdev!)}</sumStat>`,
        );
      }
      sum.push(`<sumStat type="vald">${s.valid}</sumStat>`, `<sumStat type="invd">${s.invalid}</sumStat>`);
      return (
        `<var ID="v${v.id}" name="${xml(v.name)}" intrvl="${intrvl}">` +
        `<location fileid="${fileId}"/>` +
        `<labl level="variable">${xml(v.name)}</labl>` +
        sum.join('') +
        `<varFormat type="${numeric ? 'numeric' : 'character'}"/>` +
        `</var>`
      );
    })
    .join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<codeBook xmlns="http://www.icpsr.umich.edu/DDI" version="2.0">` +
    `<fileDscr ID="${fileId}"><fileTxt><fileName>${xml(label)}</fileName>` +
    `<dimensns><caseQnty>${t.caseQuantity}</caseQnty><varQnty>${t.variables.length}</varQnty></dimensns>` +
    `<fileType>${xml(file.contentType)}</fileType></fileTxt>` +
    `<notes level="file" type="VDC:UNF" subject="Universal Numeric Fingerprint">${xml(t.UNF)}</notes>` +
    `</fileDscr>` +
    `<dataDscr>${vars}</dataDscr>` +
    `</codeBook>`
  );
}
