import type { Observation } from '../ledger/ledger.js';
import type { PaymentOrder } from '../lyra/types.js';

/**
 * The observation a Get/Update/Cancel answer proves, dated for newest-wins against IPNs (platform clock): RUNNING by
 * updateDate else creationDate, so a later payment wins; a final state by updateDate, else the answer's time.
 */
export function observationOf(order: PaymentOrder, answeredAt: Date, opts: { ownChange?: boolean } = {}): Observation {
  let when = order.paymentOrderStatus === 'RUNNING' ? (order.updateDate ?? order.creationDate) : (order.updateDate ?? answeredAt.toISOString());
  // The answer to our own Update/Cancel is the newest thing known about the order, whatever the two clocks say:
  // dated no earlier than now, so the ledger takes the new amount/expiry (it ignores `sent` from older news).
  if (opts.ownChange) when = new Date(Math.max(Date.parse(when) || 0, answeredAt.getTime())).toISOString();
  return {
    paymentOrderId: order.paymentOrderId,
    ...(order.paymentURL ? { paymentURL: order.paymentURL } : {}),
    paymentOrderStatus: order.paymentOrderStatus,
    sent: { amountMinor: order.amount, currency: order.currency, ...(order.expirationDate ? { expirationDate: order.expirationDate } : {}) },
    at: iso(when) ?? answeredAt.toISOString(),
  };
}

function iso(s: string | null | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}
