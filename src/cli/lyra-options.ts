import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
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

export function withLyraOptions<T>(y: Argv<T>): Argv<T & LyraArgs> {
  return y
    .option('platform', { type: 'string', group: 'Lyra:', describe: 'platform preset, e.g. payzen-eu, systempay, sogecommerce, scellius, clicandpay, micuentaweb (env PAYBATCH_PLATFORM)' })
    .option('api-url', { type: 'string', group: 'Lyra:', describe: 'explicit API base URL, e.g. https://api.payzen.eu (env PAYBATCH_API_URL)' })
    .option('shop-id', { type: 'string', group: 'Lyra:', describe: 'shop id, the "User" of the REST API keys (env PAYBATCH_SHOP_ID)' })
    .option('env-file', { type: 'string', group: 'Lyra:', describe: 'read PAYBATCH_* settings (and the password) from this file' })
    .option('timeout-ms', { type: 'number', group: 'Lyra:', describe: 'request timeout (env PAYBATCH_TIMEOUT_MS)', defaultDescription: '30000' })
    .option('path-prefix', { type: 'string', group: 'Lyra:', describe: 'API path prefix (env PAYBATCH_PATH_PREFIX)', defaultDescription: '/api-payment/V4' }) as Argv<T & LyraArgs>;
}

/** Flags > env file > environment. Loads the env file into a copy, never into process.env of a child. */
export function lyraOptionsFrom(argv: LyraArgs, env: NodeJS.ProcessEnv = process.env): LyraClientOptions {
  return resolveLyraConfig(withEnvFile(argv.envFile, env), {
    platform: argv.platform,
    apiUrl: argv.apiUrl,
    shopId: argv.shopId,
    timeoutMs: argv.timeoutMs,
    pathPrefix: argv.pathPrefix,
  });
}

/** The environment with the env file's settings on top (the file is what the operator pointed at explicitly). */
export function withEnvFile(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  if (!file) return { ...env };
  if (!existsSync(file)) throw new ConfigError('PB_CONFIG', `--env-file ${file}: no such file`);
  const saved = { ...process.env };
  try {
    // process.loadEnvFile writes into process.env; we read what it added and put process.env back.
    for (const k of Object.keys(process.env)) delete process.env[k];
    process.loadEnvFile(file);
    const fromFile = { ...process.env };
    return { ...env, ...fromFile };
  } catch (e) {
    throw new ConfigError('PB_CONFIG', `--env-file ${file}: cannot be read (${(e as Error).message})`);
  } finally {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
