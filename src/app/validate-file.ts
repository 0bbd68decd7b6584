import { rm, stat } from 'node:fs/promises';
import { checkWritablePaths } from '../lib/writable-paths.js';
import { replaceFile } from '../lib/replace-file.js';
import { createCsvWriter, formatCsvCell, formatCsvRecord, type CsvWriter } from '../csv/write.js';
import { judgeFile, type JudgeFileOptions } from '../orders/judge-file.js';
import type { JudgedRow } from '../orders/types.js';
import { Summary } from '../report/summary.js';
import { fixCells, fixLayout, problemsMessage, reportColumns } from '../report/run-report.js';
import { formatMinor } from '../orders/currencies.js';
import { YoungGenerationCap } from '../lib/young-generation.js';

/** The young generation of the judging thread when the file is read on another (see YoungGenerationCap). */
const YOUNG_MB = 8;

export interface ValidateFiles {
  /** The report: every row, input columns unchanged, then REPORT_COLUMNS (the sending ones empty). */
  report: string;
  /** The rows to fix, in the input's own format with the reason beside them; written only if a row is invalid, else removed. */
  fix: string;
}

export interface Validated {
  summary: Summary;
  /** The rows-to-fix file was written (some row is invalid). */
  fixWritten: boolean;
  /** Columns not read that look like a misspelt field, with the fix (Mapping.hints). */
  hints: string[];
}

/** The report cells validate adds for one judged row: REPORT_COLUMNS, with nothing sent (so no shop, mode or batch). */
export function verdictCells(row: JudgedRow): string[] {
  const j = row.judgement;
  if (j.ok) {
    const o = j.order;
    return ['VALID', '', '', '', '', '', '', '', '', String(row.line), formatMinor(o.amountMinor, o.currency), o.currency, o.channel, o.recipient, o.expirationDate ?? '', '', '', '', ''];
  }
  return ['INVALID', '', '', '', j.problem.code, problemsMessage(j), j.problem.column ?? '', '', '', String(row.line), '', '', '', '', '', '', '', '', ''];
}

/**
 * `verdictCells(row)` as a CSV record (`formatCsvRecord`), for a valid row without formatting each cell: they are our
 * own values (an amount, codes, an ISO date), only the recipient can need quotes or the formula guard.
 */
export function verdictCsv(row: JudgedRow, delimiter: string): string {
  const j = row.judgement;
  if (!j.ok) return formatCsvRecord(verdictCells(row), delimiter);
  const o = j.order;
  const d = delimiter;
  const to = formatCsvCell(o.recipient, d);
  return `VALID${d}${d}${d}${d}${d}${d}${d}${d}${d}${row.line}${d}${formatMinor(o.amountMinor, o.currency)}${d}${o.currency}${d}${o.channel}${d}${to}${d}${o.expirationDate ?? ''}${d}${d}${d}${d}`;
}

/**
 * Reads and judges every row of `file`, writes the report and the rows to fix under temporary names and renames them
 * at the end: a failed check (malformed record, unreadable file …) throws and leaves neither behind.
 */
export async function validateFile(file: string, opts: JudgeFileOptions, out: ValidateFiles): Promise<Validated> {
  const { source, batches, mapping } = await judgeFile(file, opts);
  await checkWritablePaths([
    { path: out.report, setting: '--out', atLeastBytes: (await stat(file)).size },
    { path: out.fix, setting: '--fix-out' },
  ]).catch((e: unknown) => {
    source.close();
    throw e;
  });
  const reportTmp = `${out.report}.partial`;
  const fixTmp = `${out.fix}.partial`;
  const report = createCsvWriter(reportTmp, {
    headers: [...source.headers, ...reportColumns(source.headers)],
    delimiter: source.delimiter,
    // The report carries our messages (any character): UTF-8 with a BOM so Excel shows accents right.
    encoding: 'utf8',
    bom: true,
    lineEnding: source.lineEnding,
  });
  let fix: CsvWriter | undefined;
  const fixing = fixLayout(source.headers);
  const d = source.delimiter;
  const summary = new Summary();
  // Reading on a second thread, this one only judges and writes: a small young generation is enough (YoungGenerationCap).
  const young = opts.offThread ? new YoungGenerationCap(YOUNG_MB) : undefined;
  try {
    // One await per batch of rows (a chunk of the file); judging and formatting a batch is one synchronous loop.
    for await (const batch of batches) {
      young?.tick();
      for (let k = 0; k < batch.length; k++) {
        const row = batch[k]!;
        report.addFormatted(`${row.csv ?? formatCsvRecord(row.cells, d)}${d}${verdictCsv(row, d)}`);
        const j = row.judgement;
        if (j.ok) {
          summary.add({ status: 'VALID', currency: j.order.currency, amountMinor: j.order.amountMinor });
        } else {
          summary.add({ status: 'INVALID', errorCode: j.problem.code });
          fix ??= createCsvWriter(fixTmp, { headers: fixing.headers, delimiter: source.delimiter, encoding: source.encoding, bom: source.bom, lineEnding: source.lineEnding, sepLine: source.sepLine, formulaGuard: false });
          fix.add(fixCells(row.cells, fixing, problemsMessage(j)));
        }
      }
      await report.ready();
      await fix?.ready();
    }
    await report.close();
    await fix?.close();
  } catch (e) {
    source.close();
    await report.close().catch(() => {});
    await fix?.close().catch(() => {});
    await rm(reportTmp, { force: true });
    await rm(fixTmp, { force: true });
    throw e;
  }
  await replaceFile(reportTmp, out.report);
  // A clean check removes the rows to fix an earlier check left: they are fixed now, and a stale file would be sent.
  if (fix) await replaceFile(fixTmp, out.fix);
  else await rm(out.fix, { force: true });
  return { summary, fixWritten: fix !== undefined, hints: mapping.hints };
}
