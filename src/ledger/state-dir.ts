import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The ledger's home without `--state-dir`: PAYBATCH_STATE_DIR, $XDG_STATE_HOME/paybatch, ~/.local/state/paybatch (or
 * %LOCALAPPDATA%\paybatch\state). Not beside the input: one invoice may be exported to several files.
 */
export function defaultStateDir(env: Record<string, string | undefined> = process.env, home: string = homedir(), platform: string = process.platform): string {
  const explicit = env.PAYBATCH_STATE_DIR?.trim();
  if (explicit) return explicit;
  const xdg = env.XDG_STATE_HOME?.trim();
  if (xdg) return join(xdg, 'paybatch');
  if (platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'paybatch', 'state');
  return join(home, '.local', 'state', 'paybatch');
}
