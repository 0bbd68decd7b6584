import type { CsvSource } from '../csv/read.js';
import { createCsvWriter, type CsvWriter } from '../csv/write.js';
import type { RowOutcome } from '../engine/outcome.js';
import type { SentSummary } from '../ledger/ledger.js';
import { formatMinor } from '../orders/currencies.js';
import { FIX_REASON_COLUMN } from '../orders/fields.js';
import type { JudgedRow } from '../orders/types.js';
import type { SummaryRow } from './summary.js';

/**
 * What paybatch adds after the input's own columns, in this order: the same for `validate` (which leaves the sending
 * columns empty) and `run`, so a validation report and a run report read alike.
 */
export const REPORT_COLUMNS = [
  'status',
  'paymentOrderId',
  'paymentURL',
  'paymentOrderStatus',
  'errorCode',
  'errorMessage',
  'errorColumn',
  'detailedErrorCode',
  'attempts',
  'line',
  // The order: the one that exists (CREATED), else the one the row would send, normalised.
  'orderAmount',
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
  const clash = REPORT_COLUMNS.some((c) => taken.has(c.toLowerCase()));
  return REPORT_COLUMNS.map((c) => (clash ? `paybatch_${c}` : c));
}

/** Every problem of an INVALID row in one message (`amount: … | email: …`), as both reports and the rows to fix say it. */
export function problemsMessage(j: Extract<JudgedRow['judgement'], { ok: false }>): string {
  return (j.problems ?? [j.problem]).map((p) => (p.column ? `${p.column}: ${p.message}` : p.message)).join(' | ');
}

/**
 * The order a row stands for: the one that exists when the ledger knows it (an earlier run's, whatever the row says
 * now), else the one the row would send.
 */
export function shownOrder(row: JudgedRow, outcome?: RowOutcome): SentSummary | undefined {
  return outcome?.order ?? (row.judgement.ok ? row.judgement.order : undefined);
}

/** What the run summary counts of one row: the totals are those of the orders that exist. */
export function summaryRow(row: JudgedRow, outcome: RowOutcome): SummaryRow {
  const order = shownOrder(row, outcome);
  return { status: outcome.status, errorCode: outcome.errorCode, ...(order ? { currency: order.currency, amountMinor: order.amountMinor } : {}) };
}

export function outcomeCells(row: JudgedRow, outcome: RowOutcome, scope: ReportScope): string[] {
  const order = shownOrder(row, outcome);
  const j = row.judgement;
  // An INVALID row may break several rules: say them all, as validate does.
  const invalid = !j.ok && outcome.status === 'INVALID' ? j : undefined;
  return [
    outcome.status,
    outcome.paymentOrderId ?? '',
    outcome.paymentURL ?? '',
    outcome.paymentOrderStatus ?? '',
    outcome.errorCode ?? '',
    invalid ? problemsMessage(invalid) : outcome.errorMessage ?? '',
    invalid?.problem.column ?? '',
    outcome.detailedErrorCode ?? '',
    String(outcome.attempts),
    String(row.line),
    order ? formatMinor(order.amountMinor, order.currency) : '',
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

/**
 * The rows-to-fix file: the input's columns, then FIX_REASON_COLUMN saying what to fix (reading ignores it, so the file
 * goes back in as it is). An input that is itself such a file keeps its column, with the new reason.
 */
export function fixLayout(inputHeaders: readonly string[]): { headers: string[]; width: number; reasonAt: number } {
  const at = inputHeaders.findIndex((h) => h.trim() === FIX_REASON_COLUMN);
  return at >= 0 ? { headers: [...inputHeaders], width: inputHeaders.length, reasonAt: at } : { headers: [...inputHeaders, FIX_REASON_COLUMN], width: inputHeaders.length, reasonAt: inputHeaders.length };
}

/** One row of the rows-to-fix file: its cells as the user wrote them, padded to the header, and the reason. */
export function fixCells(cells: readonly string[], layout: { width: number; reasonAt: number }, reason: string): string[] {
  const out = cells.length >= layout.width ? cells.slice(0, layout.width) : [...cells, ...Array<string>(layout.width - cells.length).fill('')];
  out[layout.reasonAt] = reason;
  return out;
}

/** Why a row is to fix: its problems (INVALID) or the platform's answer (FAILED). */
export function fixReason(row: JudgedRow, outcome: RowOutcome): string {
  if (!row.judgement.ok) return problemsMessage(row.judgement);
  return [outcome.errorCode, outcome.errorMessage].filter(Boolean).join(': ');
}

export interface RunReportFiles {
  /** Every input row, in input order: its cells unchanged, then REPORT_COLUMNS. UTF-8 with a BOM, the input's delimiter. */
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
  const fix = fixLayout(source.headers);
  const toFix: CsvWriter = createCsvWriter(files.toFix, {
    headers: fix.headers,
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
      if (outcome.status === 'INVALID' || outcome.status === 'FAILED') await toFix.write(fixCells(row.cells, fix, fixReason(row, outcome)));
    },
    async close() {
      await Promise.all([report.close(), toFix.close()]);
    },
  };
}
