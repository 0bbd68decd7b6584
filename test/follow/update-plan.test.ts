import { describe, expect, it } from 'vitest';
import { parseDuration, planUpdate } from '../../src/follow/update-plan.js';
import type { PaymentOrder } from '../../src/lyra/types.js';
import type { OrderDraft } from '../../src/orders/types.js';

const current: PaymentOrder = {
  paymentOrderId: 'f'.repeat(32),
  paymentURL: 'https://secure.example/t/abcd1234',
  paymentOrderStatus: 'RUNNING',
  creationDate: '2026-03-01T10:00:00+00:00',
  updateDate: null,
  amount: 12000,
  currency: 'EUR',
  locale: 'fr_FR',
  orderId: 'INV-7',
  channelDetails: {
    channelType: 'MAIL',
    mailDetails: { recipient: 'claire@example.com', subject: 'Votre facture INV-7', body: 'Payez ici', _type: 'V4/MailDetails' },
    _type: 'V4/ChannelDetails',
  },
  paymentReceiptEmail: null,
  taxRate: null,
  taxAmount: null,
  expirationDate: '2026-03-31T21:59:59+00:00',
  _type: 'V4/PaymentOrder',
};

function draft(over: Partial<OrderDraft['request']> = {}, channel: OrderDraft['channel'] = 'MAIL'): OrderDraft {
  const request = { amount: 12000, currency: 'EUR', orderId: 'INV-7', channelOptions: { channelType: channel, mailOptions: { recipient: 'claire@example.com' } }, ...over };
  return { orderId: 'INV-7', channel, amountMinor: request.amount, currency: request.currency, recipient: 'claire@example.com', expirationDate: request.expirationDate, request };
}

describe('update: the file is the source of truth for a RUNNING order', () => {
  it('an unchanged row changes nothing (the gateway-generated message is not "different")', () => {
    expect(planUpdate({ draft: draft(), current }).kind).toBe('unchanged');
  });

  it('a corrected amount becomes an Update that repeats the recipient and keeps the message and expiry', () => {
    const plan = planUpdate({ draft: draft({ amount: 11500 }), current });
    expect(plan.kind).toBe('update');
    if (plan.kind !== 'update') return;
    expect(plan.changes).toEqual([{ field: 'amount', from: '120.00 EUR', to: '115.00 EUR' }]);
    expect(plan.request).toMatchObject({
      paymentOrderId: 'f'.repeat(32),
      amount: 11500,
      currency: 'EUR',
      expirationDate: '2026-03-31T21:59:59+00:00',
      channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'claire@example.com', subject: 'Votre facture INV-7', body: 'Payez ici' } },
    });
  });

  it('a new expiry, subject and receipt e-mail are each listed', () => {
    const plan = planUpdate({
      draft: draft({ expirationDate: '2026-04-15T12:00:00+02:00', paymentReceiptEmail: 'compta@example.com', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'claire@example.com', subject: 'Rappel INV-7' } } }),
      current,
    });
    expect(plan.kind === 'update' && plan.changes.map((c) => c.field)).toEqual(['expirationDate', 'paymentReceiptEmail', 'subject']);
  });

  it('the same instant written in another zone is not a change', () => {
    expect(planUpdate({ draft: draft({ expirationDate: '2026-03-31T23:59:59+02:00' }), current }).kind).toBe('unchanged');
  });

  it('--expires-in applies to every order, whatever the row says', () => {
    const plan = planUpdate({ draft: draft(), current, runWide: { expirationDate: '2026-03-20T10:00:00.000Z' } });
    expect(plan.kind === 'update' && plan.request.expirationDate).toBe('2026-03-20T10:00:00.000Z');
  });

  it('never changes the channel nor the currency, and leaves final orders alone', () => {
    expect(planUpdate({ draft: draft({}, 'SMS'), current })).toMatchObject({ kind: 'refused', code: 'PB_CHANNEL_CHANGED' });
    expect(planUpdate({ draft: draft({ currency: 'USD' }), current })).toMatchObject({ kind: 'refused', code: 'PB_CURRENCY_CHANGED' });
    expect(planUpdate({ draft: draft({ amount: 1 }), current: { ...current, paymentOrderStatus: 'PAID' } })).toEqual({ kind: 'not-running', status: 'PAID' });
  });

  it('a new recipient is reported, not applied', () => {
    const d = { ...draft({ amount: 100 }), recipient: 'other@example.com' };
    const plan = planUpdate({ draft: d, current });
    expect(plan.kind === 'update' && plan.request.channelOptions?.mailOptions?.recipient).toBe('claire@example.com');
    expect(plan.kind === 'update' && plan.notes.join()).toMatch(/another recipient/);
  });

  it('reads durations like 15d, 36h, 2w', () => {
    expect(parseDuration('15d')).toBe(15 * 86_400_000);
    expect(parseDuration('36h')).toBe(36 * 3_600_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
