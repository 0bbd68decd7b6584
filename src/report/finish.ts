import { rm } from 'node:fs/promises';
import { replaceFile } from '../lib/replace-file.js';
import type { Summary } from './summary.js';

/**
 * The end of every command that writes a report (run, report BATCH, validate): files are written under `.partial`
 * names and take their real names only once complete, so a crash never leaves a report that looks finished.
 */
export interface ReportFiles {
  report: string;
  toFix: string;
}

export function partialNames(files: ReportFiles): ReportFiles {
  return { report: `${files.report}.partial`, toFix: `${files.toFix}.partial` };
}

/** Gives the finished files their names; the rows-to-fix file only when it has rows (else it is removed). */
export async function publishReport(partial: ReportFiles, files: ReportFiles, toFixRows: number): Promise<{ report: string; toFix?: string }> {
  await replaceFile(partial.report, files.report);
  if (toFixRows > 0) await replaceFile(partial.toFix, files.toFix);
  else await rm(partial.toFix, { force: true });
  return { report: files.report, ...(toFixRows > 0 ? { toFix: files.toFix } : {}) };
}

/** A report that will not be finished: its partial files go. */
export async function discardReport(partial: ReportFiles): Promise<void> {
  await Promise.all([rm(partial.report, { force: true }), rm(partial.toFix, { force: true })]);
}

/**
 * The exit code of every command that handles rows (run, report BATCH, status, update, cancel): 0 every row done, 1 some
 * not, 3 stopped before the end (auth failure, circuit breaker, signal); 2 (usage, file) is thrown before any row.
 */
export function rowsExitCode(stopped: boolean, everyRowDone: boolean): 0 | 1 | 3 {
  if (stopped) return 3;
  return everyRowDone ? 0 : 1;
}

/** A batch's rows are done when CREATED. */
export function batchExitCode(summary: Summary, aborted: unknown): 0 | 1 | 3 {
  return rowsExitCode(!!aborted, summary.count('CREATED') === summary.total);
}
