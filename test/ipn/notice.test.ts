import { describe, expect, it } from 'vitest';
import { paymentOrderStatusOf, readIpnAnswer } from '../../src/ipn/notice.js';

// The worked example of docs/lyra-api.md §9, byte for byte.
const PAID_ANSWER =
  '{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","serverDate":"2025-03-04T09:30:12+00:00","orderDetails":{"orderTotalAmount":4500,"orderEffectiveAmount":4500,"orderCurrency":"EUR","mode":"TEST","orderId":"INV-2025-0042","_type":"V4/OrderDetails"},"transactions":[{"uuid":"5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23","amount":4500,"currency":"EUR","paymentMethodType":"CARD","status":"PAID","detailedStatus":"AUTHORISED","operationType":"DEBIT","_type":"V4/PaymentTransaction"}],"_type":"V4/Payment"}';

describe('what a payment notification tells about a payment order', () => {
  it('reads the documented example as: invoice INV-2025-0042 of shop 69876357 (TEST) is PAID', () => {
    const n = readIpnAnswer(PAID_ANSWER);
    expect(n).toMatchObject({
      shopId: '69876357',
      mode: 'TEST',
      orderId: 'INV-2025-0042',
      paymentOrderStatus: 'PAID',
      orderStatus: 'PAID',
      detailedStatus: 'AUTHORISED',
      transactionUuid: '5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23',
      at: '2025-03-04T09:30:12.000Z',
    });
  });

  it('keeps nothing about the buyer', () => {
    const withCustomer = PAID_ANSWER.replace('"transactions"', '"customer":{"email":"jeanne@example.com","billingDetails":{"firstName":"Jeanne"}},"transactions"');
    const n = readIpnAnswer(withCustomer);
    expect(JSON.stringify(n)).not.toContain('jeanne');
    expect(JSON.stringify(n)).not.toContain('Jeanne');
  });

  it('dates the change by the latest transaction, so a late re-delivery of an older attempt loses', () => {
    const answer = JSON.stringify({
      shopId: '1',
      orderStatus: 'PAID',
      serverDate: '2026-01-10T12:00:00+00:00',
      orderDetails: { mode: 'PRODUCTION', orderId: 'A-1', paymentOrderId: 'ab'.repeat(16) },
      transactions: [
        { uuid: 'u2', detailedStatus: 'AUTHORISED', status: 'PAID', creationDate: '2026-01-10T11:05:00+00:00', operationType: 'DEBIT' },
        { uuid: 'u1', detailedStatus: 'REFUSED', status: 'UNPAID', creationDate: '2026-01-10T11:00:00+00:00', operationType: 'DEBIT' },
      ],
    });
    const n = readIpnAnswer(answer);
    expect(n).toMatchObject({ mode: 'PRODUCTION', paymentOrderId: 'ab'.repeat(16), transactionUuid: 'u2', at: '2026-01-10T11:05:00.000Z', paymentOrderStatus: 'PAID' });
  });

  it('maps platform statuses: paid, refused, and "nothing changed" for an abandoned or pending payment', () => {
    expect(paymentOrderStatusOf({ orderStatus: 'PAID', detailedStatus: 'CAPTURED' })).toBe('PAID');
    expect(paymentOrderStatusOf({ orderStatus: 'UNPAID', detailedStatus: 'REFUSED' })).toBe('REFUSED');
    expect(paymentOrderStatusOf({ orderStatus: 'UNPAID', detailedStatus: 'CANCELLED' })).toBeUndefined();
    expect(paymentOrderStatusOf({ orderStatus: 'ABANDONED' })).toBeUndefined();
    expect(paymentOrderStatusOf({ orderStatus: 'RUNNING', detailedStatus: 'WAITING_AUTHORISATION' })).toBeUndefined();
    expect(paymentOrderStatusOf({ orderStatus: 'UNPAID', explicit: 'EXPIRED' })).toBe('EXPIRED');
    expect(paymentOrderStatusOf({ explicit: 'CANCELED' })).toBe('CANCELLED');
  });

  it('refuses an answer without shop, mode or date', () => {
    expect(() => readIpnAnswer('not json')).toThrow(/not JSON/);
    expect(() => readIpnAnswer('{"orderDetails":{"mode":"TEST"}}')).toThrow(/shopId/);
    expect(() => readIpnAnswer('{"shopId":"1","orderDetails":{}}')).toThrow(/mode/);
    expect(() => readIpnAnswer('{"shopId":"1","orderDetails":{"mode":"TEST"}}')).toThrow(/serverDate/);
  });
});
