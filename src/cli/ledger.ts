import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { ledgerSettingFrom, openLedgerStore, shopAndMode } from '../follow/context.js';
import { readExport, writeExport, type ExportFormat } from '../ledger/exchange.js';
import type { Ledger } from '../ledger/ledger.js';
import { describeLedgerOfRecord, LEDGER_SETTING, mergeAll, redisOfStateDir } from '../ledger/open-ledger.js';
import { legacyJournalPath } from '../ledger/local/legacy-journal.js';
import { openSqliteLedger, sqliteLedgerPath } from '../ledger/local/sqlite-ledger.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { resolveRedisTarget } from '../redis/connect.js';
import { withLyraOptions } from './lyra-options.js';
import { withEnvFile, type LyraArgs } from '../settings/settings.js';

interface LedgerArgs extends LyraArgs {
  action: 'where' | 'export' | 'import' | 'purge';
  files?: string[];
  'state-dir'?: string;
  redis?: string;
  format?: ExportFormat;
  out?: string;
  'from-state-dir'?: string;
  'older-than'?: string;
}

/**
 * `paybatch ledger`: the ledger of record of the shop and mode (the shop's settings say which) — where it is, export
 * it, import or merge another ledger into it, purge buyers' personal data from old orders.
 */
export const ledgerCommand: CommandModule<object, LedgerArgs> = {
  command: 'ledger <action> [files..]',
  describe: 'the ledger of record: where it is, export, import / merge, purge personal data of old orders',
  builder: (y) =>
    (withLyraOptions(y) as Argv<LedgerArgs>)
      .positional('action', { choices: ['where', 'export', 'import', 'purge'] as const, describe: 'where | export | import | purge' })
      .positional('files', { type: 'string', array: true, describe: 'import: ledger exports (CSV or JSON Lines) to merge in' })
      .option('state-dir', { type: 'string', describe: 'the state directory (env PAYBATCH_STATE_DIR)' })
      .option('redis', { type: 'string', requiresArg: true, describe: 'a Redis in play (env REDIS_URL): its URL and password' })
      .option('format', { choices: ['csv', 'jsonl'] as const, describe: 'export: CSV (amounts as money, for spreadsheets) or JSON Lines (default: from --out\'s extension, else csv)' })
      .option('out', { type: 'string', describe: 'export: the file to write (required)' })
      .option('from-state-dir', { type: 'string', describe: 'import: merge the local ledger of another state directory (a backup, an old machine\'s folder)' })
      .option('older-than', { type: 'string', describe: 'purge: orders settled and unchanged for this long, e.g. 400d, 18m (months)' })
      .example('$0 ledger where', 'which ledger holds this shop\'s orders')
      .example('$0 ledger export --out ledger.jsonl', 'a backup, to import on a new machine')
      .example('$0 ledger import ledger.jsonl', 'merge a backup (what may exist stays so: never weakens the guard)')
      .example('$0 ledger purge --older-than 400d', 'forget e-mail addresses and phone numbers of orders settled over 400 days ago') as never,
  handler: async (argv) => {
    process.exitCode = await ledger(argv);
  },
};

async function ledger(argv: LedgerArgs): Promise<number> {
  const env = withEnvFile(argv.envFile);
  const { shopId, mode } = shopAndMode(argv);
  const stateDir = argv['state-dir'] ?? defaultStateDir(env);
  const setting = ledgerSettingFrom(env);
  const redis = resolveRedisTarget(argv.redis, env);
  const say = (m: string) => process.stderr.write(`paybatch: ${m}\n`);

  if (argv.action === 'where') {
    process.stdout.write(`${await describeLedgerOfRecord({ stateDir, shopId, mode, ...(setting ? { setting } : {}), ...(redis ? { redis } : {}) })}\n`);
    return 0;
  }
  if (argv.action === 'export' && !argv.out) throw new ConfigError('PB_OPTION', 'paybatch ledger export: name the file with --out FILE (.csv or .jsonl)');
  if (argv.action === 'import' && !argv.files?.length && !argv['from-state-dir']) throw new ConfigError('PB_OPTION', 'paybatch ledger import: name the export files, or --from-state-dir DIR');
  if (argv.action === 'purge' && !argv['older-than']) throw new ConfigError('PB_OPTION', 'paybatch ledger purge: say how old with --older-than (e.g. 400d)');

  // Before the target opens: a refused import must not leave an empty ledger behind on this machine.
  const from = argv.action === 'import' ? argv['from-state-dir'] : undefined;
  if (from) {
    const elsewhere = await redisOfStateDir(from, shopId, mode);
    if (elsewhere) {
      throw new ConfigError(
        'PB_LEDGER_ELSEWHERE',
        `--from-state-dir ${from}: the ledger of record of shop ${shopId} ${mode} there is ${elsewhere}, its local database only what was carried over to it: on this machine set ${LEDGER_SETTING}=${elsewhere} (with its password), or import a paybatch ledger export of it`,
      );
    }
  }
  const store = await openLedgerStore({ redis: argv.redis, stateDir, shopId, mode, env, onNotice: say });
  const target = await store.open();
  try {
    switch (argv.action) {
      case 'export': {
        const out = argv.out!;
        const format: ExportFormat = argv.format ?? (/\.jsonl?$/i.test(out) ? 'jsonl' : 'csv');
        const n = await writeExport(target.entries(), out, format);
        process.stdout.write(`${n} orders of shop ${shopId} ${mode} from ${target.where} written to ${out} (${format})\n`);
        return 0;
      }
      case 'import': {
        for (const file of argv.files ?? []) await importInto(target, readExport(file), file);
        const from = argv['from-state-dir'];
        if (from) {
          if (resolve(from) === resolve(stateDir)) throw new ConfigError('PB_OPTION', `--from-state-dir ${from} is this machine's own state directory`);
          // Opening would create an empty ledger there: a mistyped folder would "import 0 orders" and look done.
          if (!existsSync(sqliteLedgerPath(from, shopId, mode)) && !existsSync(legacyJournalPath(from, shopId, mode))) {
            throw new ConfigError('PB_OPTION', `--from-state-dir ${from}: no ledger of shop ${shopId} ${mode} there (${shopId}-${mode}.sqlite); name the state directory of the old machine`);
          }
          const other = await openSqliteLedger({ dir: from, shopId, mode });
          try {
            await importInto(target, other.entries(), other.where);
          } finally {
            await other.close();
          }
        }
        return 0;
      }
      case 'purge': {
        const before = new Date(Date.now() - durationMs(argv['older-than']!));
        const n = await target.purgePersonalData(before);
        process.stdout.write(`${n} settled orders last changed before ${before.toISOString().slice(0, 10)}: recipient forgotten (orderId, state and ids kept) in ${target.where}\n`);
        return 0;
      }
      default:
        return 2;
    }
  } finally {
    await target.close();
    await store.close();
  }
}

async function importInto(target: Ledger, entries: Parameters<typeof mergeAll>[0], from: string): Promise<void> {
  const r = await mergeAll(entries, target);
  process.stdout.write(
    `${from}: ${r.added} orders added, ${r.updated} updated, ${r.unchanged} already known to ${target.where}` +
      (r.conflicts.length ? `; ${r.conflicts.length} invoice(s) have a different order on each side, kept as they were: ${r.conflicts.slice(0, 10).join(', ')}` : '') +
      '\n',
  );
}

function durationMs(text: string): number {
  const m = /^(\d+)\s*(d|m|y)$/i.exec(text.trim());
  if (!m) throw new ConfigError('PB_OPTION', `--older-than ${text}: give days, months or years, e.g. 400d, 18m, 2y`);
  const n = Number(m[1]);
  const day = 86_400_000;
  return n * (m[2]!.toLowerCase() === 'd' ? day : m[2]!.toLowerCase() === 'm' ? 30 * day : 365 * day);
}
