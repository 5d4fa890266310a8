// A streaming CSV/TSV reader (RFC 4180 with the usual leniencies): quoted
// fields may hold delimiters, doubled quotes and line breaks; rows end at
// \n, \r\n or \r; blank lines are skipped. No installed dependency parses CSV,
// and ingest must not hold a whole file in memory, so text is pushed in chunks.

export class CsvError extends Error {}

export class CsvParser {
  private row: string[] = [];
  private field = '';
  private inQuotes = false;
  /** Saw '"' inside quotes: either an escaped quote or the closing one (decided by the next char). */
  private quotePending = false;
  private skipLF = false;
  /** Whether the current row has anything at all (a blank line does not). */
  private rowStarted = false;
  private fieldStarted = false;

  constructor(
    private readonly delimiter: string,
    private readonly onRow: (fields: string[]) => void,
  ) {}

  push(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (this.skipLF) {
        this.skipLF = false;
        if (ch === '\n') continue;
      }
      if (this.quotePending) {
        this.quotePending = false;
        if (ch === '"') {
          this.field += '"';
          continue;
        }
        this.inQuotes = false; // that was the closing quote; handle ch below
      }
      if (this.inQuotes) {
        if (ch === '"') this.quotePending = true;
        else this.field += ch;
        continue;
      }
      if (ch === this.delimiter) {
        this.row.push(this.field);
        this.field = '';
        this.fieldStarted = false;
        this.rowStarted = true;
      } else if (ch === '\n' || ch === '\r') {
        if (ch === '\r') this.skipLF = true;
        this.endRow();
      } else if (ch === '"' && !this.fieldStarted) {
        this.inQuotes = true;
        this.fieldStarted = true;
        this.rowStarted = true;
      } else {
        this.field += ch;
        this.fieldStarted = true;
        this.rowStarted = true;
      }
    }
  }

  /** The input is complete; throws CsvError for an unterminated quoted field. */
  end(): void {
    if (this.quotePending) {
      this.quotePending = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) throw new CsvError('Unterminated quoted field at the end of the file.');
    this.endRow();
  }

  private endRow(): void {
    if (this.rowStarted) {
      this.row.push(this.field);
      this.onRow(this.row);
    }
    this.row = [];
    this.field = '';
    this.fieldStarted = false;
    this.rowStarted = false;
  }
}
