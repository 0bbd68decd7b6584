import { describe, expect, it } from 'vitest';
import { PaybatchError } from '../../../src/errors/paybatch-error.js';
import { Redis } from 'ioredis';
import { prespawnWorkerThreads, startWorkerThread } from '../../../src/engine/queue/local-workers.js';
import { freePort, startRedis } from '../../support/redis.js';
import { PASSWORD, SHOP } from '../helpers.js';

describe('a local queue worker on its own thread', () => {
  it('given a Redis nobody listens on, fails with the same one-line error (class, code, exit code) as in the run itself', async () => {
    const port = await freePort();
    const e = await startWorkerThread({
      redis: { url: `redis://127.0.0.1:${port}`, source: '--redis' },
      clientOptions: { baseUrl: 'http://127.0.0.1:9', shopId: SHOP, password: PASSWORD },
      worker: { concurrency: 2 },
    }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PaybatchError);
    expect((e as PaybatchError).code).toBe('PB_REDIS_UNREACHABLE');
    expect((e as PaybatchError).exitCode).toBe(2);
    expect((e as Error).message).toContain(`cannot reach Redis at redis://127.0.0.1:${port} (--redis)`);
    expect((e as Error).message).not.toContain(PASSWORD);
  });

  /** The ids of the connections Redis sees from paybatch's queue workers. */
  async function workerConnectionIds(url: string): Promise<string[]> {
    const admin = new Redis(url);
    try {
      const list = (await admin.client('LIST')) as string;
      return list.split('\n').filter((l) => l.includes('name=paybatch-worker')).map((l) => /\bid=(\d+)/.exec(l)![1]!);
    } finally {
      admin.disconnect();
    }
  }
  /** The number of worker connections once Redis has seen the closed ones go (a close reaches it a moment later). */
  async function workerConnectionsAfterClose(url: string): Promise<number> {
    let n = (await workerConnectionIds(url)).length;
    for (let i = 0; i < 200 && n > 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      n = (await workerConnectionIds(url)).length;
    }
    return n;
  }

  it('told where Redis is before its credentials, uses the connection it opened meanwhile, and leaves none behind', async () => {
    const redis = await startRedis();
    try {
      const target = { url: redis.url, source: '--redis' as const };
      prespawnWorkerThreads(1, target);
      let early: string[] = [];
      for (let i = 0; i < 400 && early.length === 0; i++) {
        early = await workerConnectionIds(redis.url);
        if (early.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      expect(early).toHaveLength(1);
      const worker = await startWorkerThread({ redis: target, clientOptions: { baseUrl: 'http://127.0.0.1:9', shopId: SHOP, password: PASSWORD }, worker: { concurrency: 2 } });
      expect(await workerConnectionIds(redis.url)).toContain(early[0]);
      await worker.close();
      expect(await workerConnectionsAfterClose(redis.url)).toBe(0);
    } finally {
      await redis.stop();
    }
  });

  it('told a Redis that is down, then started for another one that is up, starts on the one it is given', async () => {
    const redis = await startRedis();
    try {
      const down = await freePort();
      prespawnWorkerThreads(1, { url: `redis://127.0.0.1:${down}`, source: 'REDIS_URL' });
      const target = { url: redis.url, source: '--redis' as const };
      const worker = await startWorkerThread({ redis: target, clientOptions: { baseUrl: 'http://127.0.0.1:9', shopId: SHOP, password: PASSWORD }, worker: { concurrency: 2 } });
      expect((await workerConnectionIds(redis.url)).length).toBeGreaterThan(0);
      await worker.close();
      expect(await workerConnectionsAfterClose(redis.url)).toBe(0);
    } finally {
      await redis.stop();
    }
  });
});
