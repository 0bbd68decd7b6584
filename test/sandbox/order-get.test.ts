import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LyraClient } from '../../src/lyra/client.js';
import { DEMO_PROD_PASSWORD, DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { post } from './helpers.js';

describe('sandbox Order/Get: the transactions of a merchant orderId', () => {
  let sandbox: Sandbox;
  const clock = { now: Date.parse('2026-11-02T09:00:00Z') };
  const create = async (orderId: string, password = DEMO_TEST_PASSWORD): Promise<string> =>
    (await post(sandbox.url, 'Charge/CreatePaymentOrder', { orderId, amount: 4500, currency: 'EUR', channelOptions: { channelType: 'URL' } }, password)).json.answer.paymentOrderId as string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, now: () => clock.now });
  });
  afterAll(() => sandbox.stop());

  it('lists no transaction for an order nobody tried to pay, and each attempt once someone did', async () => {
    const id = await create('OG-1');
    const none = await post(sandbox.url, 'Order/Get', { orderId: 'OG-1' });
    expect(none.json).toMatchObject({ status: 'SUCCESS', answer: { transactions: [], _type: 'V4/OrderTransactions' } });

    clock.now += 60_000;
    await sandbox.pay(id);
    const client = new LyraClient({ baseUrl: sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD, timeoutMs: 5000 });
    try {
      const got = await client.getOrderTransactions('OG-1');
      expect(got.serverDate && Date.parse(got.serverDate)).toBe(clock.now);
      expect(got.transactions).toEqual([
        expect.objectContaining({ amountMinor: 4500, currency: 'EUR', method: 'CARD', detailedStatus: 'AUTHORISED', operationType: 'DEBIT', paymentOrderId: id, creationDate: new Date(clock.now).toISOString() }),
      ]);
      expect((await client.getOrderTransactions('OG-UNKNOWN')).transactions).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('shows nothing of the other mode, refuses a bad orderId, and answers PSP_015 above 30 transactions', async () => {
    const prod = await create('OG-PROD', DEMO_PROD_PASSWORD);
    await sandbox.pay(prod);
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-PROD' })).json.answer.transactions).toEqual([]);
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-PROD' }, DEMO_PROD_PASSWORD)).json.answer.transactions).toHaveLength(1);
    expect((await post(sandbox.url, 'Order/Get', {})).json).toMatchObject({ status: 'ERROR', answer: { errorCode: 'INT_013' } });
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-1', page: 2 })).json).toMatchObject({ status: 'ERROR', answer: { errorCode: 'INT_900' } });

    // Faults aimed at an orderId reach Order/Get like any order service: the answer lost, the read to be tried again.
    sandbox.faults.forOrder('OG-1', 'bad-envelope', { service: 'Order/Get' });
    const lost = await post(sandbox.url, 'Order/Get', { orderId: 'OG-1' });
    expect([lost.status, lost.json]).toEqual([200, undefined]);
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-1' })).json.answer.transactions).toHaveLength(1);

    for (let i = 0; i < 30; i++) await sandbox.pay(await create('OG-MANY'), { refuse: i % 2 === 0 });
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-MANY' })).json.answer.transactions).toHaveLength(30);
    await sandbox.pay(await create('OG-MANY'));
    expect((await post(sandbox.url, 'Order/Get', { orderId: 'OG-MANY' })).json).toMatchObject({ status: 'ERROR', answer: { errorCode: 'PSP_015' } });
  });
});
