import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { post } from './helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';
const GET = 'Charge/PaymentOrder/Get';
const UPDATE = 'Charge/PaymentOrder/Update';
const CANCEL = 'Charge/PaymentOrder/Cancel';

describe('a lean sandbox (for a million-order benchmark) keeps only what later calls need', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ lean: true });
  });
  afterAll(() => sb.stop());

  const mailOrder = (orderId: string) => ({ amount: 4500, currency: 'EUR', orderId, channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'a@example.com', subject: `Invoice ${orderId}` } } });

  it('answers Create in full, as the platform does', async () => {
    const o = (await post(sb.url, CREATE, mailOrder('LEAN-1'))).json.answer;
    expect(o.channelDetails.mailDetails).toMatchObject({ recipient: 'a@example.com', subject: 'Invoice LEAN-1', _type: 'V4/MailDetails' });
    expect(o.channelDetails.mailDetails.body).toContain(o.paymentURL);
    expect(o.transactionDetails).toMatchObject({ cardDetails: { manualValidation: 'NO', captureDelay: 0 } });
  });

  it('answers Get with the order\'s state, without the generated texts', async () => {
    const created = (await post(sb.url, CREATE, mailOrder('LEAN-2'))).json.answer;
    const got = (await post(sb.url, GET, { paymentOrderId: created.paymentOrderId })).json;
    expect(got.status).toBe('SUCCESS');
    expect(got.answer).toMatchObject({
      paymentOrderId: created.paymentOrderId,
      paymentURL: created.paymentURL,
      paymentOrderStatus: 'RUNNING',
      amount: 4500,
      currency: 'EUR',
      orderId: 'LEAN-2',
      expirationDate: created.expirationDate,
      channelDetails: { channelType: 'MAIL', mailDetails: null, _type: 'V4/ChannelDetails' },
      transactionDetails: { cardDetails: { manualValidation: 'NO', captureDelay: 0, _type: 'V4/CardDetails' } },
    });
  });

  it('still updates (answering the new texts), cancels, takes payments and counts every order', async () => {
    const a = (await post(sb.url, CREATE, mailOrder('LEAN-3'))).json.answer;
    const updated = (await post(sb.url, UPDATE, { paymentOrderId: a.paymentOrderId, amount: 5000, currency: 'EUR', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'b@example.com' } } })).json;
    expect(updated.status).toBe('SUCCESS');
    expect(updated.answer).toMatchObject({ amount: 5000, channelDetails: { mailDetails: { recipient: 'b@example.com' } } });
    expect(updated.answer.updateDate).not.toBeNull();
    expect((await post(sb.url, GET, { paymentOrderId: a.paymentOrderId })).json.answer).toMatchObject({ amount: 5000, updateDate: updated.answer.updateDate, channelDetails: { mailDetails: null } });

    const cancelled = (await post(sb.url, CANCEL, { paymentOrderId: a.paymentOrderId })).json;
    expect(cancelled.answer.paymentOrderStatus).toBe('CANCELLED');
    expect((await post(sb.url, CANCEL, { paymentOrderId: a.paymentOrderId })).json.answer.errorCode).toBe('PSP_1101');

    const b = (await post(sb.url, CREATE, mailOrder('LEAN-4'))).json.answer;
    await sb.pay(b.paymentOrderId);
    expect((await post(sb.url, GET, { paymentOrderId: b.paymentOrderId })).json.answer.paymentOrderStatus).toBe('PAID');

    expect(sb.counters().ordersCreated).toMatchObject({ 'LEAN-1': 1, 'LEAN-2': 1, 'LEAN-3': 1, 'LEAN-4': 1 });
  });
});
