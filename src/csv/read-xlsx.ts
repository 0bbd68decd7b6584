import type { CsvSource } from './read.js';
import { InputError } from '../errors/paybatch-error.js';
import type { RawRow } from './raw-row.js';

/** Rows handed on at a time, as the CSV reader hands a chunk of the file. */
const BATCH_ROWS = 500;

/**
 * Streams the first sheet of an .xlsx (or `sheet`) as rows; `line` is Excel's row number. Cells as Excel shows them:
 * numbers to 15 digits, dates as 2025-03-31, formulas as their result. Reports are CSV.
 */
export async function openXlsx(file: string, opts: { sheet?: string } = {}): Promise<CsvSource> {
  // Loaded only for a workbook: a CSV run never pays for it.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookReader(file, { worksheets: 'emit', sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', entries: 'ignore' });
  let closed = false;
  const unreadable = (e: unknown): InputError =>
    e instanceof InputError ? e : new InputError('PB_FILE_UNREADABLE', `cannot read this Excel workbook (${(e as Error).message}); save it again from Excel, or as CSV`, { file });

  async function* streamedRows(): AsyncGenerator<SheetRow> {
    const seen: string[] = [];
    let found = false;
    for await (const sheet of workbook) {
      const first = (workbook as unknown as { model?: { sheets?: { name: string }[] } }).model?.sheets?.[0]?.name;
      const wanted = opts.sheet ?? first;
      const name = (sheet as unknown as { name: string }).name;
      seen.push(name);
      const chosen = !found && (wanted === undefined || name === wanted);
      // Another sheet is read through all the same: the workbook is one zip stream, read in its order.
      for await (const row of sheet) {
        if (closed) return;
        if (chosen) yield { line: row.number, ...rowCells(row.values as unknown[]) };
      }
      if (chosen) found = true;
    }
    if (!found) {
      throw noSheet(seen);
    }
  }

  const noSheet = (names: string[]): InputError =>
    new InputError('PB_SHEET', opts.sheet !== undefined ? `--sheet ${opts.sheet}: the workbook has no sheet of that name; its sheets are: ${names.map((s) => `"${s}"`).join(', ')}` : 'the workbook has no sheet', { file });

  /**
   * The whole workbook in memory: for a file whose zip puts a sheet before the workbook's own part (the sheet names),
   * which exceljs's streaming reader cannot read. Excel writes that part first; other tools may not.
   */
  async function* loadedRows(): AsyncGenerator<SheetRow> {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const sheet = opts.sheet !== undefined ? wb.worksheets.find((w) => w.name === opts.sheet) : wb.worksheets[0];
    if (!sheet) throw noSheet(wb.worksheets.map((w) => w.name));
    const rows: SheetRow[] = [];
    sheet.eachRow((row, line) => rows.push({ line, ...rowCells(row.values as unknown[]) }));
    for (const r of rows) {
      if (closed) return;
      yield r;
    }
  }

  async function* sheetRows(): AsyncGenerator<SheetRow> {
    let yielded = false;
    try {
      for await (const r of streamedRows()) {
        yielded = true;
        yield r;
      }
    } catch (e) {
      // exceljs's streaming reader meets a sheet before the sheet names: `this.model` is still undefined.
      if (yielded || !(e instanceof TypeError && e.message.includes("reading 'sheets'"))) throw e;
      yield* loadedRows();
    }
  }

  const rowsIn = sheetRows();
  const next = async (): Promise<SheetRow | undefined> => {
    for (;;) {
      let r: IteratorResult<SheetRow>;
      try {
        r = await rowsIn.next();
      } catch (e) {
        throw unreadable(e);
      }
      if (r.done) return undefined;
      if (r.value.cells.some((c) => c.trim() !== '')) return r.value;
    }
  };

  const head = await next();
  if (head === undefined) throw new InputError('PB_EMPTY_FILE', `the sheet${opts.sheet ? ` "${opts.sheet}"` : ''} is empty: its first row must name the columns (orderId, amount, …)`, { file });
  const headers = head.cells;
  const width = headers.length;

  async function* batches(): AsyncGenerator<RawRow[]> {
    let index = 0;
    let batch: RawRow[] = [];
    try {
      for (let r = await next(); r !== undefined && !closed; r = await next()) {
        const extra = r.cells.findIndex((c, i) => i >= width && c.trim() !== '');
        if (extra >= 0) {
          throw new InputError('PB_MALFORMED_CSV', `row ${r.line} has a value in column ${columnLetter(extra)}, which has no header: name the column in row ${head!.line}, or delete the value`, { file, line: r.line });
        }
        const cells = r.cells.length >= width ? r.cells.slice(0, width) : [...r.cells, ...Array<string>(width - r.cells.length).fill('')];
        batch.push({ index: index++, line: r.line, cells, ...(r.numbers.size > 0 ? { numbers: r.numbers } : {}) });
        if (batch.length >= BATCH_ROWS) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      closed = true;
      await rowsIn.return(undefined).catch(() => undefined);
    }
  }
  const batched = batches();
  async function* rows(): AsyncGenerator<RawRow> {
    for await (const b of batched) yield* b;
  }

  return {
    file,
    headers,
    delimiter: ',',
    encoding: 'utf8',
    bom: true,
    lineEnding: '\r\n',
    sepLine: false,
    estimatedRows: 0,
    rows: rows(),
    batches: batched,
    close: () => {
      closed = true;
    },
  };
}

/** One row of the sheet: its cells as text, and which of them were numbers (RawRow.numbers). */
interface SheetRow {
  line: number;
  cells: string[];
  numbers: Set<number>;
}

/** exceljs' row values (1-based, sparse) as text cells from column A, and the indexes of the numeric ones. */
function rowCells(values: unknown[]): { cells: string[]; numbers: Set<number> } {
  const cells: string[] = [];
  const numbers = new Set<number>();
  for (let i = 1; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number' || (typeof v === 'object' && v !== null && typeof (v as { result?: unknown }).result === 'number')) numbers.add(i - 1);
    cells.push(cellText(v));
  }
  return { cells, numbers };
}

/** One cell's value as the text a CSV export of it would hold. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(Number(v.toPrecision(15))) : '';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (v instanceof Date) {
    // Excel's dates have no time zone: exceljs gives the wall-clock time as UTC.
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.slice(0, 19);
  }
  if (typeof v === 'object') {
    const o = v as { richText?: { text: string }[]; result?: unknown; text?: unknown; error?: string; formula?: string; sharedFormula?: string };
    if (Array.isArray(o.richText)) return o.richText.map((t) => t.text).join('');
    if ('result' in o || o.formula !== undefined || o.sharedFormula !== undefined) return cellText(o.result);
    if (o.text !== undefined) return cellText(o.text);
    if (o.error !== undefined) return o.error;
  }
  return String(v);
}

/** 0 → A, 25 → Z, 26 → AA. */
function columnLetter(index: number): string {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}
