import type { CommandModule } from 'yargs';
import { createCsvWriter } from '../csv/write.js';
import { ConfigError } from '../errors/paybatch-error.js';
import { openFollow, type FollowArgs, type FollowContext } from '../follow/context.js';
import { withFollowOptions } from './follow-options.js';
import { abortOnSignals } from '../lib/signals.js';
import { formatTotals, ONLY_KINDS, reconcile, RECONCILE_COLUMNS, reconcileRecord, totalsJson, type OnlyKind, type ReconcileFilter } from '../follow/reconcile.js';
import { resolveUncertain, uncertainEntries, type ResolveRun } from '../follow/resolve.js';
import { selectOrderIds } from '../follow/select.js';
import { parseMapFlags } from './input-options.js';
import { ROW_DEFAULT_KEYS, RUN_ONLY_KEYS, withJobFile } from './job-file.js';
import { openInputFile } from './stdin-file.js';
import { siblingPath } from '../report/files.js';
import { findRun, runsDir } from '../app/run-history.js';

interface ReconcileArgs extends FollowArgs {
  file?: string;
  since?: string;
  until?: string;
  by: 'sent' | 'paid';
  batch?: string;
  only?: OnlyKind;
  out?: string;
  json: boolean;
  jsonl: boolean;
  resolve: boolean;
  map?: string[];
  encoding?: string;
  delimiter?: string;
  sheet?: string;
}

/**
 * `--since 2026-11-01` is that day's start (UTC), `--until 2026-11-30` that day's end; a date-time is taken as is.
 * Returns the bound as an instant: since inclusive, until exclusive.
 */
export function periodBound(value: string, flag: '--since' | '--until'): Date {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  const t = day ? Date.parse(`${value.trim()}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(t)) throw new ConfigError('PB_OPTION', `${flag} ${value}: write a date (2026-11-30) or a date-time (2026-11-30T18:00:00+01:00)`);
  return new Date(day && flag === '--until' ? t + 86_400_000 : t);
}

/** `paybatch reconcile`: one row per invoice of the ledger of record, what was asked and what happened, and totals. */
export const reconcileCommand: CommandModule<object, ReconcileArgs> = {
  command: 'reconcile [file]',
  describe: 'export one row per invoice (asked, paid, outstanding, uncertain) for a period, a batch, a job or a file, with totals per currency and status',
  builder: (y) =>
    withJobFile(withFollowOptions(y), { ignore: [...RUN_ONLY_KEYS, ...ROW_DEFAULT_KEYS] })
      .positional('file', { type: 'string', describe: 'only the invoices of this file (the input or its report; or "file" in the --job file)' })
      .option('since', { type: 'string', requiresArg: true, describe: 'from this date (2026-11-01) or date-time, inclusive' })
      .option('until', { type: 'string', requiresArg: true, describe: 'up to this date (2026-11-30, the whole day) or date-time, exclusive' })
      .option('by', { choices: ['sent', 'paid'] as const, default: 'sent' as const, describe: 'the period is about the send date or the payment date' })
      .option('batch', { type: 'string', requiresArg: true, describe: 'only the orders last sent by this batch (the id run printed)' })
      .option('only', { choices: ONLY_KINDS, describe: 'only paid, outstanding (RUNNING), uncertain or failed invoices' })
      .option('out', { type: 'string', requiresArg: true, describe: 'CSV export (default FILE.reconcile.csv beside FILE, else reconcile.csv; with --json/--jsonl only when given)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the rows and totals as one JSON document' })
      .option('jsonl', { type: 'boolean', default: false, describe: 'print one JSON object per row (JSON Lines)' })
      .option('resolve', { type: 'boolean', default: false, describe: 'settle the UNCERTAIN orders first, as paybatch resolve does (calls the API)' })
      .option('map', { type: 'string', array: true, describe: 'read the orderId of FILE from this column: --map orderId="N° facture"' })
      .option('encoding', { type: 'string', describe: 'FILE encoding (default: detected)' })
      .option('delimiter', { type: 'string', describe: 'FILE delimiter (default: detected); without FILE, the export\'s (default ,)' })
      .option('sheet', { type: 'string', requiresArg: true, describe: 'the sheet of an Excel workbook (.xlsx) to read (default: its first)' })
      .check((a) => {
        if (a.json && a.jsonl) throw new Error('--json and --jsonl: choose one');
        return true;
      }) as never,
  handler: async (argv) => {
    const filter: ReconcileFilter = {
      by: argv.by,
      ...(argv.since !== undefined ? { since: periodBound(argv.since, '--since') } : {}),
      ...(argv.until !== undefined ? { until: periodBound(argv.until, '--until') } : {}),
      ...(argv.batch !== undefined ? { batchId: argv.batch } : {}),
      ...(argv.only !== undefined ? { only: argv.only } : {}),
    };
    let format = { delimiter: delimiterOf(argv.delimiter), bom: false, encoding: 'utf8' };
    if (argv.file) {
      const input = await openInputFile(argv.file);
      try {
        const selection = await selectOrderIds(input.read, { map: parseMapFlags(argv.map), encoding: argv.encoding, delimiter: argv.delimiter, sheet: argv.sheet, named: argv.file });
        filter.orderIds = new Set(selection.orderIds);
        // An .xlsx has no delimiter of its own: its export is a plain CSV.
        if (!/\.xlsx?m?$/i.test(argv.file)) format = selection.format;
      } finally {
        await input.dispose();
      }
    }
    const out = argv.out ?? (argv.json || argv.jsonl ? undefined : argv.file && argv.file !== '-' ? siblingPath(argv.file, 'reconcile') : 'reconcile.csv');

    const ctx = await openFollow(argv, { api: argv.resolve });
    const signals = abortOnSignals();
    try {
      if (ctx.notificationsApplied > 0) process.stderr.write(`paybatch: ${ctx.notificationsApplied} payment notification(s) received by paybatch ipn applied to the ledger\n`);
      let settled: ResolveRun | undefined;
      if (argv.resolve) {
        settled = await resolveUncertain({ ledger: ctx.ledger, client: ctx.client!, entries: await uncertainEntries(ctx.ledger, filter), bulk: { concurrency: argv.concurrency, limiter: ctx.limiter, signal: signals.signal } });
        if (settled.authFailure) process.stderr.write(`paybatch: authentication failed (${settled.authFailure.code}): check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD; the UNCERTAIN orders were not all settled\n`);
      }
      const { rows, totals } = await reconcile(ctx.ledger, filter);
      if (filter.batchId !== undefined && rows.length === 0) await refuseUnknownBatch(filter.batchId, ctx);
      const records = rows.map(reconcileRecord);
      if (out) {
        const w = createCsvWriter(out, { headers: [...RECONCILE_COLUMNS], delimiter: format.delimiter, bom: format.bom, encoding: format.encoding });
        try {
          for (const r of records) await w.write(RECONCILE_COLUMNS.map((c) => r[c]));
        } finally {
          await w.close();
        }
      }
      process.exitCode = settled && (settled.authFailure || settled.aborted) ? 3 : 0;
      if (argv.jsonl) {
        for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ ...(out ? { report: out } : {}), rows: records, totals: totalsJson(totals) }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatTotals(rows.length, totals));
      const uncertain = rows.filter((r) => r.status === 'UNCERTAIN');
      if (uncertain.length > 0) {
        const dated = uncertain.filter((r) => r.safeToResendFrom).length;
        process.stdout.write(`${uncertain.length} invoice(s) still UNCERTAIN${dated ? ` (${dated} with the date from which a re-send is safe: column safeToResendFrom)` : ''}: paybatch resolve settles them\n`);
      }
      process.stdout.write(`export: ${out}\n`);
    } finally {
      signals.dispose();
      await ctx.close();
    }
  },
};

function delimiterOf(v: string | undefined): string {
  const named: Record<string, string> = { comma: ',', semicolon: ';', tab: '\t', pipe: '|' };
  if (v === undefined) return ',';
  const d = named[v.toLowerCase()] ?? v;
  if (d.length !== 1) throw new ConfigError('PB_OPTION', `--delimiter ${v}: give one character, or comma, semicolon, tab, pipe`);
  return d;
}

/**
 * `--batch` that matches nothing: a mistyped id would otherwise export "0 invoices" over the last export. A batch this
 * machine ran, or whose orders are in the ledger under another filter, still gets its (empty) export.
 */
async function refuseUnknownBatch(batchId: string, ctx: FollowContext): Promise<void> {
  if (await findRun(ctx.stateDir, batchId)) return;
  for await (const _ of ctx.ledger.entries({ batchId })) return;
  throw new ConfigError(
    'PB_UNKNOWN_BATCH',
    `--batch ${batchId}: no order in ${ctx.ledger.where} was sent by this batch, and ${runsDir(ctx.stateDir)} has no run of it; give the batch id \`paybatch run\` printed (like b20261201T080000Z-ab12). Nothing was written`,
  );
}
