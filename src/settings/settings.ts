import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors/paybatch-error.js';
import type { LyraClientOptions } from '../lyra/client.js';
import { resolveLyraConfig } from '../lyra/config.js';

/**
 * The connection options every command that talks to Lyra shares. There is deliberately no --password flag: a
 * password on the command line ends up in `ps`, shell history and cron mails. It comes from PAYBATCH_PASSWORD,
 * set in the environment or in an env file (--env-file).
 */
export interface LyraArgs {
  platform?: string;
  apiUrl?: string;
  shopId?: string;
  envFile?: string;
  timeoutMs?: number;
  pathPrefix?: string;
}

/** Flags > environment > env file (see withEnvFile). */
export function lyraOptionsFrom(argv: LyraArgs, env: NodeJS.ProcessEnv = process.env): LyraClientOptions {
  return resolveLyraConfig(withEnvFile(argv.envFile, env), {
    platform: argv.platform,
    apiUrl: argv.apiUrl,
    shopId: argv.shopId,
    timeoutMs: argv.timeoutMs,
    pathPrefix: argv.pathPrefix,
  });
}

/**
 * The settings: the env file's, under the environment's. As Node's own `--env-file` and dotenv do, a variable already
 * set in the environment wins over the file (a cron line or a container can override one setting of a shared file);
 * flags win over both. Parsed with Node's own parser (util.parseEnv), so the file means what `node --env-file` reads.
 */
export function withEnvFile(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  if (!file) return { ...env };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a folder, not a file' : err.code === 'EACCES' ? 'not readable (permission denied)' : `cannot be read (${err.message})`;
    throw new ConfigError('PB_CONFIG', `--env-file ${file}: ${why}`);
  }
  return { ...parseEnv(text), ...env };
}
