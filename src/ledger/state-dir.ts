import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the ledger lives when `--state-dir` is not given: `PAYBATCH_STATE_DIR`, else `$XDG_STATE_HOME/paybatch`,
 * else `~/.local/state/paybatch` (on Windows `%LOCALAPPDATA%\paybatch\state`).
 *
 * Deliberately not next to the input file: the same invoice is often exported to two different files (this month's
 * export, a corrected re-export, a file copied to another folder), and "never two orders for one invoice" must hold
 * across them. The ledger is keyed by shop + mode + orderId, so one per-user directory guards every file of a shop.
 * Cron jobs and shared machines should set `PAYBATCH_STATE_DIR` (or `--state-dir`) to a directory on a local disk.
 */
export function defaultStateDir(env: Record<string, string | undefined> = process.env, home: string = homedir(), platform: string = process.platform): string {
  const explicit = env.PAYBATCH_STATE_DIR?.trim();
  if (explicit) return explicit;
  const xdg = env.XDG_STATE_HOME?.trim();
  if (xdg) return join(xdg, 'paybatch');
  if (platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'paybatch', 'state');
  return join(home, '.local', 'state', 'paybatch');
}
