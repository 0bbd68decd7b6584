import { rm, writeFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { onStopSignals, signalExitCode } from '../lib/signals.js';
import { createLogger } from '../log/logger.js';
import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { connectRedis, MAY_LOSE_CLAIMS, requireRedisTarget, safeRedisUrl } from '../redis/connect.js';
import { ledgerSettingFrom } from '../follow/context.js';
import { sameRedis } from '../ledger/open-ledger.js';
import { queueName } from '../engine/queue/keys.js';
import type { WorkerEvent } from '../engine/queue/worker.js';
import { LyraClient } from '../lyra/client.js';
import { withLyraOptions } from './lyra-options.js';
import { lyraOptionsFrom, useEnvFile, withEnvFile, type LyraArgs } from '../settings/settings.js';
import { ConsoleAuth, consoleSecrets } from '../console/auth.js';
import { createWorkerMetrics, type WorkerMetrics } from '../console/metrics.js';
import { startMetricsServer } from '../console/metrics-http.js';
import type { Listening } from '../lib/listen.js';

interface WorkerArgs extends LyraArgs {
  redis?: string;
  concurrency: number;
  prefix?: string;
  'lock-ms'?: number;
  'lease-ms'?: number;
  check: boolean;
  healthFile?: string;
  schedules: boolean;
  'metrics-port'?: number;
  'metrics-host': string;
}

/**
 * `paybatch worker`: sends its shop's queued jobs until stopped; any number, anywhere, share one rate and ledger. A
 * signal drains (in-flight requests recorded, unstarted jobs requeued); a second stops at once.
 */
export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'queue mode: send the queued payment orders of this shop (long-running; start one per machine or more)',
  builder: (y) =>
    withLyraOptions(
      y
        .option('redis', { type: 'string', requiresArg: true, describe: 'Redis URL (env REDIS_URL), e.g. redis://queue-host:6379' })
        .option('redis-may-lose-claims', { type: 'boolean', describe: 'accept a Redis without appendfsync always (a crash of Redis may then duplicate orders; env PAYBATCH_REDIS_MAY_LOSE_CLAIMS=yes)' })
        .option('concurrency', { type: 'number', default: 8, describe: 'requests in flight in this worker (the rate is the queue\'s, shared by all workers)' })
        .option('check', { type: 'boolean', default: false, describe: 'check the settings and Redis, then exit (0: a worker would start; 2: what to fix)' })
        .option('schedules', { type: 'boolean', default: false, describe: 'also run the slots of the job files registered with `paybatch schedule --redis` (they must be at the same path on this machine)' })
        .option('health-file', { type: 'string', requiresArg: true, describe: 'touch this file every 10 s while Redis answers (a container health check reads its age)' })
        .option('metrics-port', { type: 'number', requiresArg: true, describe: 'serve /metrics (Prometheus, bearer PAYBATCH_METRICS_TOKEN or PAYBATCH_CONSOLE_PASSWORD) and /healthz on this port: this worker\'s API latency, throttling and jobs' })
        .option('metrics-host', { type: 'string', default: '127.0.0.1', describe: 'address the metrics port listens on' })
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
  // A slot's run queues its rows under the default prefix, where a worker on another prefix would never send them.
  if (argv.schedules && argv.prefix) throw new ConfigError('PB_OPTION', '--schedules cannot be used with --prefix: a slot\'s run queues its rows under the default prefix, which this worker would not serve');
  const metricsPort = argv['metrics-port'];
  if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) throw new ConfigError('PB_OPTION', `--metrics-port ${metricsPort}: give a port number 0–65535`);
  // REDIS_URL and PAYBATCH_REDIS_MAY_LOSE_CLAIMS may sit in the env file beside the shop's settings, as for run.
  const settings = withEnvFile(argv.envFile);
  // Checked before anything connects: a worker asked for metrics without a token to guard them does not start.
  const secrets = metricsPort !== undefined ? consoleSecrets(settings, 'any') : undefined;
  const logger = createLogger({ name: 'paybatch-worker' });
  // A slot's run is a `paybatch run` of its job file in this process: it reads the shop's settings and the webhook
  // secret from the environment, so the env file goes there (a variable already set still wins), as for `schedule`.
  if (argv.schedules && argv.envFile) useEnvFile(argv.envFile);
  if ((argv as { 'redis-may-lose-claims'?: boolean })['redis-may-lose-claims']) settings[MAY_LOSE_CLAIMS] = 'yes';
  const target = requireRedisTarget(argv.redis, settings);
  // A worker claims in its queue's Redis: if the shop's settings name another ledger of record, it must not send.
  const setting = ledgerSettingFrom(settings)?.value;
  if (setting && !sameRedis(setting, target.url)) {
    throw new ConfigError('PB_LEDGER_ELSEWHERE', `PAYBATCH_LEDGER names ${setting === 'local' ? 'the local ledger' : safeRedisUrl(setting)} as the ledger of record, and this worker's queue is on ${safeRedisUrl(target.url)}: a worker claims in its queue's Redis, so point both at the same Redis`);
  }
  const lyra = lyraOptionsFrom(argv);
  const client = new LyraClient(lyra);
  const redis = await connectRedis(target, 'worker');
  if (argv.check) {
    await client.close();
    redis.disconnect();
    process.stdout.write(`paybatch worker: settings OK: shop ${lyra.shopId}, ${lyra.baseUrl}, Redis ${safeRedisUrl(target.url)}\n`);
    return 0;
  }
  const counts: Record<string, number> = {};
  let abortedBy: { code: string; message: string } | undefined;
  let stopRequested!: () => void;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));

  // This worker's own figures, scraped from its own port: the requests it makes are not seen by any other process.
  const metrics = secrets ? createWorkerMetrics({ apiPathPrefix: lyra.pathPrefix ?? '/api-payment/V4' }) : undefined;
  const onEvent = (e: WorkerEvent) => {
    if (e.type === 'done') {
      counts[e.status] = (counts[e.status] ?? 0) + 1;
      metrics?.jobDone(e.status);
    } else if (e.type === 'aborted' && !abortedBy) {
      abortedBy = { code: e.code, message: e.message };
      stopRequested();
    } else if (e.type === 'throttled') {
      metrics?.throttled(e.pauseMs);
      logger.warn({ event: 'worker.throttled', pauseMs: e.pauseMs }, `the platform asks to slow down; every worker pauses ${e.pauseMs} ms`);
    } else if (e.type === 'error') logger.debug({ event: 'worker.error' }, e.message);
  };
  // Before the worker takes jobs.
  let metricsServer: Listening | undefined;
  try {
    if (argv.healthFile) await checkHealthFile(argv.healthFile);
    if (metrics && secrets && metricsPort !== undefined) metricsServer = await listenForMetrics(metrics, secrets, metricsPort, argv['metrics-host']);
  } catch (e) {
    metrics?.close();
    await client.close();
    redis.disconnect();
    throw e;
  }
  const { startQueueWorker } = await import('../engine/queue/worker.js');
  const worker = await startQueueWorker({
    redis,
    client,
    concurrency: argv.concurrency,
    ...(argv.prefix ? { prefix: argv.prefix } : {}),
    ...(argv['lock-ms'] ? { lockDurationMs: argv['lock-ms'] } : {}),
    ...(argv['lease-ms'] ? { claimLeaseMs: argv['lease-ms'] } : {}),
    onEvent,
  });

  // Slots of registered job files: a slot in progress when this worker stops is left to its lock, and another worker
  // takes it again (the ledger keeps its orders from being sent twice).
  const slotsStop = new AbortController();
  const slots = argv.schedules
    ? (await import('../schedule/queue-schedules.js')).startScheduleWorker({ redis, target, logger, signal: slotsStop.signal, ...(argv['lock-ms'] ? { lockDurationMs: argv['lock-ms'] } : {}) })
    : undefined;

  const signals = onStopSignals(
    new AbortController(),
    (sig) => {
      logger.info({ event: 'worker.stopping', signal: sig }, `${sig}: finishing requests in flight (again to stop at once)`);
      stopRequested();
    },
    (sig) => {
      // Not through BullMQ's close: it would wait for the graceful close in progress, i.e. for the answers.
      logger.warn({ event: 'worker.forced', signal: sig }, 'stopping now; requests in flight stay SENDING and will be reported UNCERTAIN');
      process.exit(signalExitCode(sig));
    },
  );

  logger.info(
    { event: 'worker.ready', queue: queueName(worker.scope), redis: safeRedisUrl(target.url), concurrency: argv.concurrency, ...(metricsServer ? { metrics: `${metricsServer.url}metrics` } : {}) },
    `paybatch worker ready: queue ${queueName(worker.scope)} on ${safeRedisUrl(target.url)}, concurrency ${argv.concurrency}${metricsServer ? `, metrics ${metricsServer.url}metrics` : ''}`,
  );
  // A sign of life for the operator (and the container log) when something changed, twice a minute at most.
  let told = '';
  const tally = () => Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ');
  const heartbeat = setInterval(() => {
    const now = tally();
    if (now && now !== told) logger.info({ event: 'worker.progress', rows: { ...counts } }, `${now} so far`);
    told = now;
  }, 30_000);
  heartbeat.unref();
  const health = argv.healthFile ? startHealthFile(argv.healthFile, redis) : undefined;
  await stop;
  slotsStop.abort();
  await slots?.close(true);
  clearInterval(heartbeat);
  await health?.stop();
  await worker.close();
  await metricsServer?.close();
  metrics?.close();
  await client.close();
  redis.disconnect();
  signals.dispose();

  const done = tally() || 'no rows';
  logger.info({ event: 'worker.stopped', rows: { ...counts } }, `paybatch worker stopped: ${done}`);
  if (abortedBy) {
    logger.error({ event: 'worker.aborted', code: abortedBy.code }, abortedBy.message);
    process.stderr.write(`paybatch: ${abortedBy.message}\n`);
    return 3;
  }
  return 0;
}

/** The worker's /metrics server; a port taken is a setting to fix (exit 2), said before any job is taken. */
async function listenForMetrics(metrics: WorkerMetrics, secrets: { password?: string; metricsToken?: string }, port: number, host: string): Promise<Listening> {
  const auth = new ConsoleAuth(secrets.password, secrets.metricsToken ? { metricsToken: secrets.metricsToken } : {});
  try {
    return await startMetricsServer({ metrics, auth, port, host });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new ConfigError('PB_OPTION', `--metrics-port ${port}: cannot listen on ${host}:${port} (${code}): choose another port`);
    throw e;
  }
}

const HEALTH_INTERVAL_MS = 10_000;

/** Writes and removes the health file once: a path that cannot be written is a setting to fix, not a worker never healthy. */
async function checkHealthFile(path: string): Promise<void> {
  try {
    await writeFile(path, '');
    await rm(path, { force: true });
  } catch (e) {
    throw new ConfigError('PB_OPTION', `--health-file ${path}: cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Health file for a health check reading its age: renewed after each PING Redis answers (every 10 s), so it ages
 * while the event loop or Redis is stuck. Removed when the worker stops.
 */
function startHealthFile(path: string, redis: Redis): { stop(): Promise<void> } {
  let pinging = false;
  let stopped = false;
  let writing: Promise<void> | undefined;
  const beat = async () => {
    if (pinging) return;
    pinging = true;
    try {
      await redis.ping();
      if (stopped) return;
      writing = writeFile(path, `${new Date().toISOString()}\n`);
      await writing;
    } catch {
      // No answer, or the file cannot be written: the file grows old and the health check says so.
    } finally {
      pinging = false;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), HEALTH_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await writing?.catch(() => undefined);
      await rm(path, { force: true });
    },
  };
}
