import { rowCount } from '../report/summary.js';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { runBatch, type RunBatchResult } from '../app/run-batch.js';
import { MAY_LOSE_CLAIMS, resolveRedisTarget } from '../redis/connect.js';
import { ledgerSettingFrom } from '../follow/context.js';
import { ConfigError } from '../errors/paybatch-error.js';
import { parseSendWindow } from '../orders/send-window.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { withJobFile } from './job-file.js';
import { withLyraOptions } from './lyra-options.js';
import { lyraOptionsFrom, withEnvFile, type LyraArgs } from '../settings/settings.js';
import { batchSource } from './batch-source.js';
import { onStopSignals } from '../lib/signals.js';
import { openInputFile } from './stdin-file.js';
import { defaultBatchReportFiles } from '../report/files.js';

export interface RunArgs extends InputArgs, LyraArgs {
  file: string;
  concurrency: number;
  rate: number;
  'retry-uncertain': boolean;
  'stop-after-failures': number;
  'state-dir'?: string;
  'fix-out'?: string;
  'summary-out'?: string;
  'ipn-url'?: string;
  ledger?: string;
  'previous-report'?: string[];
  'send-window'?: string;
  'redis-may-lose-claims'?: boolean;
  redis?: string;
  workers: number;
  progress?: boolean;
  check: boolean;
  json?: boolean;
}

/** Statuses in the order the printed summary shows them: what needs a person first. */
export const SUMMARY_ORDER = ['UNCERTAIN', 'FAILED', 'PENDING', 'INVALID', 'CREATED'];

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run [file]',
  describe: 'send every valid row as a payment order and write the report (never twice for one orderId)',
  builder: (y) =>
    withJobFile(withLyraOptions(
      y
        .positional('file', { type: 'string', describe: 'the invoice CSV, - for standard input (or "file" in the --job file)' })
        .options(inputOptions)
        .option('concurrency', { type: 'number', default: 10, group: 'Sending:', describe: 'requests in flight at most' })
        .option('rate', { type: 'number', default: 20, group: 'Sending:', describe: 'requests per second at most, in any sliding second as the platform sees them (a request holds its place until its answer)' })
        .option('retry-uncertain', { type: 'boolean', default: false, group: 'Sending:', describe: 'send again the rows whose earlier outcome is unknown (UNCERTAIN): only after checking the Back Office, the buyer may get a second link' })
        .option('stop-after-failures', { type: 'number', default: 20, group: 'Sending:', describe: 'stop the run after this many technical failures in a row (timeouts, 5xx, resets): the API is down, do not keep piling up UNCERTAIN orders' })
        .option('state-dir', { type: 'string', group: 'Sending:', describe: 'where the ledger lives (env PAYBATCH_STATE_DIR)', defaultDescription: '~/.local/state/paybatch' })
        .option('ledger', { type: 'string', requiresArg: true, group: 'Sending:', describe: 'the ledger of record of the shop: "local" (the state directory) or a Redis URL (env PAYBATCH_LEDGER; default: what this machine used last, else local)' })
        .option('send-window', { type: 'string', requiresArg: true, group: 'Sending:', describe: 'when buyers may be reached, e.g. "SMS,WHATSAPP mon-sat 08:00-20:00 Europe/Paris": rows of those channels outside it wait (PENDING) for a run inside it' })
        .option('previous-report', { type: 'string', array: true, requiresArg: true, group: 'Sending:', describe: 'an earlier report of this shop and mode: its CREATED and UNCERTAIN rows are not sent again even if the ledger does not know them (the report beside the input is always read)' })
        .option('ipn-url', { type: 'string', group: 'Sending:', describe: 'notification URL sent with every order (ipnTargetUrl), e.g. where `paybatch ipn` listens' })
        .option('redis', { type: 'string', group: 'Queue mode:', describe: 'send through BullMQ workers on this Redis (env REDIS_URL)' })
        .option('redis-may-lose-claims', { type: 'boolean', group: 'Queue mode:', describe: 'accept a Redis without appendfsync always: if it crashes, invoices sent in its last second may be sent again (env PAYBATCH_REDIS_MAY_LOSE_CLAIMS=yes)' })
        .option('workers', { type: 'number', default: 1, group: 'Queue mode:', describe: 'workers started by this command (0: only `paybatch worker` processes elsewhere send)' })
        .option('fix-out', { type: 'string', describe: 'rows to fix, in the input\'s own format (default FILE.tofix.csv)' })
        .option('summary-out', { type: 'string', describe: 'JSON summary (default FILE.report.json)' })
        .option('progress', { type: 'boolean', describe: 'progress bar (default: on a terminal; a line every 5 s otherwise)' })
        .option('check', { type: 'boolean', default: true, describe: 'check the credentials with Charge/SDKTest before sending (--no-check to skip)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
        .example('$0 run invoices.csv --currency EUR --channel MAIL --expires-in 30d', 'send a month of invoices by e-mail')
        .example('$0 run invoices.csv --env-file shop.env --rate 50', 'credentials from a file, 50 requests per second')
        .example('$0 run invoices.csv --redis redis://queue:6379 --workers 0', 'queue mode: workers on other machines send')
        .example('$0 run --job jobs/monthly-mail.json', 'a recurring batch defined in a job file (cron-friendly)')
        .check((a) => {
          if (!a.file) throw new Error('name the invoice file: paybatch run FILE (or "file" in the --job file)');
          if (!(a.concurrency >= 1)) throw new Error('--concurrency must be at least 1');
          if (!(a.rate > 0)) throw new Error('--rate must be a positive number of requests per second');
          if (!(a.workers >= 0)) throw new Error('--workers must be 0 or more');
          if (!(a['stop-after-failures'] >= 1)) throw new Error('--stop-after-failures must be at least 1');
          if (a['send-window']) parseSendWindow(a['send-window']);
          return true;
        }),
    )) as never,
  handler: async (argv) => {
    process.exitCode = await run(argv);
  },
};

async function run(argv: RunArgs): Promise<number> {
  const input = await openInputFile(argv.file);
  try {
    return await runFile(argv, input.read, input.named);
  } finally {
    await input.dispose();
  }
}

/** `read`: the file to send; `named`: what the outputs are named after (they differ for `-`, standard input). */
async function runFile(argv: RunArgs, read: string, named: string): Promise<number> {
  const stop = new AbortController();
  const signals = onStopSignals(stop, (sig) =>
    process.stderr.write(`\npaybatch: ${sig}: no new order is sent; waiting for the requests in flight, then writing the report (again to force quit)\n`),
  );
  try {
    const tty = argv.progress ?? Boolean(process.stderr.isTTY);
    const result = await sendFile(argv, read, named, { signal: stop.signal, progress: { tty, stream: process.stderr } });
    printResult(argv.file, result, argv.json === true);
    return result.exitCode;
  } finally {
    signals.dispose();
  }
}

/**
 * The batch of a `run` command line: its options turned into one runBatch. `paybatch run` and the runs a schedule
 * starts (src/schedule/) both send through here.
 */
export async function sendFile(
  argv: RunArgs,
  read: string,
  named: string,
  opts: { signal?: AbortSignal; progress?: { tty: boolean; stream: NodeJS.WritableStream }; onNotice?: (message: string) => void; origin?: string } = {},
): Promise<RunBatchResult> {
  const started = new Date();
  const beside = defaultBatchReportFiles(named);
  const files = {
    report: argv.out ?? beside.report,
    toFix: argv['fix-out'] ?? beside.toFix,
    summary: argv['summary-out'] ?? beside.summary,
  };
  for (const [flag, p] of Object.entries(files)) {
    if (resolve(p) === resolve(named)) throw new ConfigError('PB_OPTION', `the ${flag} file ${p} is the input file itself: choose another name`);
  }
  const settings = withEnvFile(argv.envFile);
  const lyra = lyraOptionsFrom(argv);
  if (argv['redis-may-lose-claims']) settings[MAY_LOSE_CLAIMS] = 'yes';
  const redis = resolveRedisTarget(argv.redis, settings);
  const ledgerSetting = argv.ledger ? { value: argv.ledger, source: '--ledger' } : ledgerSettingFrom(settings);
  const stateDir = argv['state-dir'] ?? defaultStateDir(settings);
  const sendWindow = argv['send-window'] ? parseSendWindow(argv['send-window']) : undefined;
  return runBatch({
    ...(sendWindow ? { sendWindow } : {}),
    ...(opts.origin ? { origin: opts.origin } : {}),
    file: read,
    judge: toJudgeFileOptions(argv, started),
    lyra,
    stateDir,
    ...(ledgerSetting ? { ledgerSetting } : {}),
    ...(argv['previous-report'] ? { previousReports: argv['previous-report'] } : {}),
    onNotice: opts.onNotice ?? ((m) => process.stderr.write(`paybatch: ${m}\n`)),
    redis,
    localWorkers: argv.workers,
    batchSource: batchSource(read, argv, started),
    concurrency: argv.concurrency,
    perSecond: argv.rate,
    retryUncertain: argv['retry-uncertain'],
    breakerFailures: argv['stop-after-failures'],
    ipnTargetUrl: argv['ipn-url'],
    checkCredentials: argv.check,
    files,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
  });
}

export function printResult(file: string, r: RunBatchResult, json: boolean): void {
  for (const h of r.hints) process.stderr.write(`paybatch: ${file}: ${h}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({ file, batchId: r.batchId, target: r.target, engine: r.engine, exitCode: r.exitCode, aborted: r.aborted ?? null, files: r.files, sentByThisRun: r.sentByThisRun, differFromOrders: r.differFromOrders, hints: r.hints, ...r.summary.toJSON() }, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  const seconds = (r.durationMs / 1000).toFixed(1);
  lines.push(`${file}: ${rowCount(r.summary.total)} in ${seconds}s → ${r.target} (${r.engine} engine, batch ${r.batchId})`);
  // A re-run that finds everything done must not read like the first run. Only when it is done: an UNCERTAIN, FAILED
  // or PENDING row is an order that may not exist.
  const created = r.summary.count('CREATED');
  const allDone = created > 0 && created + r.summary.count('INVALID') === r.summary.total;
  const nothingNew = r.sentByThisRun === 0 && allDone ? ': every order of the file already exists, nothing was sent again' : '';
  lines.push(`sent by this run: ${r.sentByThisRun} of ${rowCount(r.summary.total)}${nothingNew}`);
  if (r.aborted) lines.push(`STOPPED: ${r.aborted.message} [${r.aborted.code}] — rows not sent are PENDING; run the same command again to send them`);
  const uncertain = r.summary.count('UNCERTAIN');
  if (uncertain > 0) {
    lines.push(
      `ATTENTION: ${uncertain} order(s) may or may not exist (UNCERTAIN) and were not sent again: ${r.uncertain.join(', ')}${uncertain > r.uncertain.length ? ', …' : ''}`,
      '  check them in the Back Office; re-send only those that do not exist, with --retry-uncertain',
    );
  }
  lines.push(r.summary.format(SUMMARY_ORDER));
  if (r.differFromOrders > 0) {
    lines.push(`NOTE: ${r.differFromOrders} CREATED ${r.differFromOrders === 1 ? 'row differs' : 'rows differ'} from the order sent earlier (see the note column): amounts and totals are those of the orders that exist; \`paybatch update\` changes a RUNNING order`);
  }
  lines.push(`report:  ${r.files.report}`);
  if (r.files.toFix) lines.push(`to fix:  ${r.files.toFix} (same format as the input: correct it and run it again)`);
  lines.push(`summary: ${r.files.summary}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
