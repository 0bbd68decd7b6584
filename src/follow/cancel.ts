import type { Ledger, LedgerEntry } from '../ledger/ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import type { PaymentOrder, PaymentOrderStatus } from '../lyra/types.js';
import { runBulk, type BulkOptions, type BulkResult } from './bulk.js';
import { observationOf } from './observe.js';
import type { FollowClient, FollowResult } from './types.js';

export interface ActionRow {
  orderId: string;
  result: FollowResult;
  paymentOrderId?: string;
  /** The order's status once the command is done with it (or as last known when it could not be reached). */
  paymentOrderStatus?: PaymentOrderStatus;
  amountMinor?: number;
  currency?: string;
  /** update: `field: from → to; …` · cancel: empty. */
  changes?: string;
  errorCode?: string;
  errorMessage?: string;
  /** API calls that changed or tried to change the order (Update/Cancel), not counting reads. */
  attempts?: number;
}

export interface ActionRun {
  rows: ActionRow[];
  authFailure?: LyraApiError;
  aborted: boolean;
}

/** The platform's "not RUNNING any more" refusals: Finalized (paid/refused), Expired, Cancelled (docs/lyra-api.md §7). */
export const NOT_RUNNING_CODES = new Set(['PSP_1005', 'PSP_1006', 'PSP_1101']);
const FINAL: ReadonlySet<PaymentOrderStatus> = new Set(['PAID', 'REFUSED', 'EXPIRED', 'CANCELLED']);

export interface CancelCandidate {
  orderId: string;
  entry?: LedgerEntry;
}

/**
 * The orders `cancel` would act on, from the ledger alone: what the confirmation prompt counts. An order the ledger
 * knows as final is left out (it will be reported SKIPPED); one whose state is unknown is in.
 */
export async function cancelCandidates(ledger: Ledger, orderIds: readonly string[]): Promise<{ all: CancelCandidate[]; toCancel: CancelCandidate[] }> {
  const all: CancelCandidate[] = [];
  for (const orderId of orderIds) all.push({ orderId, entry: await ledger.get(orderId) });
  const toCancel = all.filter((c) => c.entry?.paymentOrderId && !(c.entry.paymentOrderStatus && FINAL.has(c.entry.paymentOrderStatus)));
  return { all, toCancel };
}

export interface CancelOptions {
  candidates: readonly CancelCandidate[];
  ledger: Ledger;
  client: FollowClient;
  /** Read each order (Get) and say what would be cancelled; cancel nothing. */
  dryRun: boolean;
  bulk: Omit<BulkOptions, 'retryable'>;
  now?: () => Date;
}

/**
 * `paybatch cancel`: cancels the RUNNING orders among `candidates`; others are reported (SKIPPED / UNCHANGED). Safe to
 * repeat (a second Cancel is refused with PSP_1101, a Get then shows CANCELLED), so a timeout is just tried again.
 */
export async function cancelOrders(opts: CancelOptions): Promise<ActionRun> {
  const now = opts.now ?? (() => new Date());
  const rows: ActionRow[] = opts.candidates.map((c) => baseRow(c));
  const work: { index: number; orderId: string; paymentOrderId: string }[] = [];
  opts.candidates.forEach((c, index) => {
    const e = c.entry;
    if (!e?.paymentOrderId) return;
    if (e.paymentOrderStatus && FINAL.has(e.paymentOrderStatus)) {
      rows[index] = { ...rows[index]!, result: e.paymentOrderStatus === 'CANCELLED' ? 'UNCHANGED' : 'SKIPPED', errorMessage: notCancellable(e.paymentOrderStatus) };
      return;
    }
    work.push({ index, orderId: c.orderId, paymentOrderId: e.paymentOrderId });
  });
  if (work.length === 0) return { rows, aborted: false };

  const cancelCalls = new Map<string, number>();
  const run = await runBulk(
    work,
    async ({ orderId, paymentOrderId }) => {
      if (opts.dryRun) {
        const order = await opts.client.getPaymentOrder(paymentOrderId);
        await record(opts.ledger, orderId, order, now());
        return { order, cancelledNow: false };
      }
      cancelCalls.set(orderId, (cancelCalls.get(orderId) ?? 0) + 1);
      try {
        const order = await opts.client.cancelPaymentOrder(paymentOrderId);
        await record(opts.ledger, orderId, order, now(), true);
        return { order, cancelledNow: true };
      } catch (e) {
        if (!(LyraApiError.is(e) && NOT_RUNNING_CODES.has(e.code))) throw e;
        // Not running any more: learn what it is now. After an earlier attempt of ours timed out, CANCELLED means we did it.
        const order = await opts.client.getPaymentOrder(paymentOrderId);
        await record(opts.ledger, orderId, order, now());
        return { order, cancelledNow: order.paymentOrderStatus === 'CANCELLED' && (cancelCalls.get(orderId) ?? 0) > 1 };
      }
    },
    // A cancel that may or may not have happened is safe to send again (see above).
    { ...opts.bulk, retryable: (e) => LyraApiError.is(e) && e.kind !== 'permanent' },
  );
  run.results.forEach((r, i) => {
    const { index, orderId } = work[i]!;
    rows[index] = settle(rows[index]!, r, opts.dryRun, cancelCalls.get(orderId) ?? 0);
  });
  return { rows, authFailure: run.authFailure, aborted: run.aborted };
}

function baseRow(c: CancelCandidate): ActionRow {
  const e = c.entry;
  if (!e) return { orderId: c.orderId, result: 'NOT_SENT', errorMessage: 'not in the ledger: never sent from this state directory' };
  const row: ActionRow = {
    orderId: c.orderId,
    result: 'NOT_SENT',
    paymentOrderId: e.paymentOrderId,
    paymentOrderStatus: e.paymentOrderStatus,
    amountMinor: e.sent?.amountMinor,
    currency: e.sent?.currency,
  };
  if (!e.paymentOrderId) {
    row.errorCode = e.errorCode;
    row.errorMessage = e.state === 'FAILED' ? 'never created: nothing to cancel' : `ledger state ${e.state}: no payment order id known, cannot cancel (reconcile it first)`;
  }
  return row;
}

function settle(row: ActionRow, r: BulkResult<{ order: PaymentOrder; cancelledNow: boolean }>, dryRun: boolean, calls: number): ActionRow {
  if (r.kind === 'skipped') return { ...row, result: 'PENDING', attempts: calls, errorMessage: r.reason === 'auth-failure' ? 'not cancelled: the run stopped on an authentication failure' : 'not cancelled: the run was interrupted' };
  if (r.kind === 'failed') {
    const e = r.error;
    const unknown = LyraApiError.is(e) && e.kind === 'unknown' && !dryRun;
    return {
      ...row,
      result: unknown ? 'UNCERTAIN' : 'FAILED',
      attempts: calls,
      errorCode: LyraApiError.is(e) ? e.code : 'PB_INTERNAL',
      errorMessage: `${unknown ? 'cancel sent without a definite answer; run again or check with status: ' : ''}${e instanceof Error ? e.message : String(e)}`,
    };
  }
  const { order, cancelledNow } = r.value;
  const status = order.paymentOrderStatus;
  const base = { ...row, paymentOrderId: order.paymentOrderId, paymentOrderStatus: status, amountMinor: order.amount, currency: order.currency, attempts: calls, errorCode: undefined, errorMessage: undefined };
  if (dryRun) return status === 'RUNNING' ? { ...base, result: 'WOULD', errorMessage: 'would be cancelled' } : { ...base, result: status === 'CANCELLED' ? 'UNCHANGED' : 'SKIPPED', errorMessage: notCancellable(status) };
  if (cancelledNow) return { ...base, result: 'OK' };
  if (status === 'CANCELLED') return { ...base, result: 'UNCHANGED', errorMessage: notCancellable(status) };
  if (status === 'RUNNING') return { ...base, result: 'FAILED', errorCode: 'PB_STILL_RUNNING', errorMessage: 'the platform answered the cancel but the order is still RUNNING' };
  return { ...base, result: 'SKIPPED', errorMessage: notCancellable(status) };
}

function notCancellable(status: PaymentOrderStatus): string {
  switch (status) {
    case 'CANCELLED':
      return 'already cancelled';
    case 'PAID':
      return 'already paid: cannot be cancelled (refund it from the Back Office if needed)';
    case 'EXPIRED':
      return 'already expired: nothing to cancel';
    case 'REFUSED':
      return 'payment refused: the order is finalized, nothing to cancel';
    default:
      return `status ${status}`;
  }
}

async function record(ledger: Ledger, orderId: string, order: PaymentOrder, at: Date, ownChange = false): Promise<void> {
  await ledger.observe(orderId, observationOf(order, at, { ownChange }));
}
