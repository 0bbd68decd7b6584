import { createWriteStream } from 'node:fs';
import iconv from 'iconv-lite';
import { PaybatchError } from '../errors/paybatch-error.js';

export interface CsvWriterOptions {
  /** The header row, written first (even when no row follows). */
  headers: string[];
  /** Default `,`. */
  delimiter?: string;
  /** An iconv-lite name; default `utf8`. Reports "in the input's own format" pass the input's. */
  encoding?: string;
  /** Write a byte-order mark first (Excel needs it to read UTF-8 accents). Default false. */
  bom?: boolean;
  /** Default `\n`. */
  lineEnding?: '\r\n' | '\n';
  /** Write Excel's `sep=X` hint line before the header (to reproduce an input that had one). Default false. */
  sepLine?: boolean;
  /** Neutralise cells a spreadsheet would run as a formula (see `neutraliseFormula`). Default true. */
  formulaGuard?: boolean;
}

export interface CsvWriter {
  readonly file: string;
  /** Appends one record; resolves when the stream can take more (back-pressure), rejects when the file cannot be written. */
  write(cells: readonly string[]): Promise<void>;
  /**
   * Appends one record — `cells`, then `more` cells if given — without waiting: for a synchronous loop over a batch of
   * rows, followed by one `await ready()`. Memory: what is added between two `ready()` calls stays in memory.
   */
  add(cells: readonly string[], more?: readonly string[]): void;
  /** As `add`, for a record already formatted as this writer would (`formatCsvRecord`, its delimiter, guard on). */
  addFormatted(record: string): void;
  /** Hands what was added to the file once it fills a chunk; resolves when the stream can take more, rejects when the file cannot be written. */
  ready(): Promise<void>;
  /** Flushes and closes the file; resolves once every byte is handed to the OS. */
  close(): Promise<void>;
}

/**
 * A sign then only digits, spaces, dots and commas (`+33 6 12 34 56 78`, `-1 234,56`): a spreadsheet reads it as a
 * number at worst, never as a formula. Anything else after the sign (`-1+A1`, `+cmd|…`, `+33 (0)6…`) is guarded.
 */
const SIGNED_NUMBER = /^[+\-\uff0b\uff0d][0-9 .,\u00a0\u202f]*$/;

/**
 * OWASP CSV injection: a cell starting with = + - @ tab or CR (or full-width ＝ ＋ － ＠) gets a leading `'`, unless it
 * is a signed number as above, so phone numbers and negative amounts stay intact.
 */
export function neutraliseFormula(cell: string): string {
  if (cell === '') return cell;
  const c = cell[0];
  if (c === '=' || c === '@' || c === '\t' || c === '\r' || c === '\uff1d' || c === '\uff20') return `'${cell}`;
  if ((c === '+' || c === '-' || c === '\uff0b' || c === '\uff0d') && !SIGNED_NUMBER.test(cell)) return `'${cell}`;
  return cell;
}

/** The cell as it was before `neutraliseFormula`: what paybatch reads back from its own reports and exports. */
export function restoreFormula(cell: string): string {
  return cell.length > 1 && cell[0] === "'" && neutraliseFormula(cell.slice(1)) === cell ? cell.slice(1) : cell;
}

/** One CSV record (without line ending): quotes a cell only when it holds the delimiter, a quote, CR or LF. */
export function formatCsvRecord(cells: readonly string[], delimiter = ',', formulaGuard = true): string {
  return appendRecord('', cells, delimiter, formulaGuard);
}

/**
 * One cell as `formatCsvRecord` writes it (formula guard, then quotes if needed): a record is its cells so written,
 * joined by the delimiter. The cell itself when it needs neither.
 */
export function formatCsvCell(cell: string, delimiter = ',', formulaGuard = true): string {
  return formatCell(cell, quoteTrigger(delimiter), formulaGuard);
}

/** `formatCsvCell` for one delimiter, looked up once (for a loop over many cells). */
export function csvCellFormatter(delimiter: string): (cell: string) => string {
  const trigger = quoteTrigger(delimiter);
  return (cell) => formatCell(cell, trigger, true);
}

function formatCell(cell: string, needsQuotes: { test(cell: string): boolean }, formulaGuard: boolean): string {
  const c = formulaGuard ? neutraliseFormula(cell) : cell;
  return needsQuotes.test(c) ? `"${c.replace(/"/g, '""')}"` : c;
}

/**
 * `text` followed by the cells of a record (after a delimiter when `continued`: more cells of the same record), in one
 * pass of string concatenation rather than a map/join per record.
 */
function appendRecord(text: string, cells: readonly string[], delimiter: string, formulaGuard: boolean, continued = false): string {
  let out = text;
  const needsQuotes = quoteTrigger(delimiter);
  for (let k = 0; k < cells.length; k++) {
    const cell = formatCell(cells[k]!, needsQuotes, formulaGuard);
    out = k === 0 && !continued ? out + cell : out + delimiter + cell;
  }
  return out;
}

/** What makes a cell need quotes: the delimiter, a quote, CR or LF. One regular expression per delimiter, kept. */
function quoteTrigger(delimiter: string): { test(cell: string): boolean } {
  let trigger = QUOTE_TRIGGERS.get(delimiter);
  if (!trigger) {
    trigger =
      delimiter.length === 1
        ? new RegExp(`[${delimiter.replace(/[\\\]^-]/g, '\\$&')}"\r\n]`)
        : { test: (c: string) => c.includes(delimiter) || c.includes('"') || c.includes('\n') || c.includes('\r') };
    QUOTE_TRIGGERS.set(delimiter, trigger);
  }
  return trigger;
}
const QUOTE_TRIGGERS = new Map<string, { test(cell: string): boolean }>();

/**
 * Records are gathered into chunks of about this many characters before they are encoded; not more, since waiting
 * records keep their rows' text alive through young-generation GCs (bench/notes.md, `src/csv/write.ts`).
 */
const CHUNK_CHARS = 16 * 1024;
/** Encoded bytes handed to the file stream at once. */
const WRITE_BYTES = 256 * 1024;

/** A streaming CSV writer: memory flat whatever the row count; honours the file stream's back-pressure. */
export function createCsvWriter(file: string, opts: CsvWriterOptions): CsvWriter {
  const delimiter = opts.delimiter ?? ',';
  const encoding = opts.encoding ?? 'utf8';
  const eol = opts.lineEnding ?? '\n';
  const guard = opts.formulaGuard ?? true;
  const out = createWriteStream(file);
  let failure: PaybatchError | undefined;
  out.on('error', (e: NodeJS.ErrnoException) => {
    failure ??= unwritableFile(e, file);
  });

  let first = true;
  let pending = '';
  const encode = (text: string): Buffer => (encoding === 'utf8' ? Buffer.from(text, 'utf8') : iconv.encode(text, encoding));
  // Encoded chunks wait here until WRITE_BYTES are ready: fewer write calls, each costly on the caller's thread. Not a
  // bigger string instead: V8 keeps a large string in its large-object space, which only full collections free.
  let encoded: Buffer[] = [];
  let encodedBytes = 0;

  const push = (text: string, last = false): Promise<void> => {
    if (failure) return Promise.reject(failure);
    if (text) {
      const b = encode(text);
      encoded.push(b);
      encodedBytes += b.length;
    }
    if (encodedBytes < WRITE_BYTES && !last) return Promise.resolve();
    const chunk = encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded, encodedBytes);
    encoded = [];
    encodedBytes = 0;
    if (chunk.length === 0 || out.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = () => {
        out.off('drain', onDrain);
        reject(failure);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  };
  const flush = (last = false): Promise<void> => {
    const text = pending;
    pending = '';
    return text || last ? push(text, last) : Promise.resolve();
  };
  const header = () => {
    if (!first) return '';
    first = false;
    return (opts.bom ? '\uFEFF' : '') + (opts.sepLine ? `sep=${delimiter}${eol}` : '') + formatCsvRecord(opts.headers, delimiter, guard) + eol;
  };

  const writer: CsvWriter = {
    file,
    write(cells) {
      if (failure) return Promise.reject(failure);
      writer.add(cells);
      return writer.ready();
    },
    add(cells, more) {
      let text = appendRecord(pending + header(), cells, delimiter, guard);
      if (more) text = appendRecord(text, more, delimiter, guard, cells.length > 0);
      pending = text + eol;
    },
    addFormatted(record) {
      pending = pending + header() + record + eol;
    },
    ready() {
      if (failure) return Promise.reject(failure);
      return pending.length >= CHUNK_CHARS ? flush() : Promise.resolve();
    },
    async close() {
      pending = header() + pending;
      await flush(true);
      if (failure) {
        out.destroy();
        throw failure;
      }
      await new Promise<void>((resolve, reject) => {
        out.once('error', () => reject(failure));
        out.end(() => resolve());
      });
      if (failure) throw failure;
    },
  };
  return writer;
}

/** A file that cannot be written, as one line naming it (a missing folder, no permission, a full disk). */
export function unwritableFile(e: NodeJS.ErrnoException, file: string): PaybatchError {
  return new PaybatchError('PB_WRITE', `${file}: cannot write the file (${e.code ?? e.message})`, 2);
}
