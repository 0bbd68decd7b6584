import type { Argv } from 'yargs';
import { DEFAULT_CONCURRENCY, DEFAULT_RATE, type FollowArgs } from '../follow/context.js';
import { withLyraOptions } from './lyra-options.js';

/** The options every follow-up command shares with `run`: Lyra connection, state directory, rate and concurrency. */
export function withFollowOptions<T>(y: Argv<T>): Argv<T & FollowArgs> {
  return withLyraOptions(y)
    .option('state-dir', { type: 'string', describe: 'ledger directory (env PAYBATCH_STATE_DIR; default ~/.local/state/paybatch)' })
    .option('redis', { type: 'string', requiresArg: true, describe: 'the ledger is in this Redis (queue mode; env REDIS_URL)' })
    .option('rate', { type: 'number', default: DEFAULT_RATE, describe: 'API calls per second at most' })
    .option('concurrency', { type: 'number', default: DEFAULT_CONCURRENCY, describe: 'API calls in flight at once' }) as Argv<T & FollowArgs>;
}
