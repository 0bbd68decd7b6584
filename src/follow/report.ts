import { basename, dirname, join } from 'node:path';
import { createCsvWriter } from '../csv/write.js';
import { rowsExitCode } from '../report/finish.js';
import { formatMinor } from '../orders/currencies.js';
import { tallyCounts, tallyResults } from './tally.js';
import { NOT_DONE, type FollowResult } from './types.js';
import type { ActionRow } from './cancel.js';
import type { StatusRow } from './status.js';

export const STATUS_COLUMNS = ['orderId', 'result', 'ledgerState', 'paymentOrderId', 'paymentURL', 'paymentOrderStatus', 'amount', 'currency', 'lastChange', 'errorCode', 'errorMessage'] as const;
export const ACTION_COLUMNS = ['orderId', 'result', 'paymentOrderId', 'paymentOrderStatus', 'amount', 'currency', 'changes', 'errorCode', 'errorMessage', 'attempts'] as const;

/** `invoices.csv` / `invoices.report.csv` → `invoices.<kind>.csv` beside it. */
export function defaultReportPath(file: string, kind: 'status' | 'update' | 'cancel'): string {
  const base = basename(file).replace(/(\.report)?\.(csv|txt|tsv|xlsx|xlsm)$/i, '');
  return join(dirname(file), `${base}.${kind}.csv`);
}

const amount = (minor: number | undefined, currency: string | undefined): string => (minor !== undefined && currency ? formatMinor(minor, currency) : '');

export function statusCells(r: StatusRow): string[] {
  return [r.orderId, r.result, r.ledgerState ?? '', r.paymentOrderId ?? '', r.paymentURL ?? '', r.paymentOrderStatus ?? '', amount(r.amountMinor, r.currency), r.currency ?? '', r.lastChange ?? '', r.errorCode ?? '', r.errorMessage ?? ''];
}

export function actionCells(r: ActionRow): string[] {
  return [r.orderId, r.result, r.paymentOrderId ?? '', r.paymentOrderStatus ?? '', amount(r.amountMinor, r.currency), r.currency ?? '', r.changes ?? '', r.errorCode ?? '', r.errorMessage ?? '', r.attempts?.toString() ?? ''];
}

/** Writes a follow-up report (UTF-8, comma, formula-guarded like every paybatch report). */
export async function writeReport<R>(file: string, headers: readonly string[], rows: readonly R[], cells: (r: R) => string[]): Promise<void> {
  const w = createCsvWriter(file, { headers: [...headers] });
  try {
    for (const r of rows) await w.write(cells(r));
  } finally {
    await w.close();
  }
}

/**
 * The end of `cancel` and `update`: the report, the tally, the authentication failure if any, and the exit code.
 * `verb`: what the command does to an order, in the past tense ("cancelled", "updated").
 */
export async function finishActions(
  out: string,
  run: { rows: ActionRow[]; authFailure?: { code: string }; aborted: boolean },
  opts: { verb: string; dryRun: boolean; json?: { file: string } },
): Promise<0 | 1 | 3> {
  await writeReport(out, ACTION_COLUMNS, run.rows, actionCells);
  if (run.authFailure) process.stderr.write(`paybatch: authentication failed (${run.authFailure.code}): check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD; nothing more was ${opts.verb}\n`);
  const exitCode = followExitCode(run);
  if (opts.json) {
    const results = Object.fromEntries(tallyCounts(run.rows));
    process.stdout.write(`${JSON.stringify({ file: opts.json.file, report: out, dryRun: opts.dryRun, exitCode, orders: run.rows.length, results }, null, 2)}\n`);
    return exitCode;
  }
  process.stdout.write(`${opts.dryRun ? `dry run, nothing ${opts.verb}: ` : ''}${tallyResults(run.rows)}\n`);
  process.stdout.write(`report: ${out}\n`);
  return exitCode;
}

/** A follow-up's rows are done unless FAILED, UNCERTAIN or PENDING (see rowsExitCode). */
export function followExitCode(run: { rows: readonly { result: FollowResult }[]; authFailure?: unknown; aborted: boolean }): 0 | 1 | 3 {
  return rowsExitCode(!!run.authFailure || run.aborted, !run.rows.some((r) => NOT_DONE.has(r.result)));
}
