import { rowCount } from '../report/summary.js';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import type { Validated } from '../app/validate-file.js';
import { ConfigError } from '../errors/paybatch-error.js';
import { dropEarlyReader, readEarly, readingOptions } from '../csv/off-thread/spawn-reader.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { SENDING_KEYS, withJobFile } from './job-file.js';
import { openInputFile } from './stdin-file.js';
import { siblingPath } from '../report/files.js';

interface ValidateArgs extends InputArgs {
  file: string;
  'fix-out'?: string;
  json?: boolean;
}

/**
 * `paybatch validate FILE`: judges every row without credentials or network, writes the report and the rows to fix,
 * prints a summary. Exit 0 every row valid, 1 some invalid, 2 usage or file error (no report left behind).
 */
export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate [file]',
  describe: 'check every row of an invoice CSV and write a report, without sending anything (no credentials needed)',
  builder: (y) =>
    withJobFile(
      y
        .positional('file', { type: 'string', describe: 'the invoice CSV (UTF-8 or Windows-1252; , ; tab or | delimited), - for standard input, or "file" in the --job file' })
        .options(inputOptions)
        .option('out', { type: 'string', requiresArg: true, describe: 'Report file (default: FILE.validation.csv beside the input; never the run\'s FILE.report.csv)' })
        .option('fix-out', { type: 'string', requiresArg: true, describe: 'File for the rows to fix, in the input\'s own format (default: FILE.validation.tofix.csv)' })
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
  const input = await openInputFile(argv.file);
  try {
    return await validateInput(argv, input.read, input.named, now);
  } finally {
    await input.dispose();
  }
}

/** `read`: the file to judge; `named`: what the outputs are named after (they differ for `-`, standard input). */
async function validateInput(argv: ValidateArgs, read: string, named: string, now: Date): Promise<number> {
  const file = argv.file;
  // Names of its own: a validation never overwrites what a run wrote (the report holds every payment link).
  const reportPath = argv.out ?? siblingPath(named, 'validation');
  const fixPath = argv['fix-out'] ?? siblingPath(named, 'validation.tofix');
  for (const [flag, p] of [['--out', reportPath], ['--fix-out', fixPath]] as const) {
    if (resolve(p) === resolve(named)) throw new ConfigError('PB_OPTION', `${flag} ${p} is the input file itself: choose another file`);
  }
  if (resolve(reportPath) === resolve(fixPath)) throw new ConfigError('PB_OPTION', '--out and --fix-out name the same file');

  const judging = toJudgeFileOptions(argv, now);
  const out = { report: reportPath, fix: fixPath };
  const offThread = bigFile(read);
  let validated: Validated;
  try {
    // The reading thread starts on the file before the judging modules load (see startReaderEarly).
    if (offThread) readEarly(read, readingOptions(judging));
    const { validateFile } = await import('../app/validate-file.js');
    validated = await validateFile(read, { ...judging, offThread }, out);
  } finally {
    // Unless validateFile took it: a failure before (an option it refuses) must not leave it holding the process.
    dropEarlyReader();
  }
  const { summary, fixWritten, hints } = validated;
  for (const h of hints) process.stderr.write(`paybatch: ${file}: ${h}\n`);

  const invalid = summary.count('INVALID');
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ file, report: reportPath, toFix: fixWritten ? fixPath : null, hints, ...summary.toJSON() }, null, 2)}\n`);
  } else {
    const lines = [`${file}: ${rowCount(summary.total)} checked, nothing sent`, summary.format(['VALID', 'INVALID']), `report: ${reportPath}`];
    // A workbook's rows to fix are CSV (the reports are never .xlsx): only a CSV keeps its own format.
    if (fixWritten) lines.push(`rows to fix (${invalid}, ${isZip(read) ? "as CSV: the input's columns" : 'same format as the input'}): ${fixPath}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return invalid > 0 ? 1 : 0;
}

/** Files from this size are read on a second thread (csv/off-thread/): its start costs time and memory. */
const THREADS_FROM_BYTES = 4 * 1024 * 1024;

/** A workbook (a ZIP file) is read by exceljs on this thread: the reading thread reads CSV. */
function isZip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.readUInt32BE(0) === 0x504b0304;
  } finally {
    closeSync(fd);
  }
}

function bigFile(file: string): boolean {
  // A file that cannot be stat'ed is read in-process, which names the problem (no such file, a folder …).
  // Synchronous: the early reading thread gets its file before the handler's first await.
  try {
    const s = statSync(file);
    return s.isFile() && s.size >= THREADS_FROM_BYTES && !isZip(file);
  } catch {
    return false;
  }
}
