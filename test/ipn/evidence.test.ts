import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyNotice } from '../../src/ipn/apply-notice.js';
import { readIpnAnswer } from '../../src/ipn/notice.js';
import { openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';

// The documented example of docs/lyra-api.md §9: no paymentOrderId anywhere, one AUTHORISED card transaction.
const PAID_ANSWER =
  '{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","serverDate":"2025-03-04T09:30:12+00:00","orderDetails":{"orderTotalAmount":4500,"orderEffectiveAmount":4500,"orderCurrency":"EUR","mode":"TEST","orderId":"INV-2025-0042","_type":"V4/OrderDetails"},"transactions":[{"uuid":"5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23","amount":4500,"currency":"EUR","paymentMethodType":"CARD","status":"PAID","detailedStatus":"AUTHORISED","operationType":"DEBIT","_type":"V4/PaymentTransaction"}],"_type":"V4/Payment"}';

describe('a notification for an order whose answer was lost', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paybatch-ipn-evidence-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carries the payment (uuid, amount, method, date) and proves the order exists: UNCERTAIN becomes CREATED, never re-sent', async () => {
    const notice = readIpnAnswer(PAID_ANSWER);
    expect(notice.payment).toEqual({
      source: 'IPN',
      at: '2025-03-04T09:30:12.000Z',
      transactionUuid: '5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23',
      detailedStatus: 'AUTHORISED',
      method: 'CARD',
      paid: { amountMinor: 4500, currency: 'EUR', at: '2025-03-04T09:30:12.000Z', transactionUuid: '5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23' },
      attempts: 1,
    });
    const l = await openSqliteLedger({ dir, shopId: '69876357', mode: 'TEST' });
    try {
      const sent = { amountMinor: 4500, currency: 'EUR', channel: 'URL' as const, recipient: '' };
      const c = await l.claim('INV-2025-0042', { fingerprint: 'f', sent, retryUncertain: false });
      if (c.kind !== 'claimed') throw new Error('not claimed');
      await l.record('INV-2025-0042', c.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
      expect(await applyNotice(l, notice)).toMatchObject({ kind: 'recorded' });
      expect(await l.get('INV-2025-0042')).toMatchObject({ state: 'CREATED', paymentOrderStatus: 'PAID', payment: { transactionUuid: '5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23' } });
      expect((await l.claim('INV-2025-0042', { fingerprint: 'f', sent, retryUncertain: true })).kind).toBe('refused');
    } finally {
      await l.close();
    }
  });
});
