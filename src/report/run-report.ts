import type { CsvSource } from '../csv/read.js';
import { createCsvWriter, type CsvWriter } from '../csv/write.js';
import type { RowOutcome } from '../engine/outcome.js';
import type { JudgedRow } from '../orders/types.js';

/** What paybatch adds after the input's own columns, in this order. */
export const RUN_COLUMNS = [
  'status',
  'paymentOrderId',
  'paymentURL',
  'paymentOrderStatus',
  'errorCode',
  'errorMessage',
  'detailedErrorCode',
  'attempts',
  'line',
  // The normalised values sent (or that would have been), named as in the validate report.
  'amountMinor',
  'currencyCode',
  'channelType',
  'sendTo',
  'expiresAt',
  'note',
  // Where the row was sent: an earlier report is evidence for the ledger only for the same shop and mode.
  'shopId',
  'mode',
  'batchId',
] as const;

/** The shop, mode and batch a report's rows were sent to or judged for. */
export interface ReportScope {
  shopId: string;
  mode: string;
  batchId: string;
}

/** Our columns, renamed `paybatch_<name>` all together if the input already has a column of that name. */
export function reportColumns(inputHeaders: readonly string[]): string[] {
  const taken = new Set(inputHeaders.map((h) => h.trim().toLowerCase()));
  const clash = RUN_COLUMNS.some((c) => taken.has(c.toLowerCase()));
  return RUN_COLUMNS.map((c) => (clash ? `paybatch_${c}` : c));
}

export function outcomeCells(row: JudgedRow, outcome: RowOutcome, scope: ReportScope): string[] {
  const order = row.judgement.ok ? row.judgement.order : undefined;
  const j = row.judgement;
  // An INVALID row may break several rules: say them all, as validate does.
  const errorMessage = !j.ok && outcome.status === 'INVALID' ? (j.problems ?? [j.problem]).map((p) => (p.column ? `${p.column}: ${p.message}` : p.message)).join(' | ') : outcome.errorMessage ?? '';
  return [
    outcome.status,
    outcome.paymentOrderId ?? '',
    outcome.paymentURL ?? '',
    outcome.paymentOrderStatus ?? '',
    outcome.errorCode ?? '',
    errorMessage,
    outcome.detailedErrorCode ?? '',
    String(outcome.attempts),
    String(row.line),
    order ? String(order.amountMinor) : '',
    order?.currency ?? '',
    order?.channel ?? '',
    order?.recipient ?? '',
    order?.expirationDate ?? '',
    outcome.note ?? '',
    scope.shopId,
    scope.mode,
    scope.batchId,
  ];
}

export interface RunReportFiles {
  /** Every input row, in input order: its cells unchanged, then RUN_COLUMNS. UTF-8 with a BOM, the input's delimiter. */
  report: string;
  /** The rows to fix (INVALID, FAILED) in the input's own format, to correct and feed back. */
  toFix: string;
}

export interface RunReportWriter {
  add(row: JudgedRow, outcome: RowOutcome): Promise<void>;
  close(): Promise<void>;
}

/**
 * Streams the report and the rows-to-fix file as rows come (the engine yields them in input order), so memory does not
 * grow with the file.
 */
export function createRunReport(source: CsvSource, files: RunReportFiles, scope: ReportScope): RunReportWriter {
  const width = source.headers.length;
  const report: CsvWriter = createCsvWriter(files.report, {
    headers: [...source.headers, ...reportColumns(source.headers)],
    delimiter: source.delimiter,
    encoding: 'utf8',
    // Excel reads UTF-8 accents only with a BOM; the report is for people first.
    bom: true,
    lineEnding: source.lineEnding,
  });
  const toFix: CsvWriter = createCsvWriter(files.toFix, {
    headers: source.headers,
    delimiter: source.delimiter,
    encoding: source.encoding,
    bom: source.bom,
    lineEnding: source.lineEnding,
    // The rows-to-fix file goes back in as input: it must hold the cells exactly as the user wrote them.
    formulaGuard: false,
  });
  return {
    async add(row, outcome) {
      const cells = row.cells.length >= width ? row.cells.slice(0, Math.max(width, row.cells.length)) : [...row.cells, ...Array(width - row.cells.length).fill('')];
      await report.write([...cells.slice(0, width), ...outcomeCells(row, outcome, scope)]);
      if (outcome.status === 'INVALID' || outcome.status === 'FAILED') await toFix.write(cells.slice(0, width));
    },
    async close() {
      await Promise.all([report.close(), toFix.close()]);
    },
  };
}
