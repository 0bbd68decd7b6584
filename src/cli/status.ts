import type { CommandModule } from 'yargs';
import { parseMapFlags } from './input-options.js';
import { openFollow, withFollowOptions, type FollowArgs } from '../follow/context.js';
import { abortOnSignals } from '../follow/exit-on-signal.js';
import { followExitCode } from '../follow/exit-code.js';
import { defaultReportPath, statusCells, STATUS_COLUMNS, writeReport } from '../follow/report.js';
import { selectOrderIds } from '../follow/select.js';
import { checkStatus } from '../follow/status.js';
import { formatStatusSummary, summarizeStatus } from '../follow/status-summary.js';

interface StatusArgs extends FollowArgs {
  file: string;
  offline: boolean;
  only?: string[];
  out?: string;
  map?: string[];
  encoding?: string;
  delimiter?: string;
}

/** `paybatch status FILE`: where every order of FILE stands (Get, rate-limited), the ledger updated, a report. */
export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status <file>',
  describe: 'read the payment status of every order of FILE (the input or its report): PAID, RUNNING, REFUSED, EXPIRED, CANCELLED',
  builder: (y) =>
    withFollowOptions(y)
      .positional('file', { type: 'string', demandOption: true, describe: 'the input file, or the report run wrote' })
      .option('offline', { type: 'boolean', default: false, describe: 'report what the ledger knows, without calling the API' })
      .option('only', { type: 'string', array: true, describe: 'only these orderIds (they must be in FILE)' })
      .option('out', { type: 'string', describe: 'status report (default: FILE.status.csv beside FILE)' })
      .option('map', { type: 'string', array: true, describe: 'read the orderId from this column: --map orderId="N° facture"' })
      .option('encoding', { type: 'string', describe: 'input encoding (default: detected)' })
      .option('delimiter', { type: 'string', describe: 'input delimiter (default: detected)' }) as never,
  handler: async (argv) => {
    const selection = await selectOrderIds(argv.file, { map: parseMapFlags(argv.map), encoding: argv.encoding, delimiter: argv.delimiter, only: argv.only });
    const out = argv.out ?? defaultReportPath(argv.file, 'status');
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
      process.stdout.write(formatStatusSummary(summarizeStatus(run.rows)));
      if (selection.blank > 0) process.stdout.write(`${selection.blank} row(s) of ${argv.file} have no orderId: not reported\n`);
      const failed = run.rows.filter((r) => r.result === 'FAILED').length;
      if (failed > 0) process.stdout.write(`${failed} order(s) could not be read: see errorCode in the report; run status again\n`);
      if (run.authFailure) process.stderr.write(`paybatch: authentication failed (${run.authFailure.code}): check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD; nothing more was read\n`);
      process.stdout.write(`report: ${out}${argv.offline ? ' (offline: as the ledger knows it)' : ''}\n`);
      process.exitCode = followExitCode(run);
    } finally {
      signals.dispose();
      await ctx.close();
    }
  },
};
