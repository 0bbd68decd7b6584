import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { newBatchId } from '../engine/batch-id.js';
import { MAY_LOSE_CLAIMS, requireRedisTarget } from '../redis/connect.js';
import { prepareLedger } from '../app/prepare-ledger.js';
import { ledgerSettingFrom } from '../follow/context.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { LyraClient } from '../lyra/client.js';
import { siblingPath } from '../report/files.js';
import { judgeFile } from '../orders/judge-file.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { withLyraOptions } from './lyra-options.js';
import { lyraOptionsFrom, withEnvFile, type LyraArgs } from '../settings/settings.js';
import { checkCredentials } from '../app/run-batch.js';
import { describeTarget } from '../lyra/config.js';
import { batchSource, scopeFromLyra } from './batch-source.js';
import { withIpnTarget } from '../app/ipn-target.js';
import { sendWindowHold } from '../app/hold-rows.js';
import { parseSendWindow } from '../orders/send-window.js';
import type { HoldOrder } from '../engine/queue/run-queued.js';

interface EnqueueArgs extends InputArgs, LyraArgs {
  file: string;
  redis?: string;
  rate?: number;
  'rate-margin-ms'?: number;
  'retry-uncertain': boolean;
  batch?: string;
  'ipn-url'?: string;
  prefix?: string;
  'state-dir'?: string;
  ledger?: string;
  'previous-report'?: string[];
  'send-window'?: string;
  'redis-may-lose-claims'?: boolean;
}

/**
 * `paybatch enqueue FILE`: judges the file and queues its valid rows for `paybatch worker` processes; prints the batch
 * id (alone on stdout, for scripts). `paybatch report BATCH` waits for it and writes the report.
 */
export const enqueueCommand: CommandModule<object, EnqueueArgs> = {
  command: 'enqueue <file>',
  describe: 'queue mode: put the rows of an invoice CSV in the shop\'s queue for workers; prints the batch id',
  builder: (y) =>
    withLyraOptions(
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'the invoice CSV' })
        .options(inputOptions)
        .option('redis', { type: 'string', requiresArg: true, describe: 'Redis URL (env REDIS_URL)' })
        .option('rate', { type: 'number', requiresArg: true, describe: 'request starts per second for this shop\'s queue, across every worker (kept until changed)' })
        .option('rate-margin-ms', { type: 'number', requiresArg: true, hidden: true, describe: 'ms added to the rate\'s one-second window (default 5)' })
        .option('retry-uncertain', { type: 'boolean', default: false, describe: 'send again rows whose earlier send got no definite answer (check the Back Office first)' })
        .option('ipn-url', { type: 'string', requiresArg: true, describe: 'sent as ipnTargetUrl with every order: where Lyra notifies payments' })
        .option('batch', { type: 'string', requiresArg: true, describe: 'batch id to use (default: generated); enqueueing the same batch again adds nothing twice' })
        .option('state-dir', { type: 'string', describe: 'where this machine keeps its local ledger and remembers the ledger of record (env PAYBATCH_STATE_DIR)' })
        .option('ledger', { type: 'string', requiresArg: true, describe: 'the ledger of record: must be this Redis in queue mode (env PAYBATCH_LEDGER)' })
        .option('send-window', { type: 'string', requiresArg: true, describe: 'when buyers may be reached, e.g. "SMS,WHATSAPP mon-sat 08:00-20:00 Europe/Paris": rows of those channels outside it are not queued (PENDING) until an enqueue inside it' })
        .option('previous-report', { type: 'string', array: true, requiresArg: true, describe: 'an earlier report of this shop and mode: its CREATED and UNCERTAIN rows are not sent again' })
        .option('redis-may-lose-claims', { type: 'boolean', describe: 'accept a Redis without appendfsync always (a crash of Redis may then duplicate orders)' })
        .option('prefix', { type: 'string', hidden: true }),
    ) as never,
  handler: async (argv) => {
    process.exitCode = await enqueue(argv, new Date());
  },
};

async function enqueue(argv: EnqueueArgs, now: Date): Promise<number> {
  if (argv.rate !== undefined && !(argv.rate > 0)) throw new ConfigError('PB_OPTION', `--rate ${argv.rate}: give a number of requests per second above 0`);
  if (argv.batch !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(argv.batch)) throw new ConfigError('PB_OPTION', `--batch ${argv.batch}: use letters, digits, dot, dash or underscore (at most 64)`);
  const sendWindow = argv['send-window'] ? parseSendWindow(argv['send-window']) : undefined;
  // REDIS_URL and PAYBATCH_REDIS_MAY_LOSE_CLAIMS may sit in the env file beside the shop's settings, as for run.
  const settings = withEnvFile(argv.envFile);
  if (argv['redis-may-lose-claims']) settings[MAY_LOSE_CLAIMS] = 'yes';
  const target = requireRedisTarget(argv.redis, settings);
  const scope = scopeFromLyra(argv);
  const batchId = argv.batch ?? newBatchId(now);
  const judgeOptions = toJudgeFileOptions(argv, now);
  // Nothing is queued before the platform accepted these credentials; the batch is sealed with them, and workers
  // (which send with their own) refuse a batch whose seal their password does not give. Then the ledger of record
  // must be the queue's Redis (what this machine sent locally is carried over first), and the orders earlier reports
  // prove are adopted before any worker can claim a row.
  const lyra = lyraOptionsFrom(argv);
  const client = new LyraClient(lyra);
  let seal: string;
  try {
    await checkCredentials(client, describeTarget(lyra), () => undefined);
    seal = client.sealBatch(batchId);
    const setting = argv.ledger ? { value: argv.ledger, source: '--ledger' } : ledgerSettingFrom(settings);
    const opened = await prepareLedger({
      stateDir: argv['state-dir'] ?? defaultStateDir(settings),
      shopId: scope.shopId,
      mode: scope.mode,
      client,
      ...(setting ? { setting } : {}),
      queue: target,
      reportBeside: siblingPath(argv.file, 'report'),
      ...(argv['previous-report'] ? { previousReports: argv['previous-report'] } : {}),
      ...(judgeOptions.map ? { map: judgeOptions.map } : {}),
      onNotice: (m) => process.stderr.write(`paybatch: ${m}\n`),
    });
    await opened.close();
  } finally {
    await client.close();
  }
  const { source, rows } = await judgeFile(argv.file, judgeOptions);
  // Rows outside the send window get no job: the batch keeps them PENDING, so `paybatch report` says they wait.
  const held = new Set<string>();
  const windowHold = sendWindow ? sendWindowHold(sendWindow, () => new Date()) : undefined;
  const hold: HoldOrder | undefined = windowHold && ((order) => {
    const outcome = windowHold(order);
    if (outcome) held.add(order.orderId);
    return outcome;
  });
  let counts;
  try {
    const { enqueueBatch } = await import('../engine/queue/run-queued.js');
    counts = await enqueueBatch({
      redis: target,
      scope,
      batchId,
      rows: withIpnTarget(rows, argv['ipn-url']),
      retryUncertain: argv['retry-uncertain'],
      seal,
      hold,
      ...(argv.rate !== undefined ? { perSecond: argv.rate } : {}),
      ...(argv['rate-margin-ms'] !== undefined ? { rateMarginMs: argv['rate-margin-ms'] } : {}),
      source: batchSource(argv.file, argv, now),
    });
  } finally {
    source.close();
  }
  process.stdout.write(`${batchId}\n`);
  const waiting = held.size ? `, ${held.size} outside the send window (not queued: PENDING until an enqueue inside it)` : '';
  process.stderr.write(
    `${argv.file}: ${counts.rows} rows, ${counts.valid - held.size} queued for shop ${scope.shopId} (${scope.mode}), ${counts.invalid} invalid (not queued)${waiting}\n` +
      `follow it with: paybatch report ${batchId}\n`,
  );
  return 0;
}
