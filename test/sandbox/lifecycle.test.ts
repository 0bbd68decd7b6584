import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyIpn } from '../../src/lyra/ipn.js';
import { DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { http, post, waitFor } from './helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';

/** A merchant's IPN endpoint: records every form it receives; answers with the next queued status (default 200). */
async function ipnReceiver(): Promise<{ url: string; received: Record<string, string>[]; statuses: number[]; close: () => Promise<void> }> {
  const received: Record<string, string>[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push(Object.fromEntries(new URLSearchParams(body)));
      res.writeHead(statuses.shift() ?? 200).end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ipn`,
    received,
    statuses,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('the payment-order lifecycle', () => {
  let sb: Sandbox;
  let clock = Date.parse('2026-03-01T10:00:00Z');
  let merchant: Awaited<ReturnType<typeof ipnReceiver>>;

  beforeAll(async () => {
    merchant = await ipnReceiver();
    sb = await startSandbox({ now: () => clock, ipnUrl: merchant.url, ipnRetryDelaysMs: [5, 5] });
  });
  afterAll(async () => {
    await sb.stop();
    await merchant.close();
  });

  async function create(orderId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const r = await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId, ...extra });
    expect(r.json.status).toBe('SUCCESS');
    return r.json.answer.paymentOrderId;
  }
  const status = async (id: string) => (await post(sb.url, 'Charge/PaymentOrder/Get', { paymentOrderId: id })).json.answer.paymentOrderStatus;
  const errorOf = async (service: string, body: unknown) => (await post(sb.url, service, body)).json.answer.errorCode;
  const update = (id: string) => ({ paymentOrderId: id, amount: 100, currency: 'EUR' });

  it('a paid order posts an IPN signed with the password over the raw kr-answer, carrying orderId and paymentOrderId', async () => {
    const id = await create('LIFE-PAID');
    const result = await sb.pay(id);
    expect(result.order.paymentOrderStatus).toBe('PAID');
    expect(result.ipn).toMatchObject({ delivered: true, attempts: 1, last: 200 });

    const form = merchant.received.at(-1)!;
    expect(form).toMatchObject({ 'kr-hash-algorithm': 'sha256_hmac', 'kr-hash-key': 'password', 'kr-answer-type': 'V4/Payment' });
    const v = verifyIpn(form, { password: DEMO_TEST_PASSWORD });
    expect(v.ok).toBe(true);
    const answer = (v as { answer: any }).answer;
    expect(answer).toMatchObject({ shopId: '69876357', orderStatus: 'PAID', orderDetails: { orderId: 'LIFE-PAID', paymentOrderId: id, mode: 'TEST', orderTotalAmount: 4500 }, _type: 'V4/Payment' });
    expect(answer.transactions[0]).toMatchObject({ status: 'PAID', detailedStatus: 'AUTHORISED', operationType: 'DEBIT' });
    expect(answer.transactions[0].uuid).toMatch(/^[0-9a-f]{32}$/);

    expect(await status(id)).toBe('PAID');
    expect(await errorOf('Charge/PaymentOrder/Update', update(id))).toBe('PSP_1005');
    expect(await errorOf('Charge/PaymentOrder/Cancel', { paymentOrderId: id })).toBe('PSP_1005');
  });

  it('a refused payment finalizes the order as REFUSED (Q4) and the IPN says UNPAID / REFUSED', async () => {
    const id = await create('LIFE-REFUSED');
    await sb.pay(id, { refuse: true });
    const answer = JSON.parse(merchant.received.at(-1)!['kr-answer']!);
    expect(answer.orderStatus).toBe('UNPAID');
    expect(answer.transactions[0].detailedStatus).toBe('REFUSED');
    expect(await status(id)).toBe('REFUSED');
    expect(await errorOf('Charge/PaymentOrder/Cancel', { paymentOrderId: id })).toBe('PSP_1005');
    await expect(sb.pay(id)).rejects.toThrow(/PSP_1005/);
  });

  it('a cancelled order refuses Update, Cancel and payment with PSP_1101', async () => {
    const id = await create('LIFE-CANCEL');
    expect((await post(sb.url, 'Charge/PaymentOrder/Cancel', { paymentOrderId: id })).json.answer.paymentOrderStatus).toBe('CANCELLED');
    expect(await errorOf('Charge/PaymentOrder/Update', update(id))).toBe('PSP_1101');
    expect(await errorOf('Charge/PaymentOrder/Cancel', { paymentOrderId: id })).toBe('PSP_1101');
    await expect(sb.pay(id)).rejects.toThrow(/PSP_1101/);
  });

  it('expires by the clock: EXPIRED after expirationDate, then PSP_1006 for Update and Cancel', async () => {
    const id = await create('LIFE-EXPIRE', { expirationDate: '2026-03-01T12:00:00+01:00' });
    const other = await create('LIFE-EXPIRE-2', { expirationDate: '2026-03-01T12:00:00+01:00' });
    expect(await status(id)).toBe('RUNNING');
    clock = Date.parse('2026-03-01T11:00:01Z');
    expect(sb.expireDue()).toBeGreaterThanOrEqual(2);
    expect(sb.order(other)?.order.paymentOrderStatus).toBe('EXPIRED');
    expect(await status(id)).toBe('EXPIRED');
    expect(await errorOf('Charge/PaymentOrder/Update', update(id))).toBe('PSP_1006');
    expect(await errorOf('Charge/PaymentOrder/Cancel', { paymentOrderId: id })).toBe('PSP_1006');
  });

  it('sends the IPN to the order\'s ipnTargetUrl when given, and retries until the merchant answers 2xx', async () => {
    const second = await ipnReceiver();
    try {
      second.statuses.push(500, 503);
      const id = await create('LIFE-RETRY', { ipnTargetUrl: second.url });
      const first = await sb.pay(id);
      expect(first.ipn).toMatchObject({ delivered: false, attempts: 1, last: 500 });
      await waitFor(() => second.received.length === 3, 'three IPN attempts');
      expect(new Set(second.received.map((f) => f['kr-hash'])).size).toBe(1);
      await waitFor(() => sb.ipnDeliveries().some((d) => d.paymentOrderId === id && d.delivered), 'delivery recorded');
      expect(sb.counters().ipn).toMatchObject({ failed: expect.any(Number), delivered: expect.any(Number) });
    } finally {
      await second.close();
    }
  });

  it('serves a clickable payment page at the paymentURL where a person can pay', async () => {
    clock = Date.parse('2026-03-01T10:00:00Z');
    const r = await post(sb.url, CREATE, { amount: 990, currency: 'EUR', orderId: 'LIFE-PAGE' });
    const { paymentURL, paymentOrderId } = r.json.answer;
    const page = await http('GET', paymentURL);
    expect(page.status).toBe(200);
    expect(page.text).toContain('LIFE-PAGE');
    expect(page.text).toContain('value="pay"');
    const click = await http('POST', paymentURL, 'action=pay', 'application/x-www-form-urlencoded');
    expect(click.status).toBe(303);
    expect(sb.order(paymentOrderId)?.order.paymentOrderStatus).toBe('PAID');
    expect((await http('GET', paymentURL)).text).toContain('PAID');
    expect((await http('GET', `${sb.url}/t/zzzzzzzz`)).status).toBe(404);
  });
});
