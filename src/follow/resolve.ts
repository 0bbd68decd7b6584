import type { Ledger, LedgerEntry, Observation, Resolution } from '../ledger/ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import { debits, latestTransaction, paymentDetailsOf, PAID_DETAILS, type TransactionSummary } from '../lyra/transactions.js';
import type { PaymentOrderStatus } from '../lyra/types.js';
import { runBulk, type BulkOptions } from './bulk.js';
import { reconcile, type ReconcileFilter } from './reconcile.js';

/** The platform's longest expiry: an order's expirationDate is at most 90 days after it is created (docs/lyra-api.md §5). */
export const MAX_EXPIRY_DAYS = 90;

/** The part of the Lyra client `resolve` uses. */
export interface ResolveClient {
  getOrderTransactions(orderId: string): Promise<{ transactions: TransactionSummary[]; serverDate?: string }>;
}

export interface ResolveRow {
  orderId: string;
  /** FOUND, SAFE_TO_RESEND, STILL_UNCERTAIN as recorded; ERROR when Order/Get failed; PENDING when not read (stopped). */
  decision: Resolution['decision'] | 'ERROR' | 'PENDING';
  evidence: string;
  safeFrom?: string;
  paymentOrderId?: string;
  paymentOrderStatus?: PaymentOrderStatus;
  amountMinor: number;
  currency: string;
}

export interface ResolveRun {
  rows: ResolveRow[];
  authFailure?: LyraApiError;
  aborted: boolean;
}

/**
 * The latest moment the order can still be paid: its expirationDate when the ledger knows it, else the platform's
 * maximum, 90 days after it was first sent (the order, if it exists, was created no later than that).
 */
export function latestPossibleExpiry(e: LedgerEntry): Date {
  if (e.sent.expirationDate) {
    const t = Date.parse(e.sent.expirationDate);
    if (!Number.isNaN(t)) return new Date(t);
  }
  const sent = Date.parse(e.firstSentAt ?? e.updatedAt);
  return new Date(sent + MAX_EXPIRY_DAYS * 86_400_000);
}

/** The UNCERTAIN orders a reconcile filter selects (a period is about the send date: nothing of them was paid). */
export async function uncertainEntries(ledger: Ledger, f: ReconcileFilter): Promise<LedgerEntry[]> {
  const { rows } = await reconcile(ledger, { ...f, by: 'sent', only: 'uncertain' });
  const out: LedgerEntry[] = [];
  for (const r of rows) {
    const e = await ledger.get(r.orderId);
    if (e?.state === 'UNCERTAIN') out.push(e);
  }
  return out;
}

/**
 * `paybatch resolve`: evidence (a notification, or a transaction from Order/Get) makes an UNCERTAIN order CREATED;
 * without, one past its latest possible expiry is safe to re-send. Decisions go to the ledger with their evidence.
 */
export async function resolveUncertain(opts: { ledger: Ledger; client: ResolveClient; entries: readonly LedgerEntry[]; bulk: Omit<BulkOptions, 'retryable'>; now?: () => Date }): Promise<ResolveRun> {
  const now = opts.now ?? (() => new Date());
  const rows: ResolveRow[] = new Array(opts.entries.length);
  const toRead: number[] = [];
  for (const [i, e] of opts.entries.entries()) {
    if (e.payment || e.paymentOrderStatus) {
      // A notification reached the ledger (without the payment order id, or the entry would be CREATED already).
      const evidence = `a payment notification was received for it (${e.payment?.detailedStatus ?? e.paymentOrderStatus}${e.payment?.transactionUuid ? `, transaction ${e.payment.transactionUuid}` : ''})`;
      rows[i] = await decide(opts.ledger, e, { exists: true, resolution: { decision: 'FOUND', at: now().toISOString(), evidence }, at: now().toISOString() });
    } else toRead.push(i);
  }
  const run = await runBulk(toRead, async (i) => {
    const e = opts.entries[i]!;
    try {
      const answer = await opts.client.getOrderTransactions(e.orderId);
      return { e, answer };
    } catch (err) {
      // More than 30 transactions: attempts exist, so the order does.
      if (LyraApiError.is(err) && err.code === 'PSP_015') return { e, answer: undefined };
      throw err;
    }
  }, { ...opts.bulk, retryable: (err) => LyraApiError.is(err) && err.kind !== 'permanent' });
  for (const [k, r] of run.results.entries()) {
    const i = toRead[k]!;
    const e = opts.entries[i]!;
    if (r.kind === 'done') rows[i] = await decide(opts.ledger, e, fromTransactions(e, r.value.answer, now()));
    else if (r.kind === 'failed') rows[i] = { ...base(e), decision: 'ERROR', evidence: `Order/Get failed: ${r.error instanceof Error ? r.error.message : String(r.error)}; still UNCERTAIN` };
    else rows[i] = { ...base(e), decision: 'PENDING', evidence: r.reason === 'auth-failure' ? 'not read: the run stopped on an authentication failure' : 'not read: the run was interrupted' };
  }
  return { rows, ...(run.authFailure ? { authFailure: run.authFailure } : {}), aborted: run.aborted };
}

/** What Order/Get's answer proves about an UNCERTAIN order (undefined answer: PSP_015, more than 30 transactions). */
function fromTransactions(e: LedgerEntry, answer: { transactions: TransactionSummary[]; serverDate?: string } | undefined, localNow: Date): Observation {
  const platformNow = answer?.serverDate && !Number.isNaN(Date.parse(answer.serverDate)) ? new Date(answer.serverDate) : localNow;
  const at = platformNow.toISOString();
  if (!answer) return { exists: true, resolution: { decision: 'FOUND', at, evidence: 'Order/Get: more than 30 transactions for this orderId (PSP_015)' }, at };
  const txs = debits(answer.transactions);
  if (txs.length > 0) {
    const latest = latestTransaction(txs)!;
    const paid = txs.some((t) => t.detailedStatus && PAID_DETAILS.has(t.detailedStatus));
    const status: PaymentOrderStatus | undefined = paid ? 'PAID' : latest.detailedStatus === 'REFUSED' ? 'REFUSED' : undefined;
    const payment = paymentDetailsOf(txs, 'Order/Get', at)!;
    const evidence = `Order/Get lists ${txs.length} transaction${txs.length === 1 ? '' : 's'} for this orderId (latest ${latest.uuid ?? 'without uuid'}, ${latest.detailedStatus ?? latest.status ?? 'no status'})`;
    return {
      ...(latest.paymentOrderId ? { paymentOrderId: latest.paymentOrderId } : {}),
      ...(status ? { paymentOrderStatus: status } : {}),
      payment,
      exists: true,
      resolution: { decision: 'FOUND', at, evidence },
      at: payment.at,
    };
  }
  const expiry = latestPossibleExpiry(e);
  const known = e.sent.expirationDate ? 'its expirationDate' : `${MAX_EXPIRY_DAYS} days after it was sent, the platform's longest expiry`;
  if (platformNow.getTime() >= expiry.getTime()) {
    return { resolution: { decision: 'SAFE_TO_RESEND', at, evidence: `Order/Get lists no transaction, and its latest possible expiry (${known}, ${expiry.toISOString()}) has passed: it can no longer be paid`, safeFrom: expiry.toISOString() }, at };
  }
  return { resolution: { decision: 'STILL_UNCERTAIN', at, evidence: `Order/Get lists no transaction yet; it may exist and be paid until ${expiry.toISOString()} (${known})`, safeFrom: expiry.toISOString() }, at };
}

async function decide(ledger: Ledger, e: LedgerEntry, obs: Observation): Promise<ResolveRow> {
  const updated = (await ledger.observe(e.orderId, obs)) ?? e;
  const r = obs.resolution!;
  return {
    ...base(updated),
    decision: r.decision,
    evidence: r.evidence,
    ...(r.safeFrom ? { safeFrom: r.safeFrom } : {}),
  };
}

function base(e: LedgerEntry): Omit<ResolveRow, 'decision' | 'evidence'> {
  return {
    orderId: e.orderId,
    amountMinor: e.sent.amountMinor,
    currency: e.sent.currency,
    ...(e.paymentOrderId ? { paymentOrderId: e.paymentOrderId } : {}),
    ...(e.paymentOrderStatus ? { paymentOrderStatus: e.paymentOrderStatus } : {}),
  };
}
