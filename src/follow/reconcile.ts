import type { Ledger, LedgerEntry } from '../ledger/ledger.js';
import { formatMinor } from '../orders/currencies.js';

/** `--only`: the rows an accountant asks for. */
export const ONLY_KINDS = ['paid', 'outstanding', 'uncertain', 'failed'] as const;
export type OnlyKind = (typeof ONLY_KINDS)[number];

export interface ReconcileFilter {
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Which date the period is about: when the order was first sent (default), or when it was paid. */
  by: 'sent' | 'paid';
  batchId?: string;
  /** The orders of a file (or a job's file). */
  orderIds?: ReadonlySet<string>;
  only?: OnlyKind;
}

/**
 * Where an invoice stands, one word: the payment order's status (PAID, RUNNING, REFUSED, EXPIRED, CANCELLED) when
 * known, else CREATED (exists, status never read), UNCERTAIN (sent without a definite answer) or FAILED (not created).
 */
export type ReconcileStatus = 'PAID' | 'RUNNING' | 'REFUSED' | 'EXPIRED' | 'CANCELLED' | 'CREATED' | 'UNCERTAIN' | 'FAILED';

/** One invoice: what was asked, and what happened. Money in minor units here; every output writes it as money. */
export interface ReconcileRow {
  orderId: string;
  status: ReconcileStatus;
  amountMinor: number;
  currency: string;
  channel: string;
  batchId?: string;
  sentAt?: string;
  ledgerState: LedgerEntry['state'];
  paymentOrderId?: string;
  paymentOrderStatus?: string;
  statusChangedAt?: string;
  amountPaidMinor?: number;
  paidAt?: string;
  transactionUuid?: string;
  paymentMethod?: string;
  detailedStatus?: string;
  paymentAttempts?: number;
  refusedAt?: string;
  refusalCode?: string;
  expiresAt?: string;
  expiredAt?: string;
  resolution?: string;
  safeToResendFrom?: string;
  errorCode?: string;
  errorMessage?: string;
}

export interface ReconcileTotal {
  status: ReconcileStatus;
  currency: string;
  count: number;
  amountMinor: number;
  amountPaidMinor: number;
}

const STATUS_ORDER: ReconcileStatus[] = ['PAID', 'RUNNING', 'CREATED', 'REFUSED', 'EXPIRED', 'CANCELLED', 'UNCERTAIN', 'FAILED'];

export function statusOf(e: LedgerEntry): ReconcileStatus {
  if (e.state === 'UNCERTAIN' || e.state === 'SENDING') return 'UNCERTAIN';
  if (e.state === 'FAILED') return 'FAILED';
  return e.paymentOrderStatus ?? 'CREATED';
}

/** The row of one ledger entry. An order is paid in full or not at all: PAID without the transaction's amount is its amount. */
export function reconcileRow(e: LedgerEntry): ReconcileRow {
  const status = statusOf(e);
  const p = e.payment;
  const row: ReconcileRow = {
    orderId: e.orderId,
    status,
    amountMinor: e.sent.amountMinor,
    currency: e.sent.currency,
    channel: e.sent.channel,
    ledgerState: e.state,
  };
  const set = <K extends keyof ReconcileRow>(k: K, v: ReconcileRow[K] | undefined): void => {
    if (v !== undefined && v !== '') row[k] = v;
  };
  set('batchId', e.batchId);
  set('sentAt', e.firstSentAt);
  set('paymentOrderId', e.paymentOrderId);
  set('paymentOrderStatus', e.paymentOrderStatus);
  set('statusChangedAt', e.statusChangedAt);
  if (p?.paid && p.paid.currency === e.sent.currency) {
    row.amountPaidMinor = p.paid.amountMinor;
    row.paidAt = p.paid.at;
    set('transactionUuid', p.paid.transactionUuid ?? p.transactionUuid);
  } else if (status === 'PAID') {
    row.amountPaidMinor = e.sent.amountMinor;
    set('paidAt', e.statusChangedAt);
  }
  set('transactionUuid', row.transactionUuid ?? p?.transactionUuid);
  set('paymentMethod', p?.method);
  set('detailedStatus', p?.detailedStatus);
  set('paymentAttempts', p?.attempts);
  set('refusedAt', p?.refused?.at ?? (status === 'REFUSED' ? e.statusChangedAt : undefined));
  set('refusalCode', p?.refused?.detailedErrorCode ?? p?.refused?.errorCode);
  set('expiresAt', e.sent.expirationDate ? new Date(e.sent.expirationDate).toISOString() : undefined);
  set('expiredAt', status === 'EXPIRED' ? e.statusChangedAt : undefined);
  set('resolution', e.resolution?.decision);
  set('safeToResendFrom', status === 'UNCERTAIN' ? e.resolution?.safeFrom : undefined);
  set('errorCode', e.errorCode);
  set('errorMessage', e.errorMessage);
  return row;
}

export function matchesOnly(row: ReconcileRow, only: OnlyKind | undefined): boolean {
  switch (only) {
    case undefined:
      return true;
    case 'paid':
      return row.status === 'PAID';
    case 'outstanding':
      return row.status === 'RUNNING' || row.status === 'CREATED';
    case 'uncertain':
      return row.status === 'UNCERTAIN';
    case 'failed':
      return row.status === 'FAILED';
  }
}

function inPeriod(row: ReconcileRow, f: ReconcileFilter): boolean {
  if (!f.since && !f.until) return true;
  const when = f.by === 'paid' ? row.paidAt : row.sentAt;
  if (!when) return false;
  const t = Date.parse(when);
  return (!f.since || t >= f.since.getTime()) && (!f.until || t < f.until.getTime());
}

/** The ledger's orders the filter selects, as rows sorted by send date then orderId, and their totals. */
export async function reconcile(ledger: Ledger, f: ReconcileFilter): Promise<{ rows: ReconcileRow[]; totals: ReconcileTotal[] }> {
  const rows: ReconcileRow[] = [];
  const consider = (e: LedgerEntry): void => {
    if (f.batchId !== undefined && e.batchId !== f.batchId) return;
    const row = reconcileRow(e);
    if (inPeriod(row, f) && matchesOnly(row, f.only)) rows.push(row);
  };
  if (f.orderIds) {
    for (const id of f.orderIds) {
      const e = await ledger.get(id);
      if (e) consider(e);
    }
  } else {
    // The period of the send date and the batch are the ledger's to select (the local one by index).
    const sent = f.by === 'sent' ? { ...(f.since ? { sentFrom: f.since.toISOString() } : {}), ...(f.until ? { sentBefore: f.until.toISOString() } : {}) } : {};
    for await (const e of ledger.entries({ ...sent, ...(f.batchId !== undefined ? { batchId: f.batchId } : {}) })) consider(e);
  }
  rows.sort((a, b) => (a.sentAt ?? '').localeCompare(b.sentAt ?? '') || a.orderId.localeCompare(b.orderId));
  return { rows, totals: totalsOf(rows) };
}

export function totalsOf(rows: readonly ReconcileRow[]): ReconcileTotal[] {
  const by = new Map<string, ReconcileTotal>();
  for (const r of rows) {
    const key = `${r.status}\u0000${r.currency}`;
    const t = by.get(key) ?? { status: r.status, currency: r.currency, count: 0, amountMinor: 0, amountPaidMinor: 0 };
    t.count += 1;
    t.amountMinor += r.amountMinor;
    t.amountPaidMinor += r.amountPaidMinor ?? 0;
    by.set(key, t);
  }
  return [...by.values()].sort((a, b) => a.currency.localeCompare(b.currency) || STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status));
}

export const RECONCILE_COLUMNS = [
  'orderId', 'status', 'amount', 'currency', 'channel', 'batchId', 'sentAt', 'ledgerState', 'paymentOrderId', 'paymentOrderStatus', 'statusChangedAt',
  'amountPaid', 'paidAt', 'transactionUuid', 'paymentMethod', 'detailedStatus', 'paymentAttempts', 'refusedAt', 'refusalCode', 'expiresAt', 'expiredAt',
  'resolution', 'safeToResendFrom', 'errorCode', 'errorMessage',
] as const;

/** A row as the export writes it (CSV cells, JSON values): amounts as money in the order's currency. */
export function reconcileRecord(r: ReconcileRow): Record<(typeof RECONCILE_COLUMNS)[number], string> {
  const money = (m: number | undefined): string => (m === undefined ? '' : formatMinor(m, r.currency));
  return {
    orderId: r.orderId,
    status: r.status,
    amount: money(r.amountMinor),
    currency: r.currency,
    channel: r.channel,
    batchId: r.batchId ?? '',
    sentAt: r.sentAt ?? '',
    ledgerState: r.ledgerState,
    paymentOrderId: r.paymentOrderId ?? '',
    paymentOrderStatus: r.paymentOrderStatus ?? '',
    statusChangedAt: r.statusChangedAt ?? '',
    amountPaid: money(r.amountPaidMinor),
    paidAt: r.paidAt ?? '',
    transactionUuid: r.transactionUuid ?? '',
    paymentMethod: r.paymentMethod ?? '',
    detailedStatus: r.detailedStatus ?? '',
    paymentAttempts: r.paymentAttempts?.toString() ?? '',
    refusedAt: r.refusedAt ?? '',
    refusalCode: r.refusalCode ?? '',
    expiresAt: r.expiresAt ?? '',
    expiredAt: r.expiredAt ?? '',
    resolution: r.resolution ?? '',
    safeToResendFrom: r.safeToResendFrom ?? '',
    errorCode: r.errorCode ?? '',
    errorMessage: r.errorMessage ?? '',
  };
}

/** Totals as the terminal and `--json` show them: money strings in their currency. */
export function totalsJson(totals: readonly ReconcileTotal[]): { status: string; currency: string; count: number; amount: string; amountPaid: string }[] {
  return totals.map((t) => ({ status: t.status, currency: t.currency, count: t.count, amount: formatMinor(t.amountMinor, t.currency), amountPaid: formatMinor(t.amountPaidMinor, t.currency) }));
}

export function formatTotals(rows: number, totals: readonly ReconcileTotal[]): string {
  const lines = [`${rows} invoice${rows === 1 ? '' : 's'}:`];
  for (const t of totals) lines.push(`  ${t.currency} ${t.status.padEnd(10)} ${String(t.count).padStart(6)}  ${formatMinor(t.amountMinor, t.currency)}${t.amountPaidMinor ? `  paid ${formatMinor(t.amountPaidMinor, t.currency)}` : ''}`);
  return `${lines.join('\n')}\n`;
}
