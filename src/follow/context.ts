import { ConfigError } from '../errors/paybatch-error.js';
import { lyraOptionsFrom, withEnvFile, type LyraArgs } from '../settings/settings.js';
import { createRateLimiter } from '../engine/rate-limit.js';
import { resolveRedisTarget } from '../redis/connect.js';
import { LEDGER_SETTING, openLedgerOfRecord, type OpenedLedger } from '../ledger/open-ledger.js';
import type { Ledger } from '../ledger/ledger.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { checkStateFolder } from '../lib/writable-paths.js';
import { LyraClient } from '../lyra/client.js';
import { modeOfPassword } from '../lyra/mode.js';
import type { Mode } from '../lyra/types.js';
import { drainInbox } from '../ipn/inbox.js';
import { openLedgerPatiently } from '../ledger/local/open-patiently.js';
import type { CallLimiter } from './bulk.js';

export interface FollowArgs extends LyraArgs {
  stateDir?: string;
  redis?: string;
  rate: number;
  concurrency: number;
}

export const DEFAULT_RATE = 10;
export const DEFAULT_CONCURRENCY = 4;


/** Shop and mode (from the password prefix), for what needs the ledger but not the API: `ipn`, `status --offline`. */
export function shopAndMode(argv: LyraArgs, env: NodeJS.ProcessEnv = process.env): { shopId: string; mode: Mode; password: string; hmacKey?: string } {
  const e = withEnvFile(argv.envFile, env);
  const shopId = (argv.shopId ?? e.PAYBATCH_SHOP_ID ?? '').trim();
  if (!shopId) throw new ConfigError('PB_CONFIG', 'no shop id: set PAYBATCH_SHOP_ID or pass --shop-id (the numeric "User" of the REST API keys)');
  if (!/^\d{1,16}$/.test(shopId)) throw new ConfigError('PB_CONFIG', `shop id "${shopId}" in PAYBATCH_SHOP_ID / --shop-id is not numeric (the "User" of the REST API keys)`);
  const password = e.PAYBATCH_PASSWORD ?? '';
  if (!password) throw new ConfigError('PB_CONFIG', 'no API password: set PAYBATCH_PASSWORD (in the environment or the --env-file) to the REST API password of the shop');
  const mode = modeOfPassword(password);
  if (!mode) throw new ConfigError('PB_CONFIG', 'the API password in PAYBATCH_PASSWORD does not start with testpassword_ or prodpassword_ (copy the REST "password" key, not the public or HMAC key)');
  const hmacKey = e.PAYBATCH_HMAC_KEY?.trim() || undefined;
  return { shopId, mode, password, ...(hmacKey ? { hmacKey } : {}) };
}

export interface FollowContext {
  shopId: string;
  mode: Mode;
  stateDir: string;
  ledger: Ledger;
  /** Absent when the command said it needs no API (`status --offline`). */
  client?: LyraClient;
  limiter: CallLimiter;
  /** Payment notifications journalled by `paybatch ipn` and applied now. */
  notificationsApplied: number;
  close(): Promise<void>;
}

/** The ledger of record of a shop + mode (src/ledger/open-ledger.ts), opened on demand. */
export interface LedgerStore {
  /** Opens the ledger; the local one waits a few seconds for a lock held by `paybatch ipn` unless `patient` is false. */
  open(opts?: { patient?: boolean }): Promise<Ledger>;
  /** The Redis connection, if any. */
  close(): Promise<void>;
}

/**
 * `--redis` / REDIS_URL name a Redis in play; the ledger of record may still be elsewhere (PAYBATCH_LEDGER, or what
 * this machine remembers): open-ledger decides, and refuses when it cannot reach it.
 */
export async function openLedgerStore(o: { redis?: string; stateDir: string; shopId: string; mode: Mode; env: Record<string, string | undefined>; onNotice?: (m: string) => void }): Promise<LedgerStore> {
  const target = resolveRedisTarget(o.redis, o.env);
  const setting = ledgerSettingFrom(o.env);
  let shared: OpenedLedger | undefined;
  return {
    open: async (x) => {
      if (shared) return shared.ledger;
      const opened = await openLedgerOfRecord({
        stateDir: o.stateDir,
        shopId: o.shopId,
        mode: o.mode,
        ...(setting ? { setting } : {}),
        ...(target ? { redis: target } : {}),
        ...(o.onNotice ? { onNotice: o.onNotice } : {}),
        patient: x?.patient !== false,
      });
      if (opened.kind === 'redis') {
        // One connection for the command's life; the ledger's own close() leaves it open.
        shared = opened;
      }
      return opened.ledger;
    },
    close: async () => {
      await shared?.close();
    },
  };
}

/** PAYBATCH_LEDGER from the environment (or the env file), with its source for messages. */
export function ledgerSettingFrom(env: Record<string, string | undefined>): { value: string; source: string } | undefined {
  const v = env[LEDGER_SETTING]?.trim();
  return v ? { value: v, source: LEDGER_SETTING } : undefined;
}

export { openLedgerPatiently };

function checkNumbers(argv: FollowArgs): void {
  if (!(Number.isFinite(argv.rate) && argv.rate >= 1)) throw new ConfigError('PB_OPTION', `--rate ${argv.rate}: give a number of API calls per second, at least 1`);
  if (!(Number.isInteger(argv.concurrency) && argv.concurrency >= 1)) throw new ConfigError('PB_OPTION', `--concurrency ${argv.concurrency}: give a whole number, at least 1`);
}

/**
 * Resolves the configuration, opens the ledger of record of the shop + mode, and applies the notifications the IPN
 * receiver journalled, so every follow-up command sees every payment received so far.
 */
export async function openFollow(argv: FollowArgs, opts: { api: boolean; env?: NodeJS.ProcessEnv }): Promise<FollowContext> {
  checkNumbers(argv);
  const env = opts.env ?? process.env;
  let shopId: string;
  let mode: Mode;
  let client: LyraClient | undefined;
  if (opts.api) {
    const lyra = lyraOptionsFrom(argv, env);
    client = new LyraClient(lyra);
    shopId = lyra.shopId;
    mode = client.mode;
  } else {
    ({ shopId, mode } = shopAndMode(argv, env));
  }
  const stateDir = argv.stateDir ?? defaultStateDir(withEnvFile(argv.envFile, env));
  let ledger: Ledger;
  let store: LedgerStore;
  try {
    if (!argv.redis) await checkStateFolder(stateDir, '--state-dir or PAYBATCH_STATE_DIR');
    store = await openLedgerStore({ redis: argv.redis, stateDir, shopId, mode, env: withEnvFile(argv.envFile, env), onNotice: (m) => process.stderr.write(`paybatch: ${m}\n`) });
    try {
      ledger = await store.open();
    } catch (e) {
      await store.close();
      throw e;
    }
  } catch (e) {
    await client?.close();
    throw e;
  }
  let applied = 0;
  try {
    applied = (await drainInbox(stateDir, ledger)).applied;
  } catch (e) {
    await ledger.close();
    await store.close();
    await client?.close();
    throw e;
  }
  return {
    shopId,
    mode,
    stateDir,
    ledger,
    ...(client ? { client } : {}),
    limiter: createRateLimiter({ perSecond: argv.rate }),
    notificationsApplied: applied,
    async close() {
      await ledger.close();
      await store.close();
      await client?.close();
    },
  };
}
