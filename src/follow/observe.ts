import type { Observation } from '../ledger/ledger.js';
import type { PaymentOrder } from '../lyra/types.js';

/**
 * The ledger observation a platform answer (Get, Update, Cancel) proves. Its date matters: the ledger keeps the
 * newest by date, and notifications are dated by the platform's clock. A RUNNING answer only proves "running since
 * the last change" (updateDate, else creationDate), so a payment notified later still wins whatever our clock
 * says; a final state is dated by the platform's updateDate when it gives one, else by the time of the answer.
 */
export function observationOf(order: PaymentOrder, answeredAt: Date): Observation {
  const when = order.paymentOrderStatus === 'RUNNING' ? (order.updateDate ?? order.creationDate) : (order.updateDate ?? answeredAt.toISOString());
  return {
    paymentOrderId: order.paymentOrderId,
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
