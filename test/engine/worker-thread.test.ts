import { describe, expect, it } from 'vitest';
import { PaybatchError } from '../../src/errors/paybatch-error.js';
import { startWorkerThread } from '../../src/engine/worker-thread.js';
import { freePort } from '../support/redis.js';
import { PASSWORD, SHOP } from './helpers.js';

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
});
