import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedRateLimiter } from '../../src/engine/redis-rate-limit.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';

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

describe('one rate limit shared by every worker', () => {
  it('three workers on their own connections never start more than the rate in any sliding second', async () => {
    const base = `t-${randomUUID()}`;
    const keys = { window: `${base}:win`, pause: `${base}:pause`, settings: `${base}:settings` };
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
    const base = `t-${randomUUID()}`;
    const keys = { window: `${base}:win`, pause: `${base}:pause`, settings: `${base}:settings` };
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
    const base = `t-${randomUUID()}`;
    const keys = { window: `${base}:win`, pause: `${base}:pause`, settings: `${base}:settings` };
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
});
