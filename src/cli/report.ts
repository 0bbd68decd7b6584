import { rowCount } from '../report/summary.js';
import type { CommandModule } from 'yargs';
import { reportBatch } from '../app/report-batch.js';
import { abortOnSignals, signalExitCode } from '../lib/signals.js';
import { requireRedisTarget } from '../redis/connect.js';
import { queueWaitingNote } from '../report/progress.js';
import { withEnvFile, type LyraArgs } from '../settings/settings.js';
import { scopeFromLyra } from './batch-source.js';
import { toJudgeFileOptions, type InputArgs } from './input-options.js';
import { withLyraOptions } from './lyra-options.js';

interface ReportArgs extends LyraArgs {
  batch: string;
  redis?: string;
  file?: string;
  out?: string;
  'fix-out'?: string;
  'summary-out'?: string;
  wait: boolean;
  json?: boolean;
  prefix?: string;
}

/**
 * The same files as `paybatch run` (report, rows to fix, JSON summary) and the same exit codes: 0 every row CREATED,
 * 1 some row not created, 3 the batch was stopped (auth failure, signal); and 4: not finished yet (--no-wait).
 */
export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <batch>',
  describe: 'queue mode: wait for a batch to finish (or show its progress) and write its report',
  builder: (y) =>
    withLyraOptions(
      y
        .positional('batch', { type: 'string', demandOption: true, describe: 'the batch id printed by enqueue or run' })
        .option('redis', { type: 'string', requiresArg: true, describe: 'Redis URL (env REDIS_URL)' })
        .option('file', { type: 'string', requiresArg: true, describe: 'the batch\'s input file, when it is not at the path it was enqueued from' })
        .option('out', { type: 'string', requiresArg: true, describe: 'report file (default: FILE.report.csv beside the input)' })
        .option('fix-out', { type: 'string', requiresArg: true, describe: 'rows to fix (default: FILE.tofix.csv)' })
        .option('summary-out', { type: 'string', requiresArg: true, describe: 'JSON summary (default: FILE.report.json)' })
        .option('wait', { type: 'boolean', default: true, describe: 'wait for the batch to finish (--no-wait: print progress and exit 4 if unfinished)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
        .option('prefix', { type: 'string', hidden: true }),
    ) as never,
  handler: async (argv) => {
    process.exitCode = await report(argv);
  },
};

async function report(argv: ReportArgs): Promise<number> {
  const batch = argv.batch;
  const stop = abortOnSignals('writing the report of what is finished; the batch goes on');
  let r;
  try {
    r = await reportBatch({
      redis: requireRedisTarget(argv.redis, withEnvFile(argv.envFile)),
      scope: scopeFromLyra(argv),
      batchId: batch,
      ...(argv.file ? { file: argv.file } : {}),
      files: { report: argv.out, toFix: argv['fix-out'], summary: argv['summary-out'] },
      judgeOptions: (input, now) => toJudgeFileOptions(input as InputArgs, now),
      wait: argv.wait,
      signal: stop.signal,
      interruptedExitCode: () => signalExitCode(stop.stoppedBy() ?? 'SIGINT'),
      onWaiting: (done, valid, workers, inFlight) => process.stderr.write(`batch ${batch}: ${done} of ${valid ?? '?'} rows finished; ${queueWaitingNote(workers, inFlight)}\n`),
    });
  } finally {
    stop.dispose();
  }
  if (!r.finished) {
    process.stdout.write(`batch ${batch}: ${r.done} of ${r.valid} rows finished (${r.invalid} invalid, not queued)\n`);
    return 4;
  }
  if (argv.json) {
    process.stdout.write(`${JSON.stringify(r.json, null, 2)}\n`);
  } else {
    const { files } = r.json;
    const lines = [`batch ${batch} (${r.file}): ${rowCount(r.summary.total)}`];
    if (r.aborted) lines.push(`STOPPED: ${r.aborted.message} [${r.aborted.code}] — rows not sent are PENDING; run the file again to send them`);
    lines.push(r.summary.format(['UNCERTAIN', 'FAILED', 'INVALID', 'PENDING', 'CREATED']), `report:  ${files.report}`);
    if (files.toFix) lines.push(`to fix:  ${files.toFix} (same format as the input: correct it and run it again)`);
    lines.push(`summary: ${files.summary}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return r.exitCode;
}
