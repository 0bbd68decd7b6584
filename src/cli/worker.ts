import { signalExitCode } from './signals.js';
import { createLogger } from '../log/logger.js';
import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { connectRedis, requireRedisTarget, safeRedisUrl } from '../engine/redis-preflight.js';
import { queueName } from '../engine/queue-keys.js';
import type { WorkerEvent } from '../engine/worker.js';
import { LyraClient } from '../lyra/client.js';
import { lyraOptionsFrom, withLyraOptions, type LyraArgs } from './lyra-options.js';

interface WorkerArgs extends LyraArgs {
  redis?: string;
  concurrency: number;
  prefix?: string;
  'lock-ms'?: number;
  'lease-ms'?: number;
}

/**
 * `paybatch worker`: sends the jobs of its shop's queue (shop and mode from its credentials) until stopped. Any number
 * of them, on any machines, share one rate and one ledger. SIGTERM/SIGINT drain: requests in flight finish and are
 * recorded, jobs not started go back to the queue; a second signal stops at once.
 */
export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'queue mode: send the queued payment orders of this shop (long-running; start one per machine or more)',
  builder: (y) =>
    withLyraOptions(
      y
        .option('redis', { type: 'string', requiresArg: true, describe: 'Redis URL (env REDIS_URL), e.g. redis://queue-host:6379' })
        .option('concurrency', { type: 'number', default: 8, describe: 'requests in flight in this worker (the rate is the queue\'s, shared by all workers)' })
        .option('prefix', { type: 'string', hidden: true, describe: 'Redis key prefix (default paybatch)' })
        .option('lock-ms', { type: 'number', hidden: true, describe: 'BullMQ job lock (default max(30 s, 2 × timeout + 10 s))' })
        .option('lease-ms', { type: 'number', hidden: true, describe: 'ledger claim lease (default timeout + 30 s)' }),
    ) as never,
  handler: async (argv) => {
    process.exitCode = await runWorker(argv);
  },
};

async function runWorker(argv: WorkerArgs): Promise<number> {
  if (!Number.isInteger(argv.concurrency) || argv.concurrency < 1) throw new ConfigError('PB_OPTION', `--concurrency ${argv.concurrency}: give a whole number of at least 1`);
  const logger = createLogger({ name: 'paybatch-worker' });
  const target = requireRedisTarget(argv.redis, process.env);
  const client = new LyraClient(lyraOptionsFrom(argv));
  const redis = await connectRedis(target, 'worker');
  const counts: Record<string, number> = {};
  let abortedBy: { code: string; message: string } | undefined;
  let stopRequested!: () => void;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));

  const onEvent = (e: WorkerEvent) => {
    if (e.type === 'done') counts[e.status] = (counts[e.status] ?? 0) + 1;
    else if (e.type === 'aborted' && !abortedBy) {
      abortedBy = { code: e.code, message: e.message };
      stopRequested();
    } else if (e.type === 'throttled') logger.warn({ event: 'worker.throttled', pauseMs: e.pauseMs }, `the platform asks to slow down; every worker pauses ${e.pauseMs} ms`);
    else if (e.type === 'error') logger.debug({ event: 'worker.error' }, e.message);
  };
  const { startQueueWorker } = await import('../engine/worker.js');
  const worker = await startQueueWorker({
    redis,
    client,
    concurrency: argv.concurrency,
    ...(argv.prefix ? { prefix: argv.prefix } : {}),
    ...(argv['lock-ms'] ? { lockDurationMs: argv['lock-ms'] } : {}),
    ...(argv['lease-ms'] ? { claimLeaseMs: argv['lease-ms'] } : {}),
    onEvent,
  });

  let signals = 0;
  let forced = false;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      logger.info({ event: 'worker.stopping', signal: sig }, `${sig}: finishing requests in flight (again to stop at once)`);
      stopRequested();
    } else {
      forced = true;
      logger.warn({ event: 'worker.forced', signal: sig }, 'stopping now; requests in flight stay SENDING and will be reported UNCERTAIN');
      void worker.close({ force: true }).finally(() => process.exit(signalExitCode(sig)));
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.info({ event: 'worker.ready', queue: queueName(worker.scope), redis: safeRedisUrl(target.url), concurrency: argv.concurrency }, `paybatch worker ready: queue ${queueName(worker.scope)} on ${safeRedisUrl(target.url)}, concurrency ${argv.concurrency}`);
  // A sign of life for the operator (and the container log) when something changed, twice a minute at most.
  let told = '';
  const tally = () => Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ');
  const heartbeat = setInterval(() => {
    const now = tally();
    if (now && now !== told) logger.info({ event: 'worker.progress', rows: { ...counts } }, `${now} so far`);
    told = now;
  }, 30_000);
  heartbeat.unref();
  await stop;
  clearInterval(heartbeat);
  await worker.close({ force: forced });
  await client.close();
  redis.disconnect();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);

  const done = tally() || 'no rows';
  logger.info({ event: 'worker.stopped', rows: { ...counts } }, `paybatch worker stopped: ${done}`);
  if (abortedBy) {
    logger.error({ event: 'worker.aborted', code: abortedBy.code }, abortedBy.message);
    process.stderr.write(`paybatch: ${abortedBy.message}\n`);
    return 3;
  }
  return 0;
}
