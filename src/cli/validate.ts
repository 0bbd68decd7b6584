import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { createCsvWriter, type CsvWriter } from '../csv/write.js';
import { judgeFile } from '../orders/judge-file.js';
import type { JudgedRow } from '../orders/types.js';
import { Summary } from '../report/summary.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { SENDING_KEYS, withJobFile } from './job-file.js';

interface ValidateArgs extends InputArgs {
  file: string;
  'fix-out'?: string;
  json?: boolean;
}

/** Columns validate adds after the input's own: the verdict, then the normalised values that would be sent. */
export const VALIDATE_COLUMNS = ['status', 'errorCode', 'errorMessage', 'errorColumn', 'line', 'amountMinor', 'currencyCode', 'channelType', 'sendTo', 'expiresAt'] as const;

/** `invoices.csv` → `invoices.<suffix>.csv` beside it (`invoices.report.csv`, `invoices.tofix.csv`). */
export function siblingPath(file: string, suffix: string): string {
  const m = file.match(/^(.*)\.(csv|txt|tsv)$/i);
  return m ? `${m[1]}.${suffix}.${m[2]}` : `${file}.${suffix}.csv`;
}

/** The report cells validate adds for one judged row. */
export function verdictCells(row: JudgedRow): string[] {
  const j = row.judgement;
  if (j.ok) {
    const o = j.order;
    return ['VALID', '', '', '', String(row.line), String(o.amountMinor), o.currency, o.channel, o.recipient, o.expirationDate ?? ''];
  }
  const problems = j.problems ?? [j.problem];
  const message = problems.map((p) => (p.column ? `${p.column}: ${p.message}` : p.message)).join(' | ');
  return ['INVALID', j.problem.code, message, j.problem.column ?? '', String(row.line), '', '', '', '', ''];
}

/**
 * `paybatch validate FILE`: reads and judges every row without credentials or network, writes the report (input columns
 * unchanged, then the verdict) and the rows to fix in the input's own format, prints a summary.
 * Exit 0 every row valid, 1 some invalid, 2 usage or file error (then no report is left behind, half-written or not).
 */
export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate [file]',
  describe: 'check every row of an invoice CSV and write a report, without sending anything (no credentials needed)',
  builder: (y) =>
    withJobFile(
      y
        .positional('file', { type: 'string', describe: 'the invoice CSV (UTF-8 or Windows-1252; , ; tab or | delimited), or "file" in the --job file' })
        .options(inputOptions)
        .option('fix-out', { type: 'string', requiresArg: true, describe: 'File for the rows to fix, in the input\'s own format (default: FILE.tofix.csv)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' })
        .example('$0 validate invoices.csv --currency EUR --channel MAIL', 'check a file before the run')
        .example('$0 validate --job jobs/monthly-mail.json', 'check the file of a job definition')
        .check((a) => {
          if (!a.file) throw new Error('name the invoice file: paybatch validate FILE (or "file" in the --job file)');
          return true;
        }),
      { ignore: SENDING_KEYS },
    ) as never,
  handler: async (argv) => {
    process.exitCode = await validate(argv, new Date());
  },
};

async function validate(argv: ValidateArgs, now: Date): Promise<number> {
  const file = argv.file;
  const reportPath = argv.out ?? siblingPath(file, 'report');
  const fixPath = argv['fix-out'] ?? siblingPath(file, 'tofix');
  for (const [flag, p] of [['--out', reportPath], ['--fix-out', fixPath]] as const) {
    if (resolve(p) === resolve(file)) throw new ConfigError('PB_OPTION', `${flag} ${p} is the input file itself: choose another file`);
  }
  if (resolve(reportPath) === resolve(fixPath)) throw new ConfigError('PB_OPTION', '--out and --fix-out name the same file');

  const { source, batches } = await judgeFile(file, toJudgeFileOptions(argv, now));
  // Written under a temporary name and renamed at the end: a failed run never leaves a report that looks complete.
  const reportTmp = `${reportPath}.partial`;
  const fixTmp = `${fixPath}.partial`;
  const report = createCsvWriter(reportTmp, {
    headers: [...source.headers, ...VALIDATE_COLUMNS],
    delimiter: source.delimiter,
    // The report carries our messages (any character): UTF-8 with a BOM so Excel shows accents right.
    encoding: 'utf8',
    bom: true,
    lineEnding: source.lineEnding,
  });
  let fix: CsvWriter | undefined;
  const summary = new Summary();
  try {
    // One await per batch of rows (a chunk of the file); judging and formatting a batch is one synchronous loop.
    for await (const batch of batches) {
      for (let k = 0; k < batch.length; k++) {
        const row = batch[k]!;
        report.add(row.cells, verdictCells(row));
        const j = row.judgement;
        if (j.ok) {
          summary.add({ status: 'VALID', currency: j.order.currency, amountMinor: j.order.amountMinor });
        } else {
          summary.add({ status: 'INVALID', errorCode: j.problem.code });
          fix ??= createCsvWriter(fixTmp, { headers: source.headers, delimiter: source.delimiter, encoding: source.encoding, bom: source.bom, lineEnding: source.lineEnding, sepLine: source.sepLine });
          fix.add(row.cells);
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
  await rename(reportTmp, reportPath);
  if (fix) await rename(fixTmp, fixPath);

  const invalid = summary.count('INVALID');
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ file, report: reportPath, toFix: fix ? fixPath : null, ...summary.toJSON() }, null, 2)}\n`);
  } else {
    const lines = [`${file}: ${summary.total} ${summary.total === 1 ? 'row' : 'rows'} checked, nothing sent`, summary.format(['VALID', 'INVALID']), `report: ${reportPath}`];
    if (fix) lines.push(`rows to fix (${invalid}, same format as the input): ${fixPath}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return invalid > 0 ? 1 : 0;
}
