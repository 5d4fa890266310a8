// Content types of uploaded files, decided the way Dataverse does
// (FileUtil.determineFileType + useRecognizedType): the type the client sent
// for the part, unless the type recognised from the file name is "better".
// We have no JHOVE/content sniffing, so "recognised" means "by file name".
import mime from 'mime-types';

export const OCTET_STREAM = 'application/octet-stream';
export const ZIP = 'application/zip';
export const TAB = 'text/tab-separated-values';

/** Dataverse's MimeTypeDetectionByFileExtension differs from mime-db for these. */
const BY_EXTENSION: Record<string, string> = {
  tsv: 'text/tsv',
  tab: TAB,
};

/** Types FileUtil.canIngestAsTabular accepts that this server can ingest (its TSV_ALT is commented out). */
const CSV_TYPES = ['text/csv', 'text/comma-separated-values'];
const TSV_TYPES = ['text/tsv'];
/** Every type canIngestAsTabular lists (used by useRecognizedType even when we cannot ingest it). */
const TABULAR_TYPES = [
  ...CSV_TYPES,
  ...TSV_TYPES,
  'application/x-stata',
  'application/x-stata-13',
  'application/x-stata-14',
  'application/x-stata-15',
  'application/x-rlang-transport',
  'application/x-spss-sav',
  'application/x-spss-por',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
];

/** "text/csv; charset=x" → "text/csv" (lower case). */
export function baseType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

/** The type recognised from a file name, or undefined. */
export function typeFromName(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  if (dot >= 0) {
    const own = BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
    if (own) return own;
  }
  const t = mime.lookup(name);
  return t === false ? undefined : t;
}

function canIngestAsTabular(type: string): boolean {
  return TABULAR_TYPES.includes(baseType(type));
}

/** FileUtil.useRecognizedType: is the recognised type better than the supplied one? */
function useRecognizedType(supplied: string, recognized: string): boolean {
  const s = baseType(supplied);
  const r = baseType(recognized);
  return (
    s === '' ||
    s === OCTET_STREAM ||
    s === 'application/binary' ||
    (canIngestAsTabular(s) && !CSV_TYPES.includes(s) && s !== 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet') ||
    canIngestAsTabular(r) ||
    r === ZIP
  );
}

/** The final content type of an upload: supplied part type vs. the name's type. */
export function decideContentType(fileName: string, supplied: string): string {
  const recognized = typeFromName(fileName);
  if (recognized && useRecognizedType(supplied, recognized)) return recognized;
  return supplied || OCTET_STREAM;
}

export function isZip(contentType: string): boolean {
  return baseType(contentType) === ZIP;
}

/** CSV or TSV: what this server's tabular ingest handles. */
export function ingestDelimiter(contentType: string): ',' | '\t' | undefined {
  const t = baseType(contentType);
  if (CSV_TYPES.includes(t)) return ',';
  if (TSV_TYPES.includes(t)) return '\t';
  return undefined;
}

/** DataTable.originalFormatLabel for the formats we ingest. */
export function originalFormatLabel(contentType: string): string {
  return ingestDelimiter(contentType) === ',' ? 'Comma Separated Values' : 'Tab-Separated Values';
}

/** FileUtil.generateOriginalExtension (".csv", ".tsv", … or ""). */
export function originalExtension(contentType: string): string {
  const t = baseType(contentType);
  if (t.startsWith('application/x-stata')) return '.dta';
  const table: Record<string, string> = {
    'application/x-spss-sav': '.sav',
    'application/x-spss-por': '.por',
    'application/x-rlang-transport': '.RData',
    'text/csv': '.csv',
    'text/comma-separated-values': '.csv',
    'text/tsv': '.tsv',
    'text/tab-separated-values': '.tsv',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx',
  };
  return table[t] ?? '';
}
