import { describe, expect, it } from 'vitest';
import { outcomeFromEntry } from '../../src/engine/from-ledger.js';
import type { LedgerEntry } from '../../src/ledger/ledger.js';

const sent = { amountMinor: 12345, currency: 'EUR', channel: 'MAIL' as const, recipient: 'jane@example.com' };
const base: LedgerEntry = { orderId: 'INV-1', state: 'CREATED', attempts: 1, fingerprint: 'f1', sent, batchId: 'march', firstSentAt: '2026-03-01T09:00:00.000Z', updatedAt: '2026-03-01T09:00:01.000Z' };

describe('the report outcome of an order the ledger already holds', () => {
  it('an order created by an earlier run is CREATED, earlier, with its original id and URL', () => {
    const out = outcomeFromEntry({ ...base, paymentOrderId: 'po1', paymentURL: 'https://pay/1', paymentOrderStatus: 'RUNNING' }, { fingerprint: 'f1', batchId: 'april' });
    expect(out).toEqual({ status: 'CREATED', attempts: 1, paymentOrderId: 'po1', paymentURL: 'https://pay/1', paymentOrderStatus: 'RUNNING', earlier: true, order: base.sent });
  });

  it('created by this run: not "earlier"', () => {
    expect(outcomeFromEntry({ ...base, paymentOrderId: 'po1', paymentURL: 'u' }, { fingerprint: 'f1', batchId: 'march' }).earlier).toBeUndefined();
  });

  it('an edited row of a created order stays CREATED, with a note on what differs and how to change the order', () => {
    const out = outcomeFromEntry({ ...base, paymentOrderId: 'po1', paymentURL: 'u' }, { fingerprint: 'f2', batchId: 'april', sent: { ...sent, amountMinor: 12000 } });
    expect(out.status).toBe('CREATED');
    expect(out.note).toContain('amount 123.45 EUR → 120.00 EUR');
    expect(out.note).toContain('paybatch update');
  });

  it('an UNCERTAIN order of an earlier run says it was not re-sent and how to force it', () => {
    const out = outcomeFromEntry({ ...base, state: 'UNCERTAIN', errorCode: 'PB_TIMEOUT', errorMessage: 'no answer in time' }, { fingerprint: 'f1', batchId: 'april' });
    expect(out).toMatchObject({ status: 'UNCERTAIN', errorCode: 'PB_TIMEOUT' });
    expect(out.errorMessage).toMatch(/^not re-sent: .*no answer in time.*--retry-uncertain/);
  });

  it('FAILED keeps the platform codes; SENDING (another worker, or a stopped run) reads as UNCERTAIN', () => {
    expect(outcomeFromEntry({ ...base, state: 'FAILED', errorCode: 'PSP_1032', errorMessage: 'bad e-mail', detailedErrorCode: 'X' }, { fingerprint: 'f1', batchId: 'march' })).toEqual({
      status: 'FAILED',
      attempts: 1,
      errorCode: 'PSP_1032',
      errorMessage: 'bad e-mail',
      detailedErrorCode: 'X',
    });
    expect(outcomeFromEntry({ ...base, state: 'SENDING' }, { fingerprint: 'f1', batchId: 'april' })).toMatchObject({ status: 'UNCERTAIN', errorCode: 'PB_SENDING' });
  });
});
