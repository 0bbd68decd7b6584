import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/engine/rate-limit.js';
import { followExitCode } from '../../src/follow/report.js';
import { checkStatus } from '../../src/follow/status.js';
import { LyraClient } from '../../src/lyra/client.js';
import { inDays, makeWorld, type World } from './world.js';

const GET = 'Charge/PaymentOrder/Get';

describe('reading many orders: rate-limited, retried when throttled, stopped by bad credentials', () => {
  let w: World;
  const ids: string[] = [];

  beforeAll(async () => {
    w = await makeWorld();
    for (let i = 1; i <= 6; i++) {
      const o = await w.send({ orderId: `R-${i}`, amount: 100 * i, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' } });
      ids.push(o.paymentOrderId);
    }
  });
  afterAll(() => w.close());

  it('a read answered PSP_106 (throttled) is tried again and the row ends OK', async () => {
    w.sandbox.faults.forOrder(ids[0]!, 'psp-106', { service: GET });
    w.sandbox.resetCounters();
    const run = await w.withLedger((ledger) =>
      checkStatus({ orderIds: ['R-1', 'R-2'], ledger, client: w.client, offline: false, bulk: { concurrency: 2, limiter: createRateLimiter({ perSecond: 50 }), backoffMs: () => 10 } }),
    );
    expect(run.rows.map((r) => [r.orderId, r.result, r.paymentOrderStatus])).toEqual([
      ['R-1', 'OK', 'RUNNING'],
      ['R-2', 'OK', 'RUNNING'],
    ]);
    expect(w.sandbox.counters().requests[GET]).toBe(3);
    expect(followExitCode(run)).toBe(0);
  });

  it('every call, retries included, takes its turn from the shared rate limiter', async () => {
    w.sandbox.faults.forOrder(ids[2]!, 'http-503', { service: GET });
    w.sandbox.resetCounters();
    const real = createRateLimiter({ perSecond: 100 });
    let turns = 0;
    const limiter = { acquire: (s?: AbortSignal) => ((turns += 1), real.acquire(s)), pause: (ms: number) => real.pause(ms) };
    const run = await w.withLedger((ledger) =>
      checkStatus({ orderIds: ids.map((_, i) => `R-${i + 1}`), ledger, client: w.client, offline: false, bulk: { concurrency: 3, limiter, backoffMs: () => 10 } }),
    );
    expect(run.rows.every((r) => r.result === 'OK')).toBe(true);
    expect(w.sandbox.counters().requests[GET]).toBe(7);
    expect(turns).toBe(7);
  });

  it('bad credentials stop the run: the first row FAILED, the others PENDING, exit code 3', async () => {
    const bad = new LyraClient({ baseUrl: w.sandbox.url, shopId: '69876357', password: 'testpassword_NOPE', timeoutMs: 5000 });
    try {
      const run = await w.withLedger((ledger) =>
        checkStatus({ orderIds: ['R-1', 'R-2', 'R-3'], ledger, client: bad, offline: false, bulk: { concurrency: 1, limiter: createRateLimiter({ perSecond: 50 }) } }),
      );
      expect(run.authFailure?.code).toBe('INT_905');
      expect(run.rows.map((r) => r.result)).toEqual(['FAILED', 'PENDING', 'PENDING']);
      expect(followExitCode(run)).toBe(3);
    } finally {
      await bad.close();
    }
  });

  it('an interrupted run leaves what it did not read PENDING (exit code 3)', async () => {
    const stop = new AbortController();
    stop.abort();
    const run = await w.withLedger((ledger) =>
      checkStatus({ orderIds: ['R-1', 'R-2'], ledger, client: w.client, offline: false, bulk: { concurrency: 1, limiter: createRateLimiter({ perSecond: 50 }), signal: stop.signal } }),
    );
    expect(run.rows.map((r) => r.result)).toEqual(['PENDING', 'PENDING']);
    expect(followExitCode(run)).toBe(3);
  });
});
