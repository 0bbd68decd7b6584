import { applyObservation } from './apply-observation.js';
import type { LedgerEntry } from './ledger.js';

/** How an entry coming from another ledger (or an earlier report) was taken in. */
export type MergeVerdict = 'added' | 'updated' | 'unchanged' | 'conflict';

export interface MergeReport {
  added: number;
  updated: number;
  unchanged: number;
  /** orderIds for which both ledgers hold a CREATED order with different payment order ids: two orders exist. */
  conflicts: string[];
}

export const emptyMergeReport = (): MergeReport => ({ added: 0, updated: 0, unchanged: 0, conflicts: [] });

export function countVerdict(report: MergeReport, orderId: string, verdict: MergeVerdict): void {
  if (verdict === 'conflict') report.conflicts.push(orderId);
  else report[verdict] += 1;
}

export const CARRIED_SENDING_CODE = 'PB_INTERRUPTED';
const CARRIED_SENDING_MESSAGE =
  'the order was being sent when its ledger was carried over; it may exist — check the Back Office, then re-run with --retry-uncertain if it does not';

/**
 * The one rule for taking in an entry of another ledger (import, merge, moving backend, adopting an earlier report).
 * It never weakens the guard: "may exist" and CREATED stay so, whichever side said it.
 * - CREATED beats everything. Two CREATED with different payment order ids are a conflict: this side is kept and
 *   the caller reports it.
 * - UNCERTAIN (and a SENDING from elsewhere: a cut-off send) beats FAILED and nothing.
 * - Between two FAILED, the newer.
 * Payment status merges by the observation rule (a final status beats RUNNING). `next` is the entry to store,
 * undefined when this side is already at least as strong.
 */
export function mergeEntry(here: LedgerEntry | undefined, incoming: LedgerEntry, nowIso: string): { verdict: MergeVerdict; next?: LedgerEntry } {
  const theirs = incoming.state === 'SENDING' ? asInterrupted(incoming, nowIso) : incoming;
  if (!here) return { verdict: 'added', next: theirs };
  if (here.state === 'SENDING') return { verdict: 'unchanged' }; // a claim of this ledger is live: its outcome decides
  const rank = (e: LedgerEntry): number => (e.state === 'CREATED' ? 3 : e.state === 'UNCERTAIN' || e.state === 'SENDING' ? 2 : 1);
  if (here.state === 'CREATED' && theirs.state === 'CREATED') {
    if (here.paymentOrderId && theirs.paymentOrderId && here.paymentOrderId !== theirs.paymentOrderId) return { verdict: 'conflict' };
    const next = applyObservation(here, observationOf(theirs), nowIso);
    return next ? { verdict: 'updated', next } : { verdict: 'unchanged' };
  }
  if (rank(theirs) > rank(here)) {
    const attempts = Math.max(here.attempts, theirs.attempts);
    return { verdict: 'updated', next: { ...theirs, attempts, firstSentAt: earliest(here.firstSentAt, theirs.firstSentAt) ?? theirs.firstSentAt } as LedgerEntry };
  }
  if (rank(theirs) < rank(here)) return { verdict: 'unchanged' };
  if (here.state === 'FAILED' && theirs.updatedAt > here.updatedAt) return { verdict: 'updated', next: theirs };
  return { verdict: 'unchanged' };
}

function observationOf(e: LedgerEntry) {
  return {
    ...(e.paymentOrderId ? { paymentOrderId: e.paymentOrderId } : {}),
    ...(e.paymentURL ? { paymentURL: e.paymentURL } : {}),
    ...(e.paymentOrderStatus ? { paymentOrderStatus: e.paymentOrderStatus } : {}),
    ...(e.payment ? { payment: e.payment } : {}),
    at: e.statusChangedAt ?? e.updatedAt,
  };
}

function asInterrupted(e: LedgerEntry, nowIso: string): LedgerEntry {
  const next: LedgerEntry = { ...e, state: 'UNCERTAIN', attempts: Math.max(1, e.attempts), errorCode: CARRIED_SENDING_CODE, errorMessage: CARRIED_SENDING_MESSAGE, updatedAt: nowIso };
  delete next.detailedErrorCode;
  return next;
}

function earliest(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return a < b ? a : b;
}
