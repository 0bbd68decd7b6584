import { rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import { countDone, readBatchInfo } from '../engine/queue-batch.js';
import { followBatch } from '../engine/queue.js';
import type { QueueScope } from '../engine/queue-keys.js';
import { connectRedis, requireRedisTarget } from '../engine/redis-preflight.js';
import { modeOfPassword } from '../lyra/mode.js';
import { judgeFile } from '../orders/judge-file.js';
import { createRunReport } from '../report/run-report.js';
import { Summary } from '../report/summary.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { lyraOptionsFrom, withLyraOptions, type LyraArgs } from './lyra-options.js';
import { siblingPath } from './validate.js';

/**
 * Stored with a batch in Redis: how its file was judged, so `paybatch report` (on any machine that can read the file)
 * judges it again identically — `now` included, since relative expiry dates (--expires-in) depend on it.
 */
export interface QueueBatchSource {
  file: string;
  input: InputArgs;
  now: string;
}

const INPUT_KEYS = Object.keys(inputOptions) as (keyof InputArgs)[];

/** The batch source of a run or enqueue: the absolute file path, the shared input options as given, the run's clock. */
export function batchSource(file: string, argv: InputArgs, now: Date): QueueBatchSource {
  const input: InputArgs = {};
  for (const k of INPUT_KEYS) if (argv[k] !== undefined && k !== 'out') (input as Record<string, unknown>)[k] = argv[k];
  return { file: resolve(file), input, now: now.toISOString() };
}

/** The queue scope (shop + mode) from the Lyra settings: a queue belongs to one shop in one mode. */
export function scopeFromLyra(argv: LyraArgs & { prefix?: string }): QueueScope {
  const lyra = lyraOptionsFrom(argv);
  const mode = modeOfPassword(lyra.password)!;
  return { shopId: lyra.shopId, mode, ...(argv.prefix ? { prefix: argv.prefix } : {}) };
}

interface ReportArgs extends LyraArgs {
  batch: string;
  redis?: string;
  file?: string;
  out?: string;
  'fix-out'?: string;
  wait: boolean;
  json?: boolean;
  prefix?: string;
}

/** Exit codes: 0 every row CREATED; 1 some row not created (INVALID, FAILED, UNCERTAIN, PENDING); 4 not finished (--no-wait). */
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
        .option('fix-out', { type: 'string', requiresArg: true, describe: 'rows to fix (default: FILE.to-fix.csv)' })
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
  const fixPath = argv['fix-out'] ?? siblingPath(file, 'to-fix');
  if (resolve(reportPath) === resolve(file) || (isAbsolute(fixPath) && resolve(fixPath) === resolve(file))) throw new ConfigError('PB_OPTION', '--out / --fix-out name the input file itself');
  const tmp = { report: `${reportPath}.partial`, toFix: `${fixPath}.partial` };
  const writer = createRunReport(csv, tmp);
  const summary = new Summary();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let aborted: { code: string; message: string } | undefined;
  try {
    const it = followBatch({
      redis: target,
      scope,
      batchId: argv.batch,
      rows,
      signal: stop.signal,
      onWaiting: (done, valid) => process.stderr.write(`batch ${argv.batch}: ${done} of ${valid ?? '?'} rows finished, waiting for workers…\n`),
    });
    for (;;) {
      const n = await it.next();
      if (n.done) {
        aborted = n.value.aborted;
        break;
      }
      const { row, outcome } = n.value;
      await writer.add(row, outcome);
      const order = row.judgement.ok ? row.judgement.order : undefined;
      summary.add({ status: outcome.status, errorCode: outcome.errorCode, ...(order ? { currency: order.currency, amountMinor: order.amountMinor } : {}) });
    }
    await writer.close();
    if (stop.signal.aborted) throw new PaybatchError('PB_INTERRUPTED', `report interrupted: the batch goes on; run paybatch report ${argv.batch} again to wait for it`, 130);
  } catch (e) {
    csv.close();
    await writer.close().catch(() => {});
    await rm(tmp.report, { force: true });
    await rm(tmp.toFix, { force: true });
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await rename(tmp.report, reportPath);
  const toFix = summary.count('INVALID') + summary.count('FAILED');
  if (toFix > 0) await rename(tmp.toFix, fixPath);
  else await rm(tmp.toFix, { force: true });

  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ batch: argv.batch, file, report: reportPath, toFix: toFix ? fixPath : null, ...(aborted ? { stopped: aborted } : {}), ...summary.toJSON() }, null, 2)}\n`);
  } else {
    const lines = [`batch ${argv.batch} (${file}): ${summary.total} rows`, summary.format(['UNCERTAIN', 'FAILED', 'INVALID', 'PENDING', 'CREATED']), `report: ${reportPath}`];
    if (toFix) lines.push(`rows to fix: ${fixPath}`);
    if (aborted) lines.push(`the batch stopped early: ${aborted.message}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return summary.count('CREATED') === summary.total ? 0 : 1;
}
