import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedRateLimiter } from '../../../src/engine/queue/shared-rate-limit.js';
import { removeDir, startRedis, type RedisServer } from '../../support/redis.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
  removeDir(server.dir);
});

function maxInAnySlidingSecond(times: number[]): number {
  const t = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= 1000) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

/** The limiter keys of a queue no other test uses. */
const freshKeys = () => {
  const base = `t-${randomUUID()}`;
  return { window: `${base}:win`, pause: `${base}:pause`, settings: `${base}:settings` };
};

describe('one rate limit shared by every worker', () => {
  it('three workers on their own connections never start more than the rate in any sliding second', async () => {
    const keys = freshKeys();
    const conns = [new Redis(server.url), new Redis(server.url), new Redis(server.url)];
    await conns[0]!.hset(keys.settings, 'rate', 20);
    const starts: number[] = [];
    const workers = conns.map((redis) => new SharedRateLimiter({ redis, keys }));
    // 3 workers × 4 concurrent slots × 5 requests = 60 requests at 20/s.
    await Promise.all(
      workers.flatMap((w) =>
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 5; i++) {
            const grant = await w.acquire();
            await w.confirm(grant);
            starts.push(performance.now());
            await w.done(grant);
          }
        }),
      ),
    );
    expect(starts).toHaveLength(60);
    expect(maxInAnySlidingSecond(starts)).toBeLessThanOrEqual(20);
    for (const c of conns) c.disconnect();
  });

  it('a request never answered (its worker died) gives its place back once its hold runs out', async () => {
    const keys = freshKeys();
    const conn = new Redis(server.url);
    await conn.hset(keys.settings, 'rate', 1);
    const dead = new SharedRateLimiter({ redis: conn, keys, holdMs: 200 });
    await dead.confirm(await dead.acquire());
    // No done(): the place is held for the hold, then one window; the next request waits for it, and then goes.
    const next = new SharedRateLimiter({ redis: conn, keys, holdMs: 200 });
    await next.acquire();
    expect(await conn.zcard(keys.window)).toBe(1);
    conn.disconnect();
  });

  it('a pause asked by one worker holds every worker until it ends', async () => {
    const keys = freshKeys();
    const a = new Redis(server.url);
    const b = new Redis(server.url);
    await new SharedRateLimiter({ redis: a, keys, fallbackPerSecond: 100 }).pause(300);
    const pttl = await b.pttl(keys.pause);
    expect(pttl).toBeGreaterThan(0);
    let released = false;
    const waiting = new SharedRateLimiter({ redis: b, keys, fallbackPerSecond: 100 }).acquire().then(() => (released = true));
    expect(released).toBe(false);
    await waiting;
    expect(await b.exists(keys.pause)).toBe(0);
    a.disconnect();
    b.disconnect();
  });
  it('a grant just taken is confirmed without a round trip; an older one is checked in Redis', async () => {
    const keys = freshKeys();
    const conn = new Redis(server.url);
    const spy = new Redis(server.url);
    await conn.hset(keys.settings, 'rate', 10);
    const evalCalls = async () => {
      const info = await spy.info('commandstats');
      return ['evalsha', 'eval'].reduce((n, c) => n + Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(info)?.[1] ?? 0), 0);
    };
    const fresh = new SharedRateLimiter({ redis: conn, keys });
    const grant = await fresh.acquire();
    const before = await evalCalls();
    await fresh.confirm(grant);
    expect(await evalCalls()).toBe(before);
    // freshMs 0: every grant counts as old, so confirm asks Redis (and the place is still held).
    const strict = new SharedRateLimiter({ redis: conn, keys, freshMs: 0 });
    const other = await strict.acquire();
    const before2 = await evalCalls();
    await strict.confirm(other);
    expect(await evalCalls()).toBeGreaterThan(before2);
    expect(await conn.zscore(keys.window, other)).not.toBeNull();
    conn.disconnect();
    spy.disconnect();
  });

  it('a grant given back unused frees its place at once: with a rate of 1, the next request does not wait', async () => {
    const keys = freshKeys();
    const conn = new Redis(server.url);
    await conn.hset(keys.settings, 'rate', 1);
    const slept: number[] = [];
    const limiter = new SharedRateLimiter({ redis: conn, keys, sleep: async (ms) => void slept.push(ms) });
    await limiter.cancel(await limiter.acquire());
    expect(await conn.zcard(keys.window)).toBe(0);
    const used = await limiter.acquire();
    await limiter.done(used);
    expect(slept).toEqual([]);
    // A used one holds its place: the next asks to wait.
    const next = limiter.acquire();
    await next;
    expect(slept.length).toBeGreaterThan(0);
    conn.disconnect();
  });
  it('an answer recorded later frees its place one window after the answer, not after the record', async () => {
    const keys = freshKeys();
    const conn = new Redis(server.url);
    const limiter = new SharedRateLimiter({ redis: conn, keys, fallbackPerSecond: 10 });
    const redisNow = async () => {
      const [s, us] = await conn.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    const late = await limiter.acquire();
    // The answer came 300 ms before its done is sent (a busy worker, a slow record).
    await limiter.done(late, performance.now() - 300);
    const after = await redisNow();
    const lateScore = Number(await conn.zscore(keys.window, late));
    expect(lateScore).toBeLessThanOrEqual(after - 300);
    expect(lateScore).toBeGreaterThan(after - 400);
    // Without an answer time (a failed request), from now.
    const failed = await limiter.acquire();
    const before = await redisNow();
    await limiter.done(failed);
    expect(Number(await conn.zscore(keys.window, failed))).toBeGreaterThanOrEqual(before);
    conn.disconnect();
  });

  it('many requests of one process waiting for places: one of them at a time asks Redis, the rest wait their turn', async () => {
    const keys = freshKeys();
    const conn = new Redis(server.url);
    await conn.hset(keys.settings, 'rate', 10);
    let sleeping = 0;
    let most = 0;
    const sleep = async (ms: number) => {
      sleeping++;
      most = Math.max(most, sleeping);
      await new Promise((r) => setTimeout(r, ms));
      sleeping--;
    };
    const limiter = new SharedRateLimiter({ redis: conn, keys, sleep });
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        const grant = await limiter.acquire();
        await limiter.confirm(grant);
        starts.push(performance.now());
        await limiter.done(grant);
      }),
    );
    expect(starts).toHaveLength(25);
    expect(maxInAnySlidingSecond(starts)).toBeLessThanOrEqual(10);
    expect(most).toBe(1);
    conn.disconnect();
  });
});
