import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisScript } from '../ledger/redis-script.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * One sliding-window limit shared by every worker of a queue, on any machine. The window is a sorted set of request
 * start times, read and written atomically with the server's own clock (machines' clocks disagree; Redis has one).
 * KEYS: the window, the pause key, the queue's settings hash (field `rate`, per second). ARGV: a unique member,
 * window ms, fallback rate. → 0: go now; n > 0: ask again in n ms.
 */
const ACQUIRE = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local rate = tonumber(redis.call('HGET', KEYS[3], 'rate') or ARGV[3])
if (not rate) or rate <= 0 then return 0 end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < rate then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
`);

/** Extends the pause to at least ARGV[1] ms; never shortens one already longer. */
const PAUSE = new RedisScript(`
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
`);

export interface SharedRateLimiterOptions {
  redis: Redis;
  /** Keys of this queue's limiter (see `queueKeys`). */
  keys: { window: string; pause: string; settings: string };
  /** Requests per second when the settings hash has none; 0 or absent = no limit. */
  fallbackPerSecond?: number;
  /**
   * Slack added to the one-second window, in ms (default 25). A request is counted when it is allowed to start, but
   * the platform sees it a few ms later, and not always the same few: the slack keeps every sliding second at the
   * platform at or under the rate, at the cost of ~2.5 % throughput.
   */
  slackMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The shared limiter: `acquire` before every POST (the job function's `beforeAttempt`), `pause` on throttling. */
export class SharedRateLimiter implements RateLimiter {
  private readonly opts: Required<Omit<SharedRateLimiterOptions, 'fallbackPerSecond'>> & { fallbackPerSecond: number };

  constructor(opts: SharedRateLimiterOptions) {
    this.opts = { slackMs: 25, sleep: abortableSleep, fallbackPerSecond: 0, ...opts };
  }

  /** Resolves when this process may start one request; every worker on every machine shares the same window. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const { redis, keys, slackMs, fallbackPerSecond, sleep } = this.opts;
    const member = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const wait = Number(await ACQUIRE.run(redis, [keys.window, keys.pause, keys.settings], [member, 1000 + slackMs, fallbackPerSecond]));
      if (wait <= 0) return;
      // A little jitter so waiting workers do not all ask again in the same millisecond.
      await sleep(Math.min(wait, 1000) + Math.floor(Math.random() * 5), signal);
    }
  }

  /** Every worker stops starting requests for `ms` (the platform said PSP_106 / 429). */
  async pause(ms: number): Promise<void> {
    await PAUSE.run(this.opts.redis, [this.opts.keys.pause], [Math.max(1, Math.ceil(ms))]);
  }
}
