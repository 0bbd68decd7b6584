// ioredis is loaded by connectRedis, not here: the embedded run and validate import this module but never use Redis.
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';

/**
 * Producers (run, enqueue, report) fail fast while Redis is away and the caller decides; workers wait for it forever
 * (BullMQ requires `maxRetriesPerRequest: null` on their connections).
 */
export type RedisRole = 'producer' | 'worker';

/** Where the URL came from, so a message can name what to fix. */
export interface RedisTarget {
  url: string;
  source: string;
  /** The operator accepted a Redis that may lose the last writes when it crashes (--redis-may-lose-claims). */
  mayLoseClaims?: boolean;
}

export const MIN_REDIS_VERSION = [6, 2, 0] as const;

/** `--redis` wins over `REDIS_URL`; undefined when neither is set (then the embedded engine runs). */
export function resolveRedisTarget(flag: string | undefined, env: Record<string, string | undefined>): RedisTarget | undefined {
  const mayLoseClaims = (env[MAY_LOSE_CLAIMS] ?? '').toLowerCase() === 'yes' ? { mayLoseClaims: true } : {};
  if (flag) return { url: flag, source: '--redis', ...mayLoseClaims };
  if (env.REDIS_URL) return { url: env.REDIS_URL, source: 'REDIS_URL', ...mayLoseClaims };
  return undefined;
}

/** The URL without its password, for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(an unreadable Redis URL)';
  }
}

/** ioredis options for a role. Reconnects with a capped back-off, forever: a Redis restart needs no operator. */
export function redisOptions(role: RedisRole): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectionName: `paybatch-${role}`,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
  };
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

function infoField(info: string, name: string): string | undefined {
  return info.match(new RegExp(`^${name}:(.*)$`, 'm'))?.[1]?.trim();
}

/** Refuses a Redis that would lose or evict jobs and ledger entries: too old for BullMQ, or an eviction policy. */
export async function checkRedisServer(redis: Redis, target: RedisTarget): Promise<{ version: string }> {
  const info = await redis.info();
  const version = infoField(info, 'redis_version') ?? '0.0.0';
  const parts = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  if (compareVersions(parts, MIN_REDIS_VERSION) < 0) {
    throw new ConfigError('PB_REDIS_VERSION', `Redis at ${safeRedisUrl(target.url)} (${target.source}) is version ${version}; queue mode needs Redis 6.2 or newer.`);
  }
  await checkDurability(redis, target, info);
  const policy = infoField(info, 'maxmemory_policy') ?? 'noeviction';
  if (policy !== 'noeviction') {
    throw new ConfigError(
      'PB_REDIS_EVICTION',
      `Redis at ${safeRedisUrl(target.url)} (${target.source}) has maxmemory-policy ${policy}: it could silently evict queued jobs and ledger entries. Fix: redis-cli CONFIG SET maxmemory-policy noeviction (and "maxmemory-policy noeviction" in redis.conf).`,
    );
  }
  return { version };
}

/** Set to `yes` (or pass --redis-may-lose-claims) to accept a Redis that can forget the last writes when it crashes. */
export const MAY_LOSE_CLAIMS = 'PAYBATCH_REDIS_MAY_LOSE_CLAIMS';

/**
 * A claim in Redis must be durable before the POST leaves, or a Redis crash lets the next run send again: only
 * `appendonly yes` + `appendfsync always` (no WAITAOF before 7.2). Less is refused unless the operator accepts it.
 */
async function checkDurability(redis: Redis, target: RedisTarget, info: string): Promise<void> {
  if (target.mayLoseClaims || (process.env[MAY_LOSE_CLAIMS] ?? '').toLowerCase() === 'yes') return;
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    const got = (await redis.call('CONFIG', 'GET', 'append*')) as string[];
    for (let i = 0; i + 1 < got.length; i += 2) {
      if (got[i] === 'appendonly') appendonly = got[i + 1];
      if (got[i] === 'appendfsync') appendfsync = got[i + 1];
    }
  } catch {
    // CONFIG is often disabled on managed Redis: INFO tells whether the AOF is on, not how often it is synced.
    appendonly = infoField(info, 'aof_enabled') === '1' ? 'yes' : 'no';
  }
  if (appendonly === 'yes' && appendfsync === 'always') return;
  const now = appendonly !== 'yes' ? 'no append-only file (a crash loses every claim since the last snapshot)' : appendfsync ? `appendfsync ${appendfsync} (a crash can lose the last second of claims)` : 'an append-only file whose fsync policy cannot be read (CONFIG is disabled)';
  throw new ConfigError(
    'PB_REDIS_NOT_DURABLE',
    `Redis at ${safeRedisUrl(target.url)} (${target.source}) has ${now}, and then a re-run would send those invoices again. Fix: redis-cli CONFIG SET appendonly yes; redis-cli CONFIG SET appendfsync always (and the same in redis.conf), or accept the risk with ${MAY_LOSE_CLAIMS}=yes (environment or --env-file; --redis-may-lose-claims on run, enqueue, worker and serve)`,
  );
}

/** Closes a connection opened ahead that nobody took, once it is open (one that failed to open needs nothing). */
export function dropConnection(redis: Promise<Redis> | undefined): void {
  redis?.then((r) => r.disconnect(), () => undefined);
}

/**
 * Connects for a role and checks the server. A Redis that cannot be reached is one line naming the URL (password
 * hidden) and where it came from; never a stack trace.
 */
export async function connectRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): Promise<Redis> {
  // required, not imported, as bullmq is (engine/queue/bullmq.ts): an import first scans ioredis' sources for their
  // export names, even once bullmq has loaded it.
  const { Redis } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  let redis: Redis;
  let everReady = false;
  try {
    const base = redisOptions(role);
    redis = new Redis(target.url, {
      ...base,
      // Before the first connection a refusal is the operator's to fix (wrong URL, Redis not started): say so at once.
      retryStrategy: (times) => (everReady ? base.retryStrategy!(times) : null),
      ...extra,
    });
  } catch {
    throw new ConfigError('PB_REDIS_URL', `${target.source} is not a Redis URL (expected redis://host:6379 or rediss://…): ${safeRedisUrl(target.url)}`);
  }
  // ioredis logs "Unhandled error event" otherwise; failures surface through connect() and command promises. The
  // event carries the cause (ECONNREFUSED …) where connect() only says "Connection is closed.".
  let cause: Error | undefined;
  redis.on('error', (e: Error) => {
    if (!everReady) cause = e;
  });
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    const err = cause ?? e;
    const why = (err instanceof Error ? err.message.replace(target.url, safeRedisUrl(target.url)) : String(err)).replace(/\.$/, '');
    throw new PaybatchError('PB_REDIS_UNREACHABLE', `cannot reach Redis at ${safeRedisUrl(target.url)} (${target.source}): ${why}. Is redis-server running?`, 2);
  }
  everReady = true;
  try {
    await checkRedisServer(redis, target);
  } catch (e) {
    redis.disconnect();
    throw e;
  }
  return redis;
}

/** Like resolveRedisTarget, for commands that only exist in queue mode. */
export function requireRedisTarget(flag: string | undefined, env: Record<string, string | undefined>): RedisTarget {
  const t = resolveRedisTarget(flag, env);
  if (!t) throw new ConfigError('PB_CONFIG', 'queue mode needs Redis: pass --redis redis://host:6379 or set REDIS_URL');
  return t;
}
