import type { CommandModule } from 'yargs';
import { openFollow, type FollowArgs } from '../follow/context.js';
import { ordersOfFile, withFollowOptions } from './follow-options.js';
import { abortOnSignals } from '../lib/signals.js';
import { followExitCode } from '../follow/report.js';
import { statusCells, STATUS_COLUMNS, writeReport } from '../follow/report.js';
import { checkStatus } from '../follow/status.js';
import { formatStatusSummary, statusSummaryJson, summarizeStatus } from '../follow/status-summary.js';
import { ROW_DEFAULT_KEYS, RUN_ONLY_KEYS, withJobFile } from './job-file.js';

interface StatusArgs extends FollowArgs {
  file: string;
  json: boolean;
  offline: boolean;
  only?: string[];
  out?: string;
  map?: string[];
  encoding?: string;
  delimiter?: string;
  sheet?: string;
}

/** `paybatch status FILE`: where every order of FILE stands (Get, rate-limited), the ledger updated, a report. */
export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status [file]',
  describe: 'read the payment status of every order of FILE (the input or its report): PAID, RUNNING, REFUSED, EXPIRED, CANCELLED',
  builder: (y) =>
    withJobFile(withFollowOptions(y), { ignore: [...RUN_ONLY_KEYS, ...ROW_DEFAULT_KEYS] })
      .positional('file', { type: 'string', describe: 'the input file, or the report run wrote; - for standard input (or "file" in the --job file)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
      .check((a) => {
        if (!a.file) throw new Error('name the file: paybatch status FILE (or "file" in the --job file)');
        return true;
      })
      .option('offline', { type: 'boolean', default: false, describe: 'report what the ledger knows, without calling the API' })
      .option('only', { type: 'string', array: true, describe: 'only these orderIds (they must be in FILE)' })
      .option('out', { type: 'string', describe: 'status report (default: FILE.status.csv beside FILE)' })
      .option('map', { type: 'string', array: true, describe: 'read the orderId from this column: --map orderId="N° facture"' })
      .option('encoding', { type: 'string', describe: 'input encoding (default: detected)' })
      .option('delimiter', { type: 'string', describe: 'input delimiter (default: detected)' })
      .option('sheet', { type: 'string', requiresArg: true, describe: 'the sheet of an Excel workbook (.xlsx) to read (default: its first)' }) as never,
  handler: async (argv) => {
    const { selection, out } = await ordersOfFile(argv, 'status');
    const ctx = await openFollow(argv, { api: !argv.offline });
    const signals = abortOnSignals();
    try {
      if (ctx.notificationsApplied > 0) process.stderr.write(`paybatch: ${ctx.notificationsApplied} payment notification(s) received by paybatch ipn applied to the ledger\n`);
      const run = await checkStatus({
        orderIds: selection.orderIds,
        ledger: ctx.ledger,
        client: ctx.client,
        offline: argv.offline,
        bulk: { concurrency: argv.concurrency, limiter: ctx.limiter, signal: signals.signal },
      });
      await writeReport(out, STATUS_COLUMNS, run.rows, statusCells);
      const summary = summarizeStatus(run.rows);
      // A whole file unknown to the ledger is more often the wrong ledger (another state folder, a Redis not named) than a
      // file never sent: say which one was read, before NOT_SENT is taken for "safe to send".
      const unknown = run.rows.filter((r) => r.result === 'NOT_SENT' && !r.ledgerState).length;
      if (unknown > 0 && unknown === run.rows.length) {
        process.stderr.write(
          `paybatch: none of the ${unknown} orders of ${argv.file} is in the ledger of record ${ctx.ledger.where}: if they were sent from another state folder or machine, point this one at its ledger (PAYBATCH_LEDGER=redis://... or --redis, --state-dir) or paybatch ledger import\n`,
        );
      }
      const failed = run.rows.filter((r) => r.result === 'FAILED').length;
      if (run.authFailure) process.stderr.write(`paybatch: authentication failed (${run.authFailure.code}): check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD; nothing more was read\n`);
      process.exitCode = followExitCode(run);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ file: argv.file, report: out, offline: argv.offline, exitCode: process.exitCode, blankOrderIds: selection.blank, unreadable: failed, ...statusSummaryJson(summary) }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatStatusSummary(summary));
      if (selection.blank > 0) process.stdout.write(`${selection.blank} row(s) of ${argv.file} have no orderId: not reported\n`);
      if (failed > 0) process.stdout.write(`${failed} order(s) could not be read: see errorCode in the report; run status again\n`);
      process.stdout.write(`report: ${out}${argv.offline ? ' (offline: as the ledger knows it)' : ''}\n`);
    } finally {
      signals.dispose();
      await ctx.close();
    }
  },
};
