import type { Ledger, LedgerEntry } from '../ledger/ledger.js';
import type { IpnNotice } from './notice.js';

export type ApplyResult =
  /** The ledger took the notice (it may still keep a newer state it already had: out-of-order delivery). */
  | { kind: 'recorded'; orderId: string; entry?: LedgerEntry }
  /** Authentic, but about an order this ledger never sent (another tool on the same shop, or another state dir). */
  | { kind: 'unknown-order'; orderId?: string }
  /**
   * The ledger holds another payment order for this orderId (a flagged re-send of an UNCERTAIN row): not applied, so
   * the payment is not pinned on the wrong order; the operator reconciles.
   */
  | { kind: 'other-order'; orderId: string; ledgerPaymentOrderId: string }
  /** Nothing to record: the notice proves no state change (abandoned page, pending authorisation …). */
  | { kind: 'no-change'; orderId: string };

/** Records one verified notice in the ledger, by orderId, or by paymentOrderId when the notice has no orderId. */
export async function applyNotice(ledger: Ledger, notice: IpnNotice): Promise<ApplyResult> {
  const entry = await entryOfNotice(ledger, notice);
  if (!entry) return { kind: 'unknown-order', orderId: notice.orderId };
  const orderId = entry.orderId;
  if (entry.paymentOrderId && notice.paymentOrderId && entry.paymentOrderId !== notice.paymentOrderId) {
    return { kind: 'other-order', orderId, ledgerPaymentOrderId: entry.paymentOrderId };
  }
  const learnsId = notice.paymentOrderId !== undefined && entry.paymentOrderId === undefined;
  if (notice.paymentOrderStatus === undefined && !learnsId && !notice.payment) return { kind: 'no-change', orderId };
  const updated = await ledger.observe(orderId, {
    ...(notice.paymentOrderId ? { paymentOrderId: notice.paymentOrderId } : {}),
    ...(notice.paymentOrderStatus ? { paymentOrderStatus: notice.paymentOrderStatus } : {}),
    // A buyer's attempt for this orderId proves its order exists: an UNCERTAIN entry becomes CREATED.
    ...(notice.payment ? { payment: notice.payment, exists: true } : {}),
    at: notice.at,
  });
  return { kind: 'recorded', orderId, entry: updated };
}

/** The ledger's entry a notice is about: by orderId, or by paymentOrderId when the notice has no orderId. */
export async function entryOfNotice(ledger: Ledger, notice: IpnNotice): Promise<LedgerEntry | undefined> {
  const entry = notice.orderId ? await ledger.get(notice.orderId) : undefined;
  if (entry || !notice.paymentOrderId) return entry;
  return findByPaymentOrderId(ledger, notice.paymentOrderId);
}

async function findByPaymentOrderId(ledger: Ledger, paymentOrderId: string): Promise<LedgerEntry | undefined> {
  for await (const e of ledger.entries()) if (e.paymentOrderId === paymentOrderId) return e;
  return undefined;
}
