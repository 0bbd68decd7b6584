import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { inputOptions, toJudgeFileOptions, type InputArgs } from './input-options.js';
import { RUN_ONLY_KEYS, withJobFile } from './job-file.js';
import { openInputFile } from './stdin-file.js';
import type { ActionRow } from '../follow/cancel.js';
import { confirm } from '../follow/confirm.js';
import { openFollow, type FollowArgs } from '../follow/context.js';
import { withFollowOptions } from './follow-options.js';
import { abortOnSignals } from '../lib/signals.js';
import { defaultReportPath, finishActions } from '../follow/report.js';
import { selectUpdateTargets } from '../follow/select.js';
import { updateOrders } from '../follow/update.js';
import { parseDuration, type RunWideChanges } from '../follow/update-plan.js';

interface UpdateArgs extends FollowArgs, InputArgs {
  file: string;
  json: boolean;
  only?: string[];
  yes: boolean;
  dryRun: boolean;
}

const MAX_EXPIRY_MS = 90 * 86_400_000;

/** `paybatch update FILE`: the file is the source of truth for the RUNNING orders it names. */
export const updateCommand: CommandModule<object, UpdateArgs> = {
  command: 'update [file]',
  describe: 'update the RUNNING orders of FILE whose amount, expiration, message or receipt e-mail differs from the order',
  builder: (y) =>
    withJobFile(withFollowOptions(y.options(inputOptions)), { ignore: RUN_ONLY_KEYS })
      .positional('file', { type: 'string', describe: 'the input file (corrected), or the report run wrote; - for standard input (or "file" in the --job file)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the outcome as JSON' })
      .check((a) => {
        if (!a.file) throw new Error('name the file: paybatch update FILE (or "file" in the --job file)');
        return true;
      })
      .option('expires-in', { type: 'string', requiresArg: true, describe: 'give every RUNNING order of FILE a new expiry, from now: 15d, 36h, 2w (at most 90d)' })
      .option('only', { type: 'string', array: true, describe: 'only these orderIds (they must be in FILE)' })
      .option('yes', { type: 'boolean', default: false, describe: 'do not ask for confirmation (required without a terminal)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'read the orders and list what would change; change nothing' })
      .option('out', { type: 'string', requiresArg: true, describe: 'update report (default: FILE.update.csv beside FILE)' }) as never,
  handler: async (argv) => {
    const now = new Date();
    const runWide: RunWideChanges = {};
    if (argv['expires-in'] !== undefined) {
      const ms = parseDuration(argv['expires-in']);
      if (ms === undefined || ms <= 0 || ms > MAX_EXPIRY_MS) throw new ConfigError('PB_OPTION', `--expires-in ${argv['expires-in']}: write a duration from now such as 15d, 36h or 2w, at most 90d`);
      runWide.expirationDate = new Date(Math.floor((now.getTime() + ms) / 1000) * 1000).toISOString();
    }
    // --expires-in is a run-wide change here, not a default for rows without a date: the rows are judged without it.
    const judgeOpts = toJudgeFileOptions({ ...argv, 'expires-in': undefined }, now);
    const input = await openInputFile(argv.file);
    let targets: Awaited<ReturnType<typeof selectUpdateTargets>>['targets'];
    try {
      ({ targets } = await selectUpdateTargets(input.read, { ...judgeOpts, only: argv.only, named: argv.file }));
    } finally {
      await input.dispose();
    }
    const out = argv.out ?? defaultReportPath(input.named, 'update');
    const ctx = await openFollow(argv, { api: true });
    const signals = abortOnSignals();
    try {
      const bulk = { concurrency: argv.concurrency, limiter: ctx.limiter, signal: signals.signal };
      const common = { ledger: ctx.ledger, client: ctx.client!, runWide, bulk };
      let run = await updateOrders({ ...common, targets, dryRun: argv.dryRun || !argv.yes });
      if (!argv.dryRun && !argv.yes) {
        // Asked only when something would change, with the list of changes in front of the operator.
        const would = run.rows.filter((r) => r.result === 'WOULD');
        if (would.length > 0 && !run.authFailure && !run.aborted) {
          for (const r of would.slice(0, 20)) process.stderr.write(`  ${r.orderId}: ${r.changes}\n`);
          if (would.length > 20) process.stderr.write(`  … and ${would.length - 20} more\n`);
          const go = await confirm({ question: `Update ${would.length} RUNNING order(s) of ${argv.file} on shop ${ctx.shopId} (${ctx.mode})?`, yes: false, input: process.stdin, output: process.stderr });
          if (!go) {
            process.stdout.write('nothing updated\n');
            return;
          }
          const chosen = new Set(would.map((r) => r.orderId));
          const second = await updateOrders({ ...common, targets: targets.filter((t) => chosen.has(t.orderId)), dryRun: false });
          const byId = new Map<string, ActionRow>(second.rows.map((r) => [r.orderId, r]));
          run = { rows: run.rows.map((r) => byId.get(r.orderId) ?? r), authFailure: second.authFailure, aborted: second.aborted };
        }
      }
      process.exitCode = await finishActions(out, run, { verb: 'updated', dryRun: argv.dryRun, ...(argv.json ? { json: { file: argv.file } } : {}) });
    } finally {
      signals.dispose();
      await ctx.close();
    }
  },
};
