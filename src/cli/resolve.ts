import { resolve as resolvePath } from 'node:path';
import type { CommandModule } from 'yargs';
import { runBatch } from '../app/run-batch.js';
import { resolveRedisTarget } from '../redis/connect.js';
import { ConfigError } from '../errors/paybatch-error.js';
import { ledgerSettingFrom, openFollow, type FollowArgs } from '../follow/context.js';
import { withFollowOptions } from './follow-options.js';
import { abortOnSignals } from '../lib/signals.js';
import { resolveUncertain, uncertainEntries, type ResolveRow } from '../follow/resolve.js';
import { selectOrderIds } from '../follow/select.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { formatMoney } from '../orders/currencies.js';
import { inputOptions, parseMapFlags, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { withJobFile } from './job-file.js';
import { lyraOptionsFrom, withEnvFile } from '../settings/settings.js';
import { printResult } from './run.js';
import { openInputFile } from './stdin-file.js';
import { siblingPath } from '../report/files.js';

interface ResolveArgs extends FollowArgs, InputArgs {
  file?: string;
  batch?: string;
  json: boolean;
  'resend-expired': boolean;
  'ipn-url'?: string;
}

/** Keys of a `run` job file that name the run's own files or sending settings: `resolve` takes nothing from them. */
const IGNORED_JOB_KEYS = ['out', 'fix-out', 'summary-out', 'retry-uncertain', 'stop-after-failures', 'workers', 'progress', 'check', 'rate', 'concurrency'];

/**
 * `paybatch resolve [FILE]`: settles the UNCERTAIN orders (found, safe to re-send, or uncertain until a date). With
 * --resend-expired, those found safe are sent again from FILE as by `run --retry-uncertain`.
 */
export const resolveCommand: CommandModule<object, ResolveArgs> = {
  command: 'resolve [file]',
  describe: 'settle the UNCERTAIN orders: look for evidence (Order/Get, notifications), say which are safe to re-send, and re-send them on request',
  builder: (y) =>
    withJobFile(withFollowOptions(y).options(inputOptions), { ignore: IGNORED_JOB_KEYS })
      .positional('file', { type: 'string', describe: 'only the orders of this file (the input or its report); required by --resend-expired' })
      .option('batch', { type: 'string', requiresArg: true, describe: 'only the orders last sent by this batch' })
      .option('json', { type: 'boolean', default: false, describe: 'print the decisions as JSON' })
      .option('resend-expired', { type: 'boolean', default: false, describe: 'send again, from FILE, the orders found safe to re-send (never found, expiry passed)' })
      .option('ipn-url', { type: 'string', describe: 'notification URL sent with the re-sent orders (as run --ipn-url)' })
      .option('out', { type: 'string', requiresArg: true, describe: 'report of the re-send (default FILE.resend.csv)' })
      .check((a) => {
        if (a['resend-expired'] && !a.file) throw new Error('--resend-expired needs the invoice FILE: the orders are sent again from its rows');
        return true;
      }) as never,
  handler: async (argv) => {
    let orderIds: Set<string> | undefined;
    let input: Awaited<ReturnType<typeof openInputFile>> | undefined;
    if (argv.file) {
      input = await openInputFile(argv.file);
      const selection = await selectOrderIds(input.read, { map: parseMapFlags(argv.map), encoding: argv.encoding, delimiter: argv.delimiter, sheet: argv.sheet, named: argv.file });
      orderIds = new Set(selection.orderIds);
    }
    try {
      const ctx = await openFollow(argv, { api: true });
      const signals = abortOnSignals();
      let rows: ResolveRow[];
      try {
        if (ctx.notificationsApplied > 0) process.stderr.write(`paybatch: ${ctx.notificationsApplied} payment notification(s) received by paybatch ipn applied to the ledger\n`);
        const entries = await uncertainEntries(ctx.ledger, { by: 'sent', ...(orderIds ? { orderIds } : {}), ...(argv.batch !== undefined ? { batchId: argv.batch } : {}) });
        const run = await resolveUncertain({ ledger: ctx.ledger, client: ctx.client!, entries, bulk: { concurrency: argv.concurrency, limiter: ctx.limiter, signal: signals.signal } });
        rows = run.rows;
        if (run.authFailure) process.stderr.write(`paybatch: authentication failed (${run.authFailure.code}): check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD; nothing more was read\n`);
        process.exitCode = run.authFailure || run.aborted ? 3 : rows.some((r) => r.decision !== 'FOUND') ? 1 : 0;
      } finally {
        signals.dispose();
        // The local ledger admits one process: closed before a re-send opens it again.
        await ctx.close();
      }
      const safe = rows.filter((r) => r.decision === 'SAFE_TO_RESEND');
      const resending = argv['resend-expired'] && safe.length > 0 && process.exitCode !== 3;
      if (argv.json && !resending) process.stdout.write(`${JSON.stringify({ exitCode: process.exitCode, orders: rows.map(jsonRow) }, null, 2)}\n`);
      if (!argv.json) printDecisions(rows, argv['resend-expired']);
      if (!resending) return;
      // The orders re-sent are settled by the re-send's own outcome; any other still open keeps exit code 1.
      const othersOpen = rows.some((r) => r.decision !== 'FOUND' && r.decision !== 'SAFE_TO_RESEND') ? 1 : 0;
      process.exitCode = Math.max(othersOpen, await resend(argv, input!.read, input!.named, new Set(safe.map((r) => r.orderId))));
    } finally {
      await input?.dispose();
    }
  },
};

/** The re-send: `runBatch` as `run --retry-uncertain` does, for exactly the orders found safe. */
async function resend(argv: ResolveArgs, read: string, named: string, ids: Set<string>): Promise<number> {
  const now = new Date();
  const files = {
    report: argv.out ?? siblingPath(named, 'resend'),
    toFix: siblingPath(named, 'resend-tofix'),
    summary: siblingPath(named, 'resend').replace(/\.(csv|txt|tsv)$/i, '') + '.json',
  };
  for (const p of Object.values(files)) if (resolvePath(p) === resolvePath(named)) throw new ConfigError('PB_OPTION', `${p} is the input file itself: choose another --out`);
  const settings = withEnvFile(argv.envFile);
  const ledgerSetting = ledgerSettingFrom(settings);
  const redis = resolveRedisTarget(argv.redis, settings);
  const result = await runBatch({
    file: read,
    judge: toJudgeFileOptions(argv, now),
    lyra: lyraOptionsFrom(argv),
    stateDir: argv.stateDir ?? defaultStateDir(settings),
    ...(ledgerSetting ? { ledgerSetting } : {}),
    ...(redis ? { redis } : {}),
    onNotice: (m) => process.stderr.write(`paybatch: ${m}\n`),
    concurrency: argv.concurrency,
    perSecond: argv.rate,
    retryUncertain: true,
    onlyOrderIds: ids,
    ...(argv['ipn-url'] ? { ipnTargetUrl: argv['ipn-url'] } : {}),
    files,
  });
  if (result.summary.total < ids.size) process.stderr.write(`paybatch: ${ids.size - result.summary.total} order(s) safe to re-send have no valid row in ${argv.file}: not sent\n`);
  printResult(argv.file!, result, argv.json);
  return result.exitCode;
}

function jsonRow(r: ResolveRow): Record<string, unknown> {
  return { orderId: r.orderId, decision: r.decision, evidence: r.evidence, ...(r.safeFrom ? { safeFrom: r.safeFrom } : {}), ...(r.paymentOrderId ? { paymentOrderId: r.paymentOrderId } : {}), ...(r.paymentOrderStatus ? { paymentOrderStatus: r.paymentOrderStatus } : {}), amount: formatMoney(r.amountMinor, r.currency) };
}

function printDecisions(rows: readonly ResolveRow[], resending: boolean): void {
  if (rows.length === 0) {
    process.stdout.write('no UNCERTAIN order: nothing to settle\n');
    return;
  }
  const lines = rows.map((r) => `  ${r.orderId}  ${r.decision}  ${formatMoney(r.amountMinor, r.currency)}: ${r.evidence}`);
  const count = (d: ResolveRow['decision']): number => rows.filter((r) => r.decision === d).length;
  const safe = count('SAFE_TO_RESEND');
  const still = rows.filter((r) => r.decision === 'STILL_UNCERTAIN');
  lines.push(`${rows.length} UNCERTAIN order(s): FOUND ${count('FOUND')} (now CREATED, never sent again), SAFE_TO_RESEND ${safe}, STILL_UNCERTAIN ${still.length}${count('ERROR') + count('PENDING') ? `, not settled ${count('ERROR') + count('PENDING')}` : ''}`);
  if (safe > 0 && !resending) lines.push(`  ${safe} can no longer be paid: re-send them with paybatch resolve FILE --resend-expired`);
  if (still.length > 0) {
    const first = still.map((r) => r.safeFrom!).sort()[0];
    lines.push(`  still uncertain: safe to re-send from ${first}${still.length > 1 ? ' at the earliest (each date in --json / paybatch reconcile)' : ''}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
