import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors/paybatch-error.js';
import type { LyraClientOptions } from '../lyra/client.js';
import { resolveLyraConfig } from '../lyra/config.js';

/**
 * Connection options shared by every command that talks to Lyra. No --password flag on purpose (it would reach `ps`,
 * shell history and cron mails): PAYBATCH_PASSWORD comes from the environment or an env file (--env-file).
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
 * The env file's settings under the environment's (as `node --env-file` and dotenv: a cron line can override one
 * setting of a shared file); flags win over both. Parsed with util.parseEnv, so it means what Node reads.
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

/**
 * The env file into this process's environment, for processes that start runs of their own (schedule, serve, worker
 * --schedules): each run reads its credentials there; a variable already set wins.
 */
export function useEnvFile(file: string): void {
  for (const [k, v] of Object.entries(withEnvFile(file))) if (process.env[k] === undefined && v !== undefined) process.env[k] = v;
}
