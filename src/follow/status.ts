import type { Ledger, LedgerEntry, LedgerState } from '../ledger/ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import type { PaymentOrder, PaymentOrderStatus } from '../lyra/types.js';
import { runBulk, type BulkOptions, type BulkResult } from './bulk.js';
import { observationOf } from './observe.js';
import { paymentDetailsOf } from '../lyra/transactions.js';
import type { FollowClient, FollowResult } from './types.js';

/**
 * States no later event changes: read once, never again (a daily `status` of a large file costs only the open
 * orders). REFUSED is read again: whether a buyer may retry a refused link is not documented (docs/lyra-api.md Q4).
 */
const SETTLED: ReadonlySet<PaymentOrderStatus> = new Set(['PAID', 'EXPIRED', 'CANCELLED']);

/** Statuses the buyer's own attempt decides: their transaction tells when, how and how much. */
const FINAL_BY_BUYER: ReadonlySet<PaymentOrderStatus> = new Set(['PAID', 'REFUSED']);

export interface StatusRow {
  orderId: string;
  result: FollowResult;
  ledgerState?: LedgerState;
  paymentOrderId?: string;
  paymentURL?: string;
  paymentOrderStatus?: PaymentOrderStatus;
  amountMinor?: number;
  currency?: string;
  /** Last change of paymentOrderStatus known (ledger), else the platform's updateDate / creationDate. */
  lastChange?: string;
  errorCode?: string;
  errorMessage?: string;
}

export interface StatusOptions {
  /** Distinct orderIds, in the order the report lists them. */
  orderIds: readonly string[];
  ledger: Ledger;
  /** Absent with `offline`. */
  client?: FollowClient;
  /** Report what the ledger knows; no API call. */
  offline: boolean;
  bulk: Omit<BulkOptions, 'retryable'>;
  now?: () => Date;
}

export interface StatusRun {
  rows: StatusRow[];
  authFailure?: LyraApiError;
  aborted: boolean;
}

/**
 * `paybatch status`: reads again (`PaymentOrder/Get`) every selected order with a payment order that the ledger does
 * not know PAID, EXPIRED or CANCELLED, and records the answer in the ledger.
 */
export async function checkStatus(opts: StatusOptions): Promise<StatusRun> {
  const now = opts.now ?? (() => new Date());
  const rows: StatusRow[] = [];
  const toRead: { index: number; entry: LedgerEntry & { paymentOrderId: string } }[] = [];
  for (const orderId of opts.orderIds) {
    const entry = await opts.ledger.get(orderId);
    const row = fromLedger(orderId, entry);
    rows.push(row);
    if (!opts.offline && entry?.paymentOrderId && !(entry.paymentOrderStatus && SETTLED.has(entry.paymentOrderStatus))) toRead.push({ index: rows.length - 1, entry: entry as LedgerEntry & { paymentOrderId: string } });
  }
  if (toRead.length === 0) return { rows, aborted: false };
  if (!opts.client) throw new Error('checkStatus: a client is required unless offline');
  const client = opts.client;

  const run = await runBulk(
    toRead,
    async ({ entry }) => {
      const order = await client.getPaymentOrder(entry.paymentOrderId);
      let updated = await opts.ledger.observe(entry.orderId, observationOf(order, now()));
      // A payment or refusal whose notification never came: its transaction (uuid, amount, method, date) from Order/Get.
      if (FINAL_BY_BUYER.has(order.paymentOrderStatus) && !updated?.payment?.paid && !(order.paymentOrderStatus === 'REFUSED' && updated?.payment?.refused)) {
        const { transactions, serverDate } = await client.getOrderTransactions(entry.orderId);
        const mine = transactions.filter((t) => !t.paymentOrderId || t.paymentOrderId === entry.paymentOrderId);
        const payment = paymentDetailsOf(mine, 'Order/Get', serverDate ?? now().toISOString());
        if (payment) updated = (await opts.ledger.observe(entry.orderId, { payment, at: payment.at })) ?? updated;
      }
      return { order, updated };
    },
    // A read changes nothing: any failure but a refusal may be tried again.
    { ...opts.bulk, retryable: (e) => LyraApiError.is(e) && e.kind !== 'permanent' },
  );
  run.results.forEach((r, i) => {
    const { index } = toRead[i]!;
    rows[index] = settle(rows[index]!, r);
  });
  return { rows, authFailure: run.authFailure, aborted: run.aborted };
}

function fromLedger(orderId: string, entry: LedgerEntry | undefined): StatusRow {
  if (!entry) return { orderId, result: 'NOT_SENT', errorMessage: 'not in the ledger: never sent from this state directory' };
  const row: StatusRow = {
    orderId,
    result: entry.paymentOrderId ? 'OK' : 'NOT_SENT',
    ledgerState: entry.state,
    paymentOrderId: entry.paymentOrderId,
    paymentURL: entry.paymentURL,
    paymentOrderStatus: entry.paymentOrderStatus,
    amountMinor: entry.sent?.amountMinor,
    currency: entry.sent?.currency,
    lastChange: entry.statusChangedAt ?? entry.updatedAt,
  };
  if (!entry.paymentOrderId) {
    row.errorCode = entry.errorCode;
    row.errorMessage =
      entry.state === 'FAILED'
        ? `not created: ${entry.errorMessage ?? 'the platform refused it'}`
        : entry.state === 'UNCERTAIN' || entry.state === 'SENDING'
          ? 'sent without a definite answer: the order may exist (a payment notification would tell)'
          : entry.state === 'CREATED'
            ? `the order exists (${entry.resolution?.evidence ?? 'a payment attempt was seen for its orderId'}) but its payment order id is unknown: see the Back Office`
            : entry.errorMessage;
  }
  return row;
}

function settle(row: StatusRow, r: BulkResult<{ order: PaymentOrder; updated?: LedgerEntry }>): StatusRow {
  if (r.kind === 'done') {
    const { order, updated } = r.value;
    return {
      ...row,
      result: 'OK',
      ledgerState: updated?.state ?? row.ledgerState,
      paymentOrderId: order.paymentOrderId,
      paymentURL: order.paymentURL || row.paymentURL,
      // The ledger's answer, not the Get's: a newer notification may already say more.
      paymentOrderStatus: updated?.paymentOrderStatus ?? order.paymentOrderStatus,
      amountMinor: order.amount,
      currency: order.currency,
      lastChange: updated?.statusChangedAt ?? order.updateDate ?? order.creationDate,
      errorCode: undefined,
      errorMessage: undefined,
    };
  }
  if (r.kind === 'skipped') return { ...row, result: 'PENDING', errorMessage: r.reason === 'auth-failure' ? 'not read: the run stopped on an authentication failure' : 'not read: the run was interrupted' };
  const e = r.error;
  return {
    ...row,
    result: 'FAILED',
    errorCode: LyraApiError.is(e) ? e.code : 'PB_INTERNAL',
    errorMessage: `Get failed (${row.paymentOrderStatus ? `last known ${row.paymentOrderStatus}` : 'status unknown'}): ${e instanceof Error ? e.message : String(e)}`,
  };
}
