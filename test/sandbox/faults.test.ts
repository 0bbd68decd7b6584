import { describe, expect, it } from 'vitest';
import { startSandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { http, post, waitFor } from './helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';
const order = (orderId: string) => ({ amount: 100, currency: 'EUR', orderId });

/** What one create looks like from the outside: the errorCode, the HTTP status, or the network error. */
async function outcome(base: string, orderId: string): Promise<string> {
  try {
    const r = await post(base, CREATE, order(orderId));
    if (r.status !== 200) return `HTTP ${r.status}`;
    return r.json?.status === 'SUCCESS' ? 'SUCCESS' : (r.json?.answer?.errorCode ?? 'not JSON');
  } catch (e) {
    return `network ${(e as { code?: string }).code ?? 'error'}`;
  }
}

async function withSandbox<T>(opts: SandboxOptions, fn: (sb: Awaited<ReturnType<typeof startSandbox>>) => Promise<T>): Promise<T> {
  const sb = await startSandbox(opts);
  try {
    return await fn(sb);
  } finally {
    await sb.stop();
  }
}

describe('fault injection and counters', () => {
  it('aims faults at an orderId, a given number of times, then behaves normally', async () => {
    await withSandbox({}, async (sb) => {
      sb.faults.forOrder('F-1', 'psp-106', { times: 2 });
      expect(await outcome(sb.url, 'F-1')).toBe('PSP_106');
      expect(await outcome(sb.url, 'F-1')).toBe('PSP_106');
      expect(await outcome(sb.url, 'F-1')).toBe('SUCCESS');
      sb.faults.forOrder('F-2', 'http-500');
      expect(await outcome(sb.url, 'F-2')).toBe('HTTP 500');
      sb.faults.forOrder('F-3', 'reset-before-create');
      expect(await outcome(sb.url, 'F-3')).toMatch(/^network/);
      expect(sb.counters().ordersCreated).toEqual({ 'F-1': 1 });
      sb.faults.forOrder('F-4', 'reset-after-create');
      expect(await outcome(sb.url, 'F-4')).toMatch(/^network/);
      const c = sb.counters();
      expect(c.ordersCreated).toEqual({ 'F-1': 1, 'F-4': 1 });
      expect(c.errors).toMatchObject({ PSP_106: 2, HTTP_500: 1, RESET: 2 });
      expect(c.faults).toMatchObject({ 'psp-106': 2, 'http-500': 1, 'reset-before-create': 1, 'reset-after-create': 1 });
      expect(c.requests[CREATE]).toBe(6);
    });
  });

  it('random faults replay identically for the same seed', async () => {
    const run = (seed: number) =>
      withSandbox({ seed, failRate: 0.5, failKinds: ['psp-106', 'http-500', 'http-503'] }, async (sb) => {
        const seen: string[] = [];
        for (let i = 0; i < 24; i++) seen.push(await outcome(sb.url, `R-${i}`));
        return seen;
      });
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(a).toContain('SUCCESS');
    expect(a.some((o) => o !== 'SUCCESS')).toBe(true);
  });

  it('throttles above the configured rate with PSP_106 and counts the busiest second', async () => {
    await withSandbox({ throttlePerSecond: 5 }, async (sb) => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(sb.url, `T-${i}`)));
      const ok = results.filter((r) => r === 'SUCCESS').length;
      expect(ok).toBeGreaterThanOrEqual(1);
      // 5 per sliding second; a very slow machine may spread the burst over two seconds.
      expect(ok).toBeLessThanOrEqual(10);
      expect(results.filter((r) => r === 'PSP_106').length).toBe(12 - ok);
      const c = sb.counters();
      expect(c.maxPerSecond.all).toBeGreaterThanOrEqual(Math.min(12, 6));
      expect(c.maxPerSecond.create).toBe(c.maxPerSecond.all);
      sb.resetCounters();
      expect(sb.counters()).toMatchObject({ totalRequests: 0, requests: {}, maxPerSecond: { all: 0, create: 0 } });
    });
  });

  it('holds a timed-out request until the client gives up, and stop() still closes promptly', async () => {
    const sb = await startSandbox();
    sb.faults.forOrder('HOLD-1', 'timeout-before-create');
    const pending = outcome(sb.url, 'HOLD-1');
    await waitFor(() => (sb.counters().errors.TIMEOUT ?? 0) === 1, 'the held request');
    await sb.stop();
    expect(await pending).toMatch(/^network/);
  });

  it('offers the same controls over HTTP for processes started by other tests', async () => {
    await withSandbox({}, async (sb) => {
      expect((await http('POST', `${sb.url}/_sandbox/faults`, { key: 'H-1', kind: 'http-503', times: 1 })).status).toBe(200);
      expect((await http('GET', `${sb.url}/_sandbox/faults`)).json).toEqual({ 'H-1': [{ kind: 'http-503', remaining: 1 }] });
      const r = await post(sb.url, CREATE, order('H-1'));
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(await outcome(sb.url, 'H-1')).toBe('SUCCESS');

      const list = (await http('GET', `${sb.url}/_sandbox/orders?orderId=H-1`)).json;
      expect(list).toHaveLength(1);
      const id = list[0].order.paymentOrderId;
      expect((await http('GET', `${sb.url}/_sandbox/orders/${id}`)).json.order.orderId).toBe('H-1');
      const paid = await http('POST', `${sb.url}/_sandbox/pay`, { paymentOrderId: id });
      expect(paid.json.order.paymentOrderStatus).toBe('PAID');
      expect((await http('POST', `${sb.url}/_sandbox/pay`, { paymentOrderId: id })).status).toBe(409);

      const counters = (await http('GET', `${sb.url}/_sandbox/counters`)).json;
      expect(counters).toMatchObject({ ordersCreated: { 'H-1': 1 }, errors: { HTTP_503: 1 }, requests: { [CREATE]: 2 }, ipn: { skipped: 1 } });
      expect((await http('POST', `${sb.url}/_sandbox/faults`, { key: 'H-2', kind: 'meteor' })).status).toBe(400);
      expect((await http('POST', `${sb.url}/_sandbox/expire`)).json).toEqual({ expired: 0 });
      expect((await http('POST', `${sb.url}/_sandbox/counters/reset`)).status).toBe(200);
      expect((await http('GET', `${sb.url}/_sandbox/counters`)).json.totalRequests).toBe(0);
    });
  });
});
