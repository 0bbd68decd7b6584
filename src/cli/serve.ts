import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { checkStateFolder } from '../lib/writable-paths.js';
import { ledgerSettingFrom, openLedgerStore, DEFAULT_CONCURRENCY, DEFAULT_RATE } from '../follow/context.js';
import { connectRedis, MAY_LOSE_CLAIMS, resolveRedisTarget } from '../redis/connect.js';
import { DEFAULT_PREFIX, queueName } from '../engine/queue/keys.js';
import { createInboxApplier } from '../ipn/inbox-applier.js';
import { ledgerKnowsOrder } from '../ipn/knows-order.js';
import { createIpnHandler } from '../ipn/server.js';
import { describeLedgerOfRecord } from '../ledger/open-ledger.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { createLogger } from '../log/logger.js';
import { verifyIpn } from '../lyra/ipn.js';
import { modeOfPassword } from '../lyra/mode.js';
import { ConsoleAuth, consoleSecrets } from '../console/auth.js';
import { createConsoleApp } from '../console/app.js';
import { createConsoleMetrics } from '../console/metrics.js';
import { startUploadSweeper } from '../console/uploads.js';
import { parseDuration } from '../orders/values.js';
import { IPN_PATH, startConsoleServer } from '../console/server.js';
import { withLyraOptions } from './lyra-options.js';
import { lyraOptionsFrom, useEnvFile, withEnvFile, type LyraArgs } from '../settings/settings.js';
import { untilStopSignal } from '../lib/signals.js';
import type { Logger } from '../log/logger.js';
import type { RedisTarget } from '../redis/connect.js';
import { jobFilesIn, type ScheduledJob } from '../schedule/job.js';
import { runLocalScheduler } from '../schedule/local-scheduler.js';
import { webhookSecret } from '../schedule/notify.js';
import { checkedJobs } from './schedule.js';

interface ServeArgs extends LyraArgs {
  port: number;
  host: string;
  stateDir?: string;
  redis?: string;
  'redis-may-lose-claims'?: boolean;
  workers: number;
  rate: number;
  concurrency: number;
  'follow-rate': number;
  'ipn-url'?: string;
  currency?: string;
  channel?: string;
  'expires-in'?: string;
  'max-upload-mb': number;
  origin?: string[];
  schedules?: string[];
  'keep-uploads': string;
  'keep-unsent': string;
}

/**
 * `paybatch serve`: one always-on process with the ops console, /ipn, /metrics and /healthz; console batches go
 * through runBatch like `run`, and with --schedules the job files fire here. Runs until SIGINT or SIGTERM.
 */
export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'the ops console (web page), IPN receiver, /metrics and /healthz in one process',
  builder: (y) =>
    withLyraOptions(y)
      .option('port', { type: 'number', default: 8788, describe: 'port to listen on (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (put a TLS reverse proxy in front to open it wider)' })
      .option('state-dir', { type: 'string', describe: 'ledger directory (env PAYBATCH_STATE_DIR); also holds the run history and uploads' })
      .option('redis', { type: 'string', requiresArg: true, describe: 'queue mode: batches go through BullMQ workers on this Redis (env REDIS_URL)' })
      .option('redis-may-lose-claims', { type: 'boolean', describe: 'accept a Redis without appendfsync always (env PAYBATCH_REDIS_MAY_LOSE_CLAIMS=yes)' })
      .option('workers', { type: 'number', default: 1, describe: 'queue mode: workers started in this process (0: only `paybatch worker`s send)' })
      .option('rate', { type: 'number', default: 20, describe: 'sending: requests per second at most (as `paybatch run --rate`)' })
      .option('concurrency', { type: 'number', default: 10, describe: 'sending: requests in flight at most' })
      .option('follow-rate', { type: 'number', default: DEFAULT_RATE, describe: 'cancel, update and status refresh: API calls per second at most' })
      .option('ipn-url', { type: 'string', describe: `notification URL sent with every order, e.g. https://ops.example.com${IPN_PATH}` })
      .option('currency', { type: 'string', describe: 'the send form\'s default currency' })
      .option('channel', { type: 'string', describe: 'the send form\'s default channel' })
      .option('expires-in', { type: 'string', describe: 'the send form\'s default expiry (30d)' })
      .option('max-upload-mb', { type: 'number', default: 100, describe: 'largest file accepted by the send form, in MiB' })
      .option('origin', { type: 'string', array: true, describe: 'public URL of the console behind a reverse proxy (forms posted from it are accepted)' })
      .option('keep-uploads', { type: 'string', default: '30d', describe: 'how long a file sent from the console, its report and rows to fix are kept after its batch ended (30d, 12h)' })
      .option('keep-unsent', { type: 'string', default: '24h', describe: 'how long a file checked but never sent is kept (and can still be sent)' })
      .option('schedules', { type: 'string', array: true, requiresArg: true, describe: 'job files, or folders of them, whose "schedule" fires here (as `paybatch schedule`); with --redis, registered as job schedulers whose slots this process takes' }) as never,
  handler: async (argv) => {
    if (!(Number.isInteger(argv.port) && argv.port >= 0 && argv.port <= 65535)) throw new ConfigError('PB_OPTION', `--port ${argv.port}: give a port number 0–65535`);
    if (!(argv.rate > 0)) throw new ConfigError('PB_OPTION', `--rate ${argv.rate}: give a positive number of requests per second`);
    if (!(Number.isInteger(argv.concurrency) && argv.concurrency >= 1)) throw new ConfigError('PB_OPTION', `--concurrency ${argv.concurrency}: give a whole number, at least 1`);
    if (!(argv['max-upload-mb'] > 0)) throw new ConfigError('PB_OPTION', `--max-upload-mb ${argv['max-upload-mb']}: give a positive number`);
    const retention = { keepSentMs: retentionOption(argv, 'keep-uploads'), keepUnsentMs: retentionOption(argv, 'keep-unsent') };
    const env = withEnvFile(argv.envFile);
    const secrets = consoleSecrets(env, 'password');
    const lyra = lyraOptionsFrom(argv);
    const mode = modeOfPassword(lyra.password)!;
    const shopId = lyra.shopId;
    const stateDir = argv.stateDir ?? defaultStateDir(env);
    const logger = createLogger({ name: 'paybatch-serve' });
    await checkStateFolder(stateDir, '--state-dir or PAYBATCH_STATE_DIR');
    if (argv['redis-may-lose-claims']) env[MAY_LOSE_CLAIMS] = 'yes';
    const redis = resolveRedisTarget(argv.redis, env);
    const ledgerSetting = ledgerSettingFrom(env);
    const jobs = argv.schedules?.length ? await scheduledJobs(argv, stateDir, redis) : undefined;
    const store = await openLedgerStore({ redis: argv.redis, stateDir, shopId, mode, env, onNotice: (m) => logger.info(m) });
    // The ledger of record must be reachable before anything is served: a Redis that is down is one line, exit 2.
    await (await store.open()).close();

    // Queue mode: BullMQ's job counts of the shop's queue.
    const queueRedis = redis ? await connectRedis(redis, 'producer') : undefined;
    const { Queue } = redis ? await import('bullmq') : { Queue: undefined };
    const queue = Queue && queueRedis ? new Queue(queueName({ shopId, mode }), { connection: queueRedis, prefix: DEFAULT_PREFIX }) : undefined;
    queue?.on('error', () => {});
    const metrics = createConsoleMetrics({ stateDir, apiPathPrefix: lyra.pathPrefix ?? '/api-payment/V4', ...(queue ? { queue: { name: queue.name, jobCounts: () => queue.getJobCounts() } } : {}) });

    const applier = createInboxApplier({ stateDir, shopId, mode, openLedger: () => store.open({ patient: false }), logger });
    const { hmacKey } = { hmacKey: env.PAYBATCH_HMAC_KEY?.trim() || undefined };
    const ipn = await createIpnHandler({
      verify: (fields) => verifyIpn(fields, { password: lyra.password, ...(hmacKey ? { hmacKey } : {}) }),
      shopId,
      mode,
      stateDir,
      logger,
      knowsOrder: ledgerKnowsOrder(store),
      onAccepted: () => {
        metrics.ipn.inc({ result: 'accepted' });
        applier.kick();
      },
      onRefused: () => metrics.ipn.inc({ result: 'refused' }),
    });

    const stop = new AbortController();
    const auth = new ConsoleAuth(secrets.password, secrets.metricsToken ? { metricsToken: secrets.metricsToken } : {});
    const app = createConsoleApp({
      auth,
      stateDir,
      store,
      metrics,
      logger,
      send: {
        lyra,
        stateDir,
        ...(ledgerSetting ? { ledgerSetting } : {}),
        ...(redis ? { redis, localWorkers: argv.workers } : {}),
        concurrency: argv.concurrency,
        perSecond: argv.rate,
        retryUncertain: false,
        ...(argv['ipn-url'] ? { ipnTargetUrl: argv['ipn-url'] } : {}),
        onNotice: (m) => logger.info(m),
      },
      follow: { ...argv, rate: argv['follow-rate'], concurrency: DEFAULT_CONCURRENCY, stateDir, ...(argv.redis ? { redis: argv.redis } : {}) },
      signal: stop.signal,
      defaults: { ...(argv.currency ? { currency: argv.currency } : {}), ...(argv.channel ? { channel: argv.channel } : {}), ...(argv['expires-in'] ? { expiresIn: argv['expires-in'] } : {}) },
      maxUploadBytes: Math.round(argv['max-upload-mb'] * 1024 * 1024),
      retention,
      ...(argv.origin?.length ? { origins: argv.origin.map((o) => o.replace(/\/+$/, '')) } : {}),
    });
    let server;
    try {
      server = await startConsoleServer({ app, ipn, metrics, auth, port: argv.port, host: argv.host });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      await store.close();
      await queue?.close();
      queueRedis?.disconnect();
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new ConfigError('PB_SERVE_LISTEN', `cannot listen on ${argv.host}:${argv.port} (${code}): choose another --port`);
      throw e;
    }
    const where = await describeLedgerOfRecord({ stateDir, shopId, mode, ...(ledgerSetting ? { setting: ledgerSetting } : {}), ...(redis ? { redis } : {}) });
    process.stdout.write(`paybatch serve: console ${server.url} · IPN ${server.url.replace(/\/$/, '')}${IPN_PATH} · metrics ${server.url}metrics — shop ${shopId} (${mode}); ledger ${where}\n`);
    const schedules = jobs ? await startSchedules({ jobs, stateDir, redis, workers: argv.workers, logger, signal: stop.signal }) : undefined;
    const sweeper = startUploadSweeper({
      stateDir,
      retention,
      onRemoved: (ids) => logger.info({ event: 'console.uploads_removed', count: ids.length }, `${ids.length} upload${ids.length === 1 ? '' : 's'} past their time removed`),
      onError: (e) => logger.warn({ event: 'console.uploads_sweep_failed', code: (e as NodeJS.ErrnoException).code ?? 'PB_INTERNAL' }, 'old uploads could not all be removed; trying again later'),
    });
    applier.kick();
    await untilStopSignal();
    // Console batches stop like a CLI run on Ctrl-C: no new order, the report written; running the file again finishes it.
    stop.abort();
    await schedules?.stopped();
    await sweeper.stop();
    await server.close();
    applier.kick();
    await applier.close();
    await queue?.close();
    queueRedis?.disconnect();
    metrics.close();
    await store.close();
    process.stdout.write('paybatch serve stopped\n');
  },
};

/**
 * The --schedules job files, checked as `paybatch schedule` does before anything is served. Their runs take this
 * process's environment and state folder, so their ledger and history are the ones the console shows.
 */
async function scheduledJobs(argv: ServeArgs, stateDir: string, redis: RedisTarget | undefined): Promise<ScheduledJob[]> {
  if (argv.envFile) useEnvFile(argv.envFile);
  process.env.PAYBATCH_STATE_DIR = stateDir;
  // Said on serve's command line, so meant for the runs it starts too.
  if (argv['redis-may-lose-claims']) process.env[MAY_LOSE_CLAIMS] = 'yes';
  return checkedJobs(jobFilesIn(argv.schedules!), redis?.url);
}

/**
 * Fires the schedules until `signal`: embedded by the local scheduler, with Redis as BullMQ job schedulers whose slots
 * this process takes. Either way the run starts here, so its history is in this state folder.
 */
async function startSchedules(o: { jobs: ScheduledJob[]; stateDir: string; redis: RedisTarget | undefined; workers: number; logger: Logger; signal: AbortSignal }): Promise<{ stopped(): Promise<void> }> {
  if (!o.redis) {
    const withWebhook = o.jobs.find((j) => j.webhook);
    const secret = withWebhook ? webhookSecret(process.env, withWebhook.path) : undefined;
    const running = runLocalScheduler({ jobs: o.jobs, stateDir: o.stateDir, logger: o.logger, signal: o.signal, ...(secret ? { webhookSecret: secret } : {}) });
    running.catch((e: Error) => o.logger.error({ event: 'schedule.error' }, `schedules stopped: ${e.message}`));
    return { stopped: () => running.catch(() => undefined) };
  }
  const { registerJobs, startScheduleWorker } = await import('../schedule/queue-schedules.js');
  await registerJobs(o.redis, o.jobs, { prune: false, onLine: (line) => o.logger.info({ event: 'schedule.registered' }, line) });
  const connection = await connectRedis(o.redis, 'worker');
  const slots = startScheduleWorker({ redis: connection, target: o.redis, workers: o.workers, logger: o.logger, signal: o.signal });
  slots.on('error', () => {});
  return {
    async stopped() {
      // A slot in progress stops sending with the signal; its lock lapses and another taker resumes it (the ledger keeps it from sending twice).
      await slots.close(true);
      connection.disconnect();
    },
  };
}

function retentionOption(argv: ServeArgs, name: 'keep-uploads' | 'keep-unsent'): number {
  const ms = parseDuration(argv[name]);
  if (!ms) throw new ConfigError('PB_OPTION', `--${name} ${argv[name]}: give a duration, e.g. 30d, 24h, 90m`);
  return ms;
}
