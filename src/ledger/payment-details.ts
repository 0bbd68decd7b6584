import type { PaymentDetails } from './ledger.js';

/**
 * Combines two reports of the buyer's attempts (IPN, Order/Get, any order): latest attempt by date, the accepted
 * payment once known, latest refusal, most attempts. A late, older notification never hides a known payment.
 */
export function combinePayment(cur: PaymentDetails | undefined, inc: PaymentDetails): PaymentDetails {
  if (!cur) return inc;
  const newer = Date.parse(inc.at) >= Date.parse(cur.at) ? inc : cur;
  const out: PaymentDetails = {
    source: newer.source,
    at: newer.at,
    ...(newer.transactionUuid ? { transactionUuid: newer.transactionUuid } : {}),
    ...(newer.detailedStatus ? { detailedStatus: newer.detailedStatus } : {}),
    ...(newer.method ? { method: newer.method } : {}),
  };
  const paid = later(cur.paid, inc.paid);
  if (paid) out.paid = paid;
  const refused = later(cur.refused, inc.refused);
  if (refused) out.refused = refused;
  const attempts = Math.max(cur.attempts ?? 0, inc.attempts ?? 0);
  if (attempts > 0) out.attempts = attempts;
  return out;
}

function later<T extends { at: string }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(b.at) >= Date.parse(a.at) ? b : a;
}
