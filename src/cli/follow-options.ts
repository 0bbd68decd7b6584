import type { Argv } from 'yargs';
import { DEFAULT_CONCURRENCY, DEFAULT_RATE, type FollowArgs } from '../follow/context.js';
import { withLyraOptions } from './lyra-options.js';
import { defaultReportPath } from '../follow/report.js';
import { selectOrderIds, type OrderIdSelection } from '../follow/select.js';
import { parseMapFlags } from './input-options.js';
import { openInputFile } from './stdin-file.js';

/** The options every follow-up command shares with `run`: Lyra connection, state directory, rate and concurrency. */
export function withFollowOptions<T>(y: Argv<T>): Argv<T & FollowArgs> {
  return withLyraOptions(y)
    .option('state-dir', { type: 'string', describe: 'ledger directory (env PAYBATCH_STATE_DIR; default ~/.local/state/paybatch)' })
    .option('redis', { type: 'string', requiresArg: true, describe: 'the ledger is in this Redis (queue mode; env REDIS_URL)' })
    .option('rate', { type: 'number', default: DEFAULT_RATE, describe: 'API calls per second at most' })
    .option('concurrency', { type: 'number', default: DEFAULT_CONCURRENCY, describe: 'API calls in flight at once' }) as Argv<T & FollowArgs>;
}

/** What `status` and `cancel` read from their FILE argument: the orders it designates, and the report's default path. */
export async function ordersOfFile(
  argv: { file: string; map?: string[]; encoding?: string; delimiter?: string; sheet?: string; only?: string[]; out?: string },
  reportKind: 'status' | 'cancel',
): Promise<{ selection: OrderIdSelection; out: string }> {
  const input = await openInputFile(argv.file);
  try {
    const selection = await selectOrderIds(input.read, { map: parseMapFlags(argv.map), encoding: argv.encoding, delimiter: argv.delimiter, sheet: argv.sheet, only: argv.only, named: argv.file });
    return { selection, out: argv.out ?? defaultReportPath(input.named, reportKind) };
  } finally {
    await input.dispose();
  }
}
