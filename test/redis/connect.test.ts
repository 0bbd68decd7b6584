import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, resolveRedisTarget } from '../../src/redis/connect.js';
import { freePort, removeDir, startRedis, type RedisServer } from '../support/redis.js';

describe('before queue mode starts, Redis is checked', () => {
  let good: RedisServer;
  let evicting: RedisServer;
  beforeAll(async () => {
    [good, evicting] = await Promise.all([startRedis(), startRedis(['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'])]);
  });
  afterAll(async () => {
    for (const s of [good, evicting]) {
      await s.stop();
      removeDir(s.dir);
    }
  });

  it('takes --redis over REDIS_URL', () => {
    expect(resolveRedisTarget('redis://a:1', { REDIS_URL: 'redis://b:2' })).toEqual({ url: 'redis://a:1', source: '--redis' });
    expect(resolveRedisTarget(undefined, { REDIS_URL: 'redis://b:2' })).toEqual({ url: 'redis://b:2', source: 'REDIS_URL' });
    expect(resolveRedisTarget(undefined, {})).toBeUndefined();
  });

  it('accepts a Redis 6.2+ with noeviction', async () => {
    const redis = await connectRedis({ url: good.url, source: '--redis' }, 'producer');
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();
  });

  it('refuses a Redis that may evict keys, and says how to fix it', async () => {
    await expect(connectRedis({ url: evicting.url, source: 'REDIS_URL' }, 'worker')).rejects.toThrow(
      /maxmemory-policy allkeys-lru.*CONFIG SET maxmemory-policy noeviction/,
    );
  });

  it('says in one line which URL is down and where it came from, without the password', async () => {
    const port = await freePort();
    const err = await connectRedis({ url: `redis://:s3cret@127.0.0.1:${port}`, source: 'REDIS_URL' }, 'producer').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`));
    expect((err as Error).message).not.toContain('s3cret');
    expect((err as Error).message).not.toContain('\n');
  });
});
