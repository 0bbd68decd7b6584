import { batchExitCode, discardReport, partialNames, publishReport } from '../report/finish.js';
import { abortOnSignals, signalExitCode } from '../lib/signals.js';
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { checkWritablePaths } from '../lib/writable-paths.js';
import { queueWaitingNote } from '../report/progress.js';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import { countDone, readBatchInfo } from '../engine/queue/batch.js';
import { connectRedis, requireRedisTarget } from '../redis/connect.js';
import { judgeFile } from '../orders/judge-file.js';
import { createRunReport, summaryRow } from '../report/run-report.js';
import { Summary } from '../report/summary.js';
import { toJudgeFileOptions } from './input-options.js';
import { withLyraOptions } from './lyra-options.js';
import type { LyraArgs } from '../settings/settings.js';
import { siblingPath } from './validate.js';
import { scopeFromLyra, withIpnTarget, type QueueBatchSource } from './batch-source.js';

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
  const target = requireRedisTarget(argv.redis, process.env);
  const scope = scopeFromLyra(argv);
  const redis = await connectRedis(target, 'producer');
  let info;
  try {
    info = await readBatchInfo(redis, scope, argv.batch);
  } finally {
    redis.disconnect();
  }
  if (!info) throw new ConfigError('PB_BATCH', `no batch ${argv.batch} for shop ${scope.shopId} (${scope.mode}) in this Redis: check the id, the shop settings and --redis`);
  const source = info.source as QueueBatchSource | undefined;
  const file = argv.file ?? source?.file;
  if (!source || !file) throw new ConfigError('PB_BATCH', `batch ${argv.batch} has no input file recorded: it was not enqueued by paybatch enqueue/run`);
  if (!existsSync(file)) throw new ConfigError('PB_BATCH', `batch ${argv.batch} was read from ${file}, which is not on this machine: pass --file PATH`);

  if (!argv.wait && info.state === 'enqueued') {
    // Progress only: cheap, no report written until the batch is done.
    const r = await connectRedis(target, 'producer');
    try {
      const done = await countDone(r, scope, argv.batch);
      if (done < info.valid) {
        process.stdout.write(`batch ${argv.batch}: ${done} of ${info.valid} rows finished (${info.invalid} invalid, not queued)\n`);
        return 4;
      }
    } finally {
      r.disconnect();
    }
  }

  const now = new Date(source.now);
  const { source: csv, rows } = await judgeFile(file, toJudgeFileOptions(source.input, now));
  const reportPath = argv.out ?? siblingPath(file, 'report');
  const fixPath = argv['fix-out'] ?? siblingPath(file, 'tofix');
  const summaryPath = argv['summary-out'] ?? `${siblingPath(file, 'report').replace(/\.(csv|txt|tsv)$/i, '')}.json`;
  for (const p of [reportPath, fixPath, summaryPath]) if (resolve(p) === resolve(file)) throw new ConfigError('PB_OPTION', `${p} is the input file itself: choose another name`);
  await checkWritablePaths([
    { path: reportPath, setting: '--out' },
    { path: fixPath, setting: '--fix-out' },
    { path: summaryPath, setting: '--summary-out' },
  ]).catch((e: unknown) => {
    csv.close();
    throw e;
  });
  const tmp = partialNames({ report: reportPath, toFix: fixPath });
  const writer = createRunReport(csv, tmp, { shopId: scope.shopId, mode: scope.mode, batchId: argv.batch });
  const summary = new Summary();
  const stop = abortOnSignals('writing the report of what is finished; the batch goes on');
  let aborted: { code: string; message: string } | undefined;
  try {
    const { followBatch } = await import('../engine/queue/run-queued.js');
    const it = followBatch({
      redis: target,
      scope,
      batchId: argv.batch,
      rows: withIpnTarget(rows, source.ipnTargetUrl),
      signal: stop.signal,
      onWaiting: (done, valid, workers, inFlight) => process.stderr.write(`batch ${argv.batch}: ${done} of ${valid ?? '?'} rows finished; ${queueWaitingNote(workers, inFlight)}\n`),
    });
    for (;;) {
      const n = await it.next();
      if (n.done) {
        aborted = n.value.aborted;
        break;
      }
      const { row, outcome } = n.value;
      await writer.add(row, outcome);
      summary.add(summaryRow(row, outcome));
    }
    await writer.close();
    if (stop.signal.aborted) throw new PaybatchError('PB_INTERRUPTED', `report interrupted: the batch goes on; run paybatch report ${argv.batch} again to wait for it`, signalExitCode(stop.stoppedBy() ?? 'SIGINT'));
  } catch (e) {
    csv.close();
    await writer.close().catch(() => {});
    await discardReport(tmp);
    throw e;
  } finally {
    stop.dispose();
  }
  const toFix = summary.count('INVALID') + summary.count('FAILED');
  await publishReport(tmp, { report: reportPath, toFix: fixPath }, toFix);
  const exitCode = batchExitCode(summary, aborted);
  const json = {
    file,
    batchId: argv.batch,
    engine: 'queue',
    startedAt: info.createdAt,
    exitCode,
    ...(aborted ? { aborted } : {}),
    files: { report: reportPath, ...(toFix ? { toFix: fixPath } : {}), summary: summaryPath },
    ...summary.toJSON(),
  };
  await writeFile(summaryPath, `${JSON.stringify(json, null, 2)}\n`);
  if (argv.json) {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const lines = [`batch ${argv.batch} (${file}): ${summary.total} rows`];
    if (aborted) lines.push(`STOPPED: ${aborted.message} [${aborted.code}] — rows not sent are PENDING; run the file again to send them`);
    lines.push(summary.format(['UNCERTAIN', 'FAILED', 'INVALID', 'PENDING', 'CREATED']), `report:  ${reportPath}`);
    if (toFix) lines.push(`to fix:  ${fixPath} (same format as the input: correct it and run it again)`);
    lines.push(`summary: ${summaryPath}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return exitCode;
}
