import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream';
import { TextDecoder } from 'node:util';
import { Parser, CsvError } from 'csv-parse';
import iconv from 'iconv-lite';
import { ConfigError, InputError } from '../errors/paybatch-error.js';
import { openXlsx } from './read-xlsx.js';
import type { RawRow } from './raw-row.js';
import { flatten } from '../lib/flatten.js';

/** An opened CSV file: what was sniffed, the header row, and the data records as a stream. */
export interface CsvSource {
  file: string;
  /** The header row exactly as written (BOM removed); duplicates and empty names kept, so reports echo it unchanged. */
  headers: string[];
  delimiter: string;
  /** `utf8`, `windows-1252`, `utf-16le`, … (an iconv-lite name); what reports "in the input's own format" use. */
  encoding: string;
  bom: boolean;
  lineEnding: '\r\n' | '\n';
  /** The file starts with Excel's `sep=X` hint line (skipped; the delimiter is X). A file "in the input's format" repeats it. */
  sepLine: boolean;
  /** About how many data rows the file holds, from its size and its first 64 KiB: for sizing, never for counting. */
  estimatedRows: number;
  /** Data records in file order; iterate once. Throws `InputError` (file + line) on a malformed record. */
  rows: AsyncIterable<RawRow>;
  /**
   * The same records, a batch (one chunk of the file, a few hundred records) at a time: one await per batch instead of
   * one per record, for callers that judge and write in a loop. Iterate either `rows` or `batches`, once, not both.
   */
  batches: AsyncIterable<RawRow[]>;
  /** Stops reading and releases the file (for a caller that will not iterate `rows` to its end). Idempotent. */
  close(): void;
}

export interface OpenCsvOptions {
  /** Force the encoding (`--encoding`): utf8, windows-1252 (aliases cp1252, latin1-ish names), or any iconv-lite name. */
  encoding?: 'utf8' | 'windows-1252' | string;
  /** Force the delimiter (`--delimiter`): one character, or `comma`, `semicolon`, `tab`, `pipe`. */
  delimiter?: string;
  /** The sheet of an Excel workbook to read (`--sheet`); default its first. */
  sheet?: string;
  /** Bytes read from the file at a time (default READ_BYTES): bigger reads mean fewer read calls. */
  readBytes?: number;
  /**
   * Bytes given to csv-parse at a time (default READ_BYTES, at most what was read at once): a batch is the records
   * they end. The reading thread of `openCsvOffThread` reads 64 KiB and posts 32 KiB batches.
   */
  batchBytes?: number;
}

/**
 * Bounds of a file of invoices, far above any real export: beyond them the file is not one (a binary, a log, a quote
 * left open), and reading on would take minutes and gigabytes before saying so.
 */
export const MAX_LINE_BYTES = 1024 * 1024;
export const MAX_RECORD_CHARS = 4 * 1024 * 1024;
export const MAX_COLUMNS = 1000;

/** Bytes looked at to sniff the encoding, the delimiter and the line ending. */
const SAMPLE_BYTES = 64 * 1024;
/**
 * Bytes read at a time, hence the records of one batch. Small enough that a batch, alive while it is judged and
 * written, is rarely caught by a young-generation GC and promoted: that keeps peak memory down at no CPU cost.
 */
const READ_BYTES = 16 * 1024;
const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
const DELIMITER_NAMES: Record<string, string> = { comma: ',', semicolon: ';', tab: '\t', '\\t': '\t', pipe: '|' };

/**
 * Opens a CSV export for streaming, flat memory. Encoding: given, a BOM's, utf8 if a sample is strict UTF-8, else
 * windows-1252; bad bytes later fail with the line and `--encoding`. Extra non-empty cells (a shifted row): refused.
 */
export async function openCsv(file: string, opts: OpenCsvOptions = {}): Promise<CsvSource> {
  const { sample, size } = await readSample(file);
  if (sample.length === 0) throw new InputError('PB_EMPTY_FILE', 'the file is empty: its first line must name the columns (orderId, amount, …)', { file });
  const kind = fileKind(sample);
  if (kind === 'xlsx') return openXlsx(file, { sheet: opts.sheet });
  if (kind !== 'text') throw new InputError('PB_NOT_CSV', `this is ${kind.what}, not a CSV: ${kind.fix}`, { file });
  if (opts.sheet !== undefined) throw new ConfigError('PB_OPTION', `--sheet ${opts.sheet}: ${file} is a CSV file, not an Excel workbook; it has no sheets`);

  const { encoding, bom } = detectEncoding(sample, opts.encoding, file);
  const complete = sample.length < SAMPLE_BYTES;
  let text = iconv.decode(sample, encoding, { stripBOM: true });
  if (!complete) {
    // The sample may end inside a record: sniff on complete lines only.
    const cut = text.lastIndexOf('\n');
    if (cut > 0) text = text.slice(0, cut + 1);
  }
  // Excel writes and honours a first line `sep=;` naming the delimiter.
  const sepHint = text.match(/^sep=([^\r\n"])(\r\n|\r|\n)/i);
  const delimiter = opts.delimiter !== undefined ? parseDelimiterOption(opts.delimiter) : sepHint ? sepHint[1]! : sniffDelimiter(text.replace(/\r(?!\n)/g, '\n'));
  // Old Excel for Mac ends records with a lone CR: csv-parse reads it; lines are counted on CR, and files written
  // "in the input's format" use CRLF (what every spreadsheet today reads).
  const sniffedEnding = sniffLineEnding(text);
  const crOnly = sniffedEnding === '\r';
  const lineEnding = crOnly ? '\r\n' : sniffedEnding;

  const newline = crOnly ? 13 : 10;
  const estimatedRows = estimateRowsFrom(sample, size, newline, complete);
  const reader = createReadStream(file, { highWaterMark: opts.readBytes ?? READ_BYTES });
  const toUtf8 = new ToUtf8(file, encoding, newline, opts.batchBytes ?? READ_BYTES);
  const parser = new BatchingParser(newline === 13 ? '\r' : '\n', {
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    bom: false,
    max_record_size: MAX_RECORD_CHARS,
  });
  // pipeline() destroys every stage when one fails or the consumer stops early; the parser's iterator rethrows.
  pipeline(reader, toUtf8, parser, () => {});
  /** close() was called: the rows end where reading stopped, without an error. */
  let closed = false;
  const close = () => {
    closed = true;
    reader.destroy();
    parser.destroy();
  };
  const batchesIn = parser[Symbol.asyncIterator]() as AsyncIterator<ParsedBatch>;

  const fail = (e: unknown, headers?: string[]): never => {
    const err = toInputError(e, file, parser.nextLine(), headers);
    // A forced delimiter that is not the file's makes quotes land in odd places: say so.
    if (opts.delimiter !== undefined && err instanceof InputError && err.code === 'PB_MALFORMED_CSV') {
      throw new InputError(err.code, `${err.message.replace(/^.*?: /, '')} — or is --delimiter ${opts.delimiter} wrong for this file?`, err.where);
    }
    throw err;
  };

  // The header (and a sep= line before it) are taken one record at a time from the first batches.
  let current: ParsedBatch = { records: [], lines: [] };
  let at = 0;
  const nextRecord = async (): Promise<string[] | undefined> => {
    while (at >= current.records.length) {
      let next: IteratorResult<ParsedBatch>;
      try {
        next = await batchesIn.next();
      } catch (e) {
        return fail(e);
      }
      if (next.done) return undefined;
      current = next.value;
      at = 0;
    }
    return current.records[at++];
  };

  let first = await nextRecord();
  if (first === undefined) throw new InputError('PB_EMPTY_FILE', 'the file has no header row: its first line must name the columns (orderId, amount, …)', { file });
  const sepLine = sepHint !== null && /^sep=$/i.test(first[0] ?? '') && first.slice(1).every((c) => c === '');
  if (sepLine) {
    first = await nextRecord();
    if (first === undefined) throw new InputError('PB_EMPTY_FILE', 'the file has no header row after its sep= line: the header row must name the columns (orderId, amount, …)', { file });
  }
  const headers = first;
  if (headers.length > MAX_COLUMNS) {
    close();
    throw new InputError('PB_TOO_MANY_COLUMNS', `the header row names ${headers.length} columns; paybatch reads at most ${MAX_COLUMNS}: is this the file of invoices, with the right delimiter?`, { file, line: current.lines[at - 1] ?? 1 });
  }

  let index = 0;
  const toRows = (batch: ParsedBatch, from: number): RawRow[] => {
    const out: RawRow[] = new Array(batch.records.length - from);
    for (let k = from; k < batch.records.length; k++) {
      const line = batch.lines[k]!;
      out[k - from] = { index: index++, line, cells: fitToHeaders(batch.records[k]!, headers, file, line, delimiter) };
    }
    return out;
  };
  async function* batches(): AsyncGenerator<RawRow[]> {
    try {
      if (at < current.records.length) yield toRows(current, at);
      while (!closed) {
        let next: IteratorResult<ParsedBatch>;
        try {
          next = await batchesIn.next();
        } catch (e) {
          if (closed) return;
          return fail(e, headers);
        }
        if (next.done) return;
        if (next.value.records.length > 0) yield toRows(next.value, 0);
      }
    } finally {
      await batchesIn.return?.();
      reader.destroy();
    }
  }
  const batched = batches();

  return { file, headers, delimiter, encoding, bom, lineEnding, sepLine, estimatedRows, rows: flatten(batched), batches: batched, close };
}

/**
 * About how many data rows the file holds: size over the sample's bytes per line, less the header. Usually a few
 * percent over (first rows are short, quoted line breaks count).
 */
function estimateRowsFrom(sample: Buffer, size: number, newline: number, complete: boolean): number {
  let lines = 0;
  for (let i = sample.indexOf(newline); i !== -1; i = sample.indexOf(newline, i + 1)) lines++;
  if (complete) return Math.max(0, lines - 1 + (sample.length > 0 && sample[sample.length - 1] !== newline ? 1 : 0));
  return lines === 0 ? 0 : Math.max(0, Math.round((size * lines) / sample.length) - 1);
}

/** The records csv-parse produced from one chunk of the file, and the line each starts on. */
interface ParsedBatch {
  records: string[][];
  lines: number[];
}

/**
 * csv-parse's stream, handing on each chunk's records as one batch with each record's first line, computed from the
 * previous record and `info.empty_lines` instead of csv-parse's per-record `info`.
 */
class BatchingParser extends Parser {
  private batch: ParsedBatch = { records: [], lines: [] };
  /** Line on which the record after the last one pushed would start, were no empty line skipped before it. */
  private after = 1;
  private emptySeen = 0;
  /** csv-parse's `info.lines` when the last record was pushed (it starts at 1: as if a line break came before the first). */
  private linesSeen = 0;

  /** `newline`: the character that ends a line (LF, or CR for old Mac files). */
  constructor(
    private readonly newline: string,
    opts: ConstructorParameters<typeof Parser>[0],
  ) {
    // One parsed batch waits for the consumer, not the stream default of 16: records held that long survive young
    // GCs, which copy and promote them. (A stream option csv-parse passes on to its Transform but does not declare.)
    super({ ...opts, readableHighWaterMark: 1 } as typeof opts);
  }

  /** The line on which the record being parsed now starts (for errors). */
  nextLine(): number {
    return this.after + (this.info.empty_lines - this.emptySeen);
  }

  override push(record: unknown): boolean {
    if (record === null) {
      this.handOn();
      return super.push(null);
    }
    const cells = record as string[];
    const line = this.nextLine();
    const { lines, empty_lines: empty } = this.info;
    // csv-parse counts every CR and LF it reads (a CRLF ending a record once, a CRLF in quotes twice) by the time it
    // pushes the record after them: when it read none since the last record but that record's own line break and the
    // empty lines skipped, no cell holds one and the cells need not be searched.
    const breaks = lines - this.linesSeen - (empty - this.emptySeen);
    this.linesSeen = lines;
    this.emptySeen = empty;
    let spans = 1;
    if (breaks > 1) {
      for (let c = 0; c < cells.length; c++) {
        const cell = cells[c]!;
        for (let i = cell.indexOf(this.newline); i !== -1; i = cell.indexOf(this.newline, i + 1)) spans++;
      }
    }
    this.after = line + spans;
    this.batch.records.push(cells);
    this.batch.lines.push(line);
    return true;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, done: TransformCallback): void {
    super._transform(chunk, encoding, (err?: Error | null) => {
      this.handOn();
      done(err);
    });
  }

  override _flush(done: TransformCallback): void {
    super._flush((err?: Error | null) => {
      this.handOn();
      done(err);
    });
  }

  private handOn(): void {
    if (this.batch.records.length === 0) return;
    const b = this.batch;
    this.batch = { records: [], lines: [] };
    super.push(b);
  }
}

/**
 * What a file is, from its first bytes: a workbook, text (a CSV), or something else named for what it is, rather
 * than parsed as a CSV whose first odd byte would be "a quote inside a value".
 */
export function fileKind(sample: Buffer): 'xlsx' | 'text' | { what: string; fix: string } {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => sample[i] === b);
  const resave = 'save it from its application as .xlsx or CSV';
  const unpack = (what: string, how: string) => ({ what, fix: `${how} first, then give paybatch the CSV or .xlsx inside` });
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    const names = sample.toString('latin1');
    if (names.includes('xl/')) return 'xlsx';
    if (names.includes('opendocument.spreadsheet')) return { what: 'an OpenDocument spreadsheet (.ods)', fix: resave };
    if (names.includes('word/') || names.includes('opendocument.text')) return { what: 'a word-processing document', fix: 'export the invoices as CSV or .xlsx' };
    return unpack('a ZIP archive', 'unzip it');
  }
  if (starts(0x1f, 0x8b)) return unpack('a gzip-compressed file', 'decompress it (gunzip)');
  if (starts(0x42, 0x5a, 0x68)) return unpack('a bzip2-compressed file', 'decompress it (bunzip2)');
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return unpack('an xz-compressed file', 'decompress it (unxz)');
  if (starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return unpack('a 7-Zip archive', 'unpack it');
  if (starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)) return { what: 'an Excel 97-2003 workbook (.xls) or another old Office file', fix: resave };
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return { what: 'a PDF document', fix: 'export the invoices as CSV or .xlsx' };
  if (starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff) || starts(0x47, 0x49, 0x46, 0x38)) return { what: 'an image', fix: 'export the invoices as CSV or .xlsx' };
  // Text in UTF-16 has NUL bytes too: with its BOM, or without (every other byte zero), which the encoding check names.
  const utf16 = starts(0xff, 0xfe) || starts(0xfe, 0xff) || utf16WithoutBom(sample) !== undefined;
  if (!utf16 && sample.subarray(0, 4096).includes(0)) return { what: 'a binary file', fix: 'export the invoices as CSV or .xlsx' };
  return 'text';
}

async function readSample(file: string): Promise<{ sample: Buffer; size: number }> {
  let handle;
  try {
    handle = await open(file, 'r');
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SAMPLE_BYTES, 0);
    const { size } = await handle.stat();
    return { sample: buf.subarray(0, bytesRead), size };
  } catch (e) {
    throw unreadableFile(e, file);
  } finally {
    await handle?.close();
  }
}

/** A file that cannot be opened, as the one line an operator fixes: the path and why (no such file, a folder …). */
export function unreadableFile(e: unknown, file: string): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'this is a folder, not a file' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? 'error'})`;
  return new InputError('PB_FILE_UNREADABLE', why, { file });
}

/** Maps the user's spelling of an encoding to an iconv-lite name. */
export function normaliseEncoding(name: string): string {
  const n = name.trim().toLowerCase().replace(/[\s_]/g, '-');
  if (n === 'utf8' || n === 'utf-8') return 'utf8';
  if (['windows-1252', 'windows1252', 'cp1252', 'win1252', 'win-1252', 'ansi'].includes(n)) return 'windows-1252';
  if (!iconv.encodingExists(n)) throw new ConfigError('PB_ENCODING', `unknown encoding "${name}" (--encoding): use utf8 or windows-1252`);
  return n;
}

function detectEncoding(sample: Buffer, forced: string | undefined, file: string): { encoding: string; bom: boolean } {
  const utf8Bom = sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf;
  const utf16le = sample[0] === 0xff && sample[1] === 0xfe;
  const utf16be = sample[0] === 0xfe && sample[1] === 0xff;
  const bom = utf8Bom || utf16le || utf16be;
  if (forced !== undefined) return { encoding: normaliseEncoding(forced), bom };
  if (utf8Bom) return { encoding: 'utf8', bom };
  if (utf16le) return { encoding: 'utf-16le', bom };
  if (utf16be) return { encoding: 'utf-16be', bom };
  const utf16 = utf16WithoutBom(sample);
  if (utf16) {
    throw new InputError('PB_ENCODING', `the file looks like ${utf16 === 'utf-16le' ? 'UTF-16 little-endian' : 'UTF-16 big-endian'} text without a byte-order mark (every other byte is zero); pass --encoding ${utf16}, or re-save it as "CSV UTF-8"`, { file });
  }
  try {
    // stream: true tolerates a multi-byte character cut by the end of the sample.
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: sample.length >= SAMPLE_BYTES });
    return { encoding: 'utf8', bom: false };
  } catch {
    return { encoding: 'windows-1252', bom: false };
  }
}

/**
 * UTF-16 text without a BOM: ASCII characters put a zero byte beside every character, which no CSV in a single-byte
 * encoding or UTF-8 has. Read as UTF-8 it would be every value with NULs in it: say which encoding it is instead.
 */
function utf16WithoutBom(sample: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  const pairs = Math.floor(Math.min(sample.length, 4096) / 2);
  if (pairs < 2) return undefined;
  let zeroEven = 0;
  let zeroOdd = 0;
  for (let i = 0; i < pairs; i++) {
    if (sample[2 * i] === 0) zeroEven++;
    if (sample[2 * i + 1] === 0) zeroOdd++;
  }
  if (zeroOdd >= pairs * 0.4 && zeroEven <= pairs * 0.05) return 'utf-16le';
  if (zeroEven >= pairs * 0.4 && zeroOdd <= pairs * 0.05) return 'utf-16be';
  return undefined;
}

function parseDelimiterOption(d: string): string {
  const named = DELIMITER_NAMES[d.toLowerCase()];
  if (named) return named;
  if (d.length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw new ConfigError('PB_DELIMITER', `--delimiter must be one character such as , ; | or the word tab (got "${d}")`);
  }
  return d;
}

/** Splits the start of the file into records (quotes respected) and returns the non-empty ones. */
function sampleRecords(text: string, max: number): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < text.length && out.length < max; i++) {
    const ch = text[i];
    if (ch === '"') inQuotes = !inQuotes;
    else if (ch === '\n' && !inQuotes) {
      const rec = text.slice(start, i).replace(/\r$/, '');
      if (rec.trim() !== '') out.push(rec);
      start = i + 1;
    }
  }
  if (out.length < max && start < text.length && !inQuotes) {
    const rec = text.slice(start).replace(/\r$/, '');
    if (rec.trim() !== '') out.push(rec);
  }
  return out;
}

function countOutsideQuotes(record: string, ch: string): number {
  let n = 0;
  let inQuotes = false;
  for (const c of record) {
    if (c === '"') inQuotes = !inQuotes;
    else if (c === ch && !inQuotes) n++;
  }
  return n;
}

/**
 * The delimiter: the candidate (, ; tab |) in the header and equally often in most first records, ties in that order;
 * survives `1 234,56` in a `;` file and quoted commas. No candidate: a one-column file, `,`.
 */
export function sniffDelimiter(text: string): string {
  const recs = sampleRecords(text, 20);
  if (recs.length === 0) return ',';
  let best = ',';
  let bestScore = -1;
  for (const c of CANDIDATE_DELIMITERS) {
    const counts = recs.map((r) => countOutsideQuotes(r, c));
    const header = counts[0]!;
    if (header === 0) continue;
    const consistent = counts.filter((n) => n === header).length;
    const score = consistent * 1000 + Math.min(header, 999);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function sniffLineEnding(text: string): '\r\n' | '\n' | '\r' {
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuotes = !inQuotes;
    else if (c === '\n' && !inQuotes) return '\n';
    else if (c === '\r' && !inQuotes) return text[i + 1] === '\n' ? '\r\n' : i + 1 < text.length ? '\r' : '\n';
  }
  return '\n';
}

function fitToHeaders(cells: string[], headers: string[], file: string, line: number, delimiter: string): string[] {
  if (cells.length === headers.length) return cells;
  if (cells.length < headers.length) return cells.concat(Array<string>(headers.length - cells.length).fill(''));
  const extra = cells.slice(headers.length);
  if (extra.every((c) => c.trim() === '')) return cells.slice(0, headers.length);
  const shown = delimiter === '\t' ? 'tab' : `"${delimiter}"`;
  throw new InputError(
    'PB_RAGGED_ROW',
    `this line has ${cells.length} values but the header row names ${headers.length} columns; a value probably contains the delimiter ${shown} without quotes around it (e.g. an amount like 1,234.56): put that value in double quotes`,
    { file, line },
  );
}

/** Turns the file's bytes into UTF-8 for the parser: validates UTF-8 input, decodes anything else, strips the BOM. */
class ToUtf8 extends Transform {
  private readonly decoder: { write(b: Buffer): string; end(): string | undefined } | undefined;
  private readonly utf8: boolean;
  /** UTF-8 input: the start of a character the last chunk ended in the middle of (checked with the next chunk). */
  private tail: Buffer | undefined;
  private atStart = true;
  /** Line breaks handed on so far (to name the line of a byte that is not UTF-8). */
  private newlines = 0;
  /** Bytes handed on since the last line break (a line longer than MAX_LINE_BYTES stops the reading). */
  private lineBytes = 0;

  constructor(
    private readonly file: string,
    private readonly encoding: string,
    /** The byte that ends a line (LF, or CR for old Mac files). */
    private readonly newline: number,
    /** Bytes handed on at a time (see OpenCsvOptions.batchBytes). */
    private readonly batchBytes: number,
  ) {
    super();
    this.utf8 = encoding === 'utf8';
    if (!this.utf8) this.decoder = iconv.getDecoder(encoding, { stripBOM: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let out: Buffer;
    if (this.utf8) {
      const bad = this.firstInvalid(chunk);
      if (bad >= 0) return done(this.notUtf8(chunk, bad));
      out = chunk;
      if (this.atStart && out[0] === 0xef && out[1] === 0xbb && out[2] === 0xbf) out = out.subarray(3);
    } else {
      out = Buffer.from(this.decoder!.write(chunk), 'utf8');
    }
    this.atStart = false;
    try {
      this.emit1(out);
    } catch (e) {
      return done(e as Error);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.utf8) {
      if (this.tail) {
        return done(new InputError('PB_ENCODING', 'the file ends in the middle of a UTF-8 character; re-save it as UTF-8, or pass --encoding windows-1252', { file: this.file }));
      }
    } else {
      const rest = this.decoder!.end();
      try {
        if (rest) this.emit1(Buffer.from(rest, 'utf8'));
      } catch (e) {
        return done(e as Error);
      }
    }
    done();
  }

  /**
   * Where the chunk stops continuing valid UTF-8 (-1: it does all along). `isUtf8` checks bytes without making a
   * string; a character cut by the chunk's end is checked with the next.
   */
  private firstInvalid(chunk: Buffer): number {
    let start = 0;
    if (this.tail) {
      const need = utf8Length(this.tail[0]!) - this.tail.length;
      if (chunk.length < need) {
        this.tail = Buffer.concat([this.tail, chunk]);
        return -1;
      }
      if (!isUtf8(Buffer.concat([this.tail, chunk.subarray(0, need)]))) return 0;
      this.tail = undefined;
      start = need;
    }
    let cut = chunk.length;
    // Valid UTF-8 never has more than 3 continuation bytes in a row: the last character starts in the last 4 bytes.
    for (let k = chunk.length - 1; k >= Math.max(start, chunk.length - 4); k--) {
      const b = chunk[k]!;
      if ((b & 0xc0) === 0x80) continue;
      if (utf8Length(b) > chunk.length - k) cut = k;
      break;
    }
    if (!isUtf8(chunk.subarray(start, cut))) return firstInvalidFrom(chunk, start);
    if (cut < chunk.length) this.tail = Buffer.from(chunk.subarray(cut));
    return -1;
  }

  private emit1(buf: Buffer): void {
    if (buf.length === 0) return;
    let lineStart = 0;
    for (let i = buf.indexOf(this.newline); i !== -1; i = buf.indexOf(this.newline, i + 1)) {
      this.checkLineLength(this.lineBytes + i - lineStart);
      this.lineBytes = 0;
      lineStart = i + 1;
      this.newlines++;
    }
    this.lineBytes += buf.length - lineStart;
    this.checkLineLength(this.lineBytes);
    // A batch is the records of one chunk given to csv-parse: batchBytes at most, whatever was read at once.
    for (let at = 0; at < buf.length; at += this.batchBytes) this.push(buf.subarray(at, at + this.batchBytes));
  }

  private checkLineLength(bytes: number): void {
    if (bytes <= MAX_LINE_BYTES) return;
    throw new InputError('PB_LINE_TOO_LONG', `this line is longer than ${MAX_LINE_BYTES / (1024 * 1024)} MiB; a line holds one invoice: is this the file of invoices, with the right line endings?`, { file: this.file, line: this.newlines + 1 });
  }

  /** The error for the byte at `bad`, the first of the chunk that is not UTF-8, naming its line. */
  private notUtf8(chunk: Buffer, bad: number): InputError {
    let line = this.newlines + 1;
    for (let i = 0; i < bad; i++) if (chunk[i] === this.newline) line++;
    return new InputError(
      'PB_ENCODING',
      `this line is not valid UTF-8 although the start of the file is; re-save the file as "CSV UTF-8", or pass --encoding windows-1252`,
      { file: this.file, line },
    );
  }
}

/** The first byte from `start` on that does not begin a valid UTF-8 character (the chunk's length if none). */
function firstInvalidFrom(chunk: Buffer, start: number): number {
  for (let i = start; i < chunk.length; ) {
    const len = utf8Length(chunk[i]!);
    if (len === 0 || i + len > chunk.length || !isUtf8(chunk.subarray(i, i + len))) return i;
    i += len;
  }
  return chunk.length;
}

/** The length of the UTF-8 sequence a byte starts (1 for ASCII; 0 for a byte that cannot start one). */
function utf8Length(b: number): number {
  return b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
}

const CSV_ERROR_WORDS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a double quote opened in this record is never closed; close it, or remove it',
  CSV_INVALID_CLOSING_QUOTE: 'a quoted value is followed by other characters before the next delimiter; put the whole value in quotes and double the quotes inside it ("")',
  INVALID_OPENING_QUOTE: 'a double quote appears inside a value that is not in quotes; put the whole value in quotes and double the quotes inside it ("")',
  CSV_INVALID_OPENING_QUOTE: 'a double quote appears inside a value that is not in quotes; put the whole value in quotes and double the quotes inside it ("")',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'this record does not have as many values as the header row',
  CSV_MAX_RECORD_SIZE: `this record is longer than ${MAX_RECORD_CHARS / (1024 * 1024)} MiB; is a quote left open?`,
};

function toInputError(e: unknown, file: string, line: number, headers: string[] | undefined): Error {
  if (e instanceof InputError) return e;
  if (e instanceof CsvError) {
    const words = CSV_ERROR_WORDS[e.code] ?? e.message.replace(/\s+at line \d+.*$/s, '');
    const field = typeof (e as unknown as { column?: unknown }).column === 'number' ? (e as unknown as { column: number }).column : undefined;
    const column = field !== undefined && headers?.[field] ? headers[field] : undefined;
    return new InputError('PB_MALFORMED_CSV', words, { file, line, column });
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code) return new InputError('PB_FILE_UNREADABLE', `cannot read it (${code})`, { file });
  return e instanceof Error ? e : new Error(String(e));
}
