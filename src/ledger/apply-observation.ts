import type { PaymentOrderStatus } from '../lyra/types.js';
import type { LedgerEntry, Observation } from './ledger.js';
import { combinePayment } from './payment-details.js';

const TERMINAL: ReadonlySet<PaymentOrderStatus> = new Set(['PAID', 'REFUSED', 'EXPIRED', 'CANCELLED']);

/**
 * What an observation (Get, IPN, Update, Cancel) changes in an entry; `undefined` when nothing.
 * - A final state beats RUNNING whatever the dates (a payment's IPN may arrive before a Get answered earlier);
 *   RUNNING never undoes a final state. Between two final states, or two RUNNING, the newer `at` wins.
 * - `sent` (an Update changed the amount …) is taken only from an observation not older than the known state.
 * - A payment order id, or a transaction or notification for the orderId (`exists`), proves the order exists: an
 *   UNCERTAIN entry becomes CREATED (a re-send would duplicate it), even while the payment order id is unknown.
 * - `payment` is combined by combinePayment; a `resolution` replaces the one before.
 */
export function applyObservation(entry: LedgerEntry, obs: Observation, nowIso: string): LedgerEntry | undefined {
  const at = Date.parse(obs.at);
  const known = entry.statusChangedAt ? Date.parse(entry.statusChangedAt) : Number.NEGATIVE_INFINITY;
  const newer = Number.isNaN(at) ? false : at >= known;
  const next: LedgerEntry = { ...entry, sent: { ...entry.sent } };
  let changed = false;

  if (obs.paymentOrderId && !entry.paymentOrderId) {
    next.paymentOrderId = obs.paymentOrderId;
    changed = true;
  }
  if (obs.paymentURL && !entry.paymentURL) {
    next.paymentURL = obs.paymentURL;
    changed = true;
  }
  if ((next.paymentOrderId || obs.exists) && entry.state === 'UNCERTAIN') {
    next.state = 'CREATED';
    delete next.errorCode;
    delete next.errorMessage;
    delete next.detailedErrorCode;
    changed = true;
  }

  const s = obs.paymentOrderStatus;
  if (s && s !== entry.paymentOrderStatus) {
    const cur = entry.paymentOrderStatus;
    const wins = !cur || (TERMINAL.has(s) && !TERMINAL.has(cur)) || (newer && !(TERMINAL.has(cur) && !TERMINAL.has(s)));
    if (wins) {
      next.paymentOrderStatus = s;
      next.statusChangedAt = Number.isNaN(at) ? nowIso : new Date(at).toISOString();
      changed = true;
    }
  } else if (s && newer && !Number.isNaN(at) && (!entry.statusChangedAt || at > known)) {
    // Same status, later proof: remember the date so an older contrary observation loses.
    next.statusChangedAt = new Date(at).toISOString();
    changed = true;
  }

  if (obs.sent && newer) {
    for (const [k, v] of Object.entries(obs.sent) as [keyof LedgerEntry['sent'], unknown][]) {
      if (v !== undefined && (next.sent as unknown as Record<string, unknown>)[k] !== v) {
        (next.sent as unknown as Record<string, unknown>)[k] = v;
        changed = true;
      }
    }
  }

  if (obs.payment) {
    const payment = combinePayment(entry.payment, obs.payment);
    if (JSON.stringify(payment) !== JSON.stringify(entry.payment)) {
      next.payment = payment;
      changed = true;
    }
  }
  if (obs.resolution && JSON.stringify(obs.resolution) !== JSON.stringify(entry.resolution)) {
    next.resolution = obs.resolution;
    changed = true;
  }

  if (!changed) return undefined;
  next.updatedAt = nowIso;
  return next;
}
