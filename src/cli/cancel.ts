import type { CommandModule } from 'yargs';
import { ROW_DEFAULT_KEYS, RUN_ONLY_KEYS, withJobFile } from './job-file.js';
import { cancelCandidates, cancelOrders } from '../follow/cancel.js';
import { confirm } from '../follow/confirm.js';
import { openFollow, type FollowArgs } from '../follow/context.js';
import { ordersOfFile, withFollowOptions } from './follow-options.js';
import { abortOnSignals } from '../lib/signals.js';
import { finishActions } from '../follow/report.js';
import { describeAmounts } from '../follow/tally.js';

interface CancelArgs extends FollowArgs {
  file: string;
  json: boolean;
  only?: string[];
  yes: boolean;
  dryRun: boolean;
  out?: string;
  map?: string[];
  encoding?: string;
  delimiter?: string;
  sheet?: string;
}

/** `paybatch cancel FILE`: withdraws the RUNNING orders of FILE (or --only), after a confirmation. */
export const cancelCommand: CommandModule<object, CancelArgs> = {
  command: 'cancel [file]',
  describe: 'cancel the RUNNING orders of FILE (the input or its report); paid, expired or cancelled ones are reported',
  builder: (y) =>
    withJobFile(withFollowOptions(y), { ignore: [...RUN_ONLY_KEYS, ...ROW_DEFAULT_KEYS] })
      .positional('file', { type: 'string', describe: 'the input file, or the report run wrote; - for standard input (or "file" in the --job file)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the outcome as JSON' })
      .check((a) => {
        if (!a.file) throw new Error('name the file: paybatch cancel FILE (or "file" in the --job file)');
        return true;
      })
      .option('only', { type: 'string', array: true, describe: 'only these orderIds (they must be in FILE)' })
      .option('yes', { type: 'boolean', default: false, describe: 'do not ask for confirmation (required without a terminal)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'read the orders and report what would be cancelled; cancel nothing' })
      .option('out', { type: 'string', describe: 'cancel report (default: FILE.cancel.csv beside FILE)' })
      .option('map', { type: 'string', array: true, describe: 'read the orderId from this column: --map orderId="N° facture"' })
      .option('encoding', { type: 'string', describe: 'input encoding (default: detected)' })
      .option('delimiter', { type: 'string', describe: 'input delimiter (default: detected)' })
      .option('sheet', { type: 'string', requiresArg: true, describe: 'the sheet of an Excel workbook (.xlsx) to read (default: its first)' }) as never,
  handler: async (argv) => {
    const { selection, out } = await ordersOfFile(argv, 'cancel');
    const ctx = await openFollow(argv, { api: true });
    const signals = abortOnSignals();
    try {
      const { all, toCancel } = await cancelCandidates(ctx.ledger, selection.orderIds);
      if (!argv.dryRun && toCancel.length > 0) {
        const what = describeAmounts(toCancel.map((c) => ({ amountMinor: c.entry?.sent?.amountMinor, currency: c.entry?.sent?.currency })));
        const go = await confirm({
          question: `Cancel ${what} of ${argv.file} on shop ${ctx.shopId} (${ctx.mode})? Buyers will no longer be able to pay them.`,
          yes: argv.yes,
          input: process.stdin,
          output: process.stderr,
        });
        if (!go) {
          process.stdout.write('nothing cancelled\n');
          return;
        }
      }
      const run = await cancelOrders({
        candidates: all,
        ledger: ctx.ledger,
        client: ctx.client!,
        dryRun: argv.dryRun,
        bulk: { concurrency: argv.concurrency, limiter: ctx.limiter, signal: signals.signal },
      });
      process.exitCode = await finishActions(out, run, { verb: 'cancelled', dryRun: argv.dryRun, ...(argv.json ? { json: { file: argv.file } } : {}) });
    } finally {
      signals.dispose();
      await ctx.close();
    }
  },
};
