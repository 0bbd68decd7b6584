import { ConfigError } from '../errors/paybatch-error.js';
import type { LyraClientOptions } from './client.js';
import { modeOfPassword } from './mode.js';
import { PLATFORM_IDS, PLATFORMS, isPlatformId } from './platforms.js';

export interface LyraConfigFlags {
  platform?: string;
  apiUrl?: string;
  shopId?: string;
  pathPrefix?: string;
  timeoutMs?: number;
}

const DEFAULT_PATH_PREFIX = '/api-payment/V4';

/**
 * The Lyra connection settings, resolved once and purely: a flag beats its variable, an explicit URL a platform preset.
 * Every problem names the variable and the flag to fix, never the password.
 */
export function resolveLyraConfig(env: Record<string, string | undefined>, flags: LyraConfigFlags = {}): LyraClientOptions {
  const pick = (flag: string | undefined, name: string): string | undefined => {
    const v = flag ?? env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  let baseUrl: string;
  const flagUrl = flags.apiUrl ?? (flags.platform ? undefined : env.PAYBATCH_API_URL);
  const platform = flags.apiUrl ? undefined : (flags.platform ?? (flagUrl ? undefined : env.PAYBATCH_PLATFORM));
  if (flagUrl !== undefined && flagUrl.trim() !== '') {
    baseUrl = checkUrl(flagUrl.trim());
  } else if (platform !== undefined && platform.trim() !== '') {
    const id = platform.trim().toLowerCase();
    if (!isPlatformId(id)) {
      throw new ConfigError('PB_CONFIG', `unknown platform "${platform.trim()}" in PAYBATCH_PLATFORM / --platform: use one of ${PLATFORM_IDS.join(', ')}, or give the URL with PAYBATCH_API_URL / --api-url`);
    }
    baseUrl = PLATFORMS[id].baseUrl;
  } else {
    throw new ConfigError('PB_CONFIG', `no Lyra API given: set PAYBATCH_PLATFORM (e.g. payzen-eu) or PAYBATCH_API_URL, or pass --platform / --api-url`);
  }

  const shopId = pick(flags.shopId, 'PAYBATCH_SHOP_ID');
  if (!shopId) throw new ConfigError('PB_CONFIG', 'no shop id: set PAYBATCH_SHOP_ID or pass --shop-id (the numeric "User" of the REST API keys)');
  if (!/^\d{1,16}$/.test(shopId)) throw new ConfigError('PB_CONFIG', `shop id "${shopId}" in PAYBATCH_SHOP_ID / --shop-id is not numeric (the "User" of the REST API keys)`);

  // No flag: a password on the command line ends up in `ps`, shell history and cron mails.
  const password = env.PAYBATCH_PASSWORD;
  if (!password) throw new ConfigError('PB_CONFIG', 'no API password: set PAYBATCH_PASSWORD (in the environment or the --env-file) to the REST API password of the shop');
  if (!modeOfPassword(password)) {
    throw new ConfigError('PB_CONFIG', 'the API password in PAYBATCH_PASSWORD does not start with testpassword_ or prodpassword_ (copy the REST "password" key, not the public or HMAC key)');
  }

  const pathPrefix = normalisePrefix(pick(flags.pathPrefix, 'PAYBATCH_PATH_PREFIX') ?? DEFAULT_PATH_PREFIX);

  let timeoutMs: number | undefined = flags.timeoutMs;
  if (timeoutMs === undefined && env.PAYBATCH_TIMEOUT_MS) timeoutMs = Number(env.PAYBATCH_TIMEOUT_MS);
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new ConfigError('PB_CONFIG', 'the request timeout in PAYBATCH_TIMEOUT_MS / --timeout-ms must be a positive number of milliseconds');
  }

  return { baseUrl, pathPrefix, shopId, password, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

function checkUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError('PB_CONFIG', `PAYBATCH_API_URL / --api-url "${raw}" is not a URL (expected e.g. https://api.payzen.eu)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError('PB_CONFIG', `PAYBATCH_API_URL / --api-url must be http(s), got ${u.protocol}`);
  // Credentials in the URL would end up in logs; they belong in PAYBATCH_SHOP_ID / PAYBATCH_PASSWORD.
  if (u.username || u.password) throw new ConfigError('PB_CONFIG', 'PAYBATCH_API_URL / --api-url must not carry credentials: use PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function normalisePrefix(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' ? '' : t.startsWith('/') ? t : `/${t}`;
}

/** A printable one-liner for the target, e.g. `shop 69876357, TEST, https://api.payzen.eu`. Never the password. */
export function describeTarget(opts: Pick<LyraClientOptions, 'baseUrl' | 'shopId' | 'password'>): string {
  const mode = modeOfPassword(opts.password) ?? 'unknown mode';
  return `shop ${opts.shopId}, ${mode}, ${opts.baseUrl}`;
}
