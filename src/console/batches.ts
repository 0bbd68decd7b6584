import { openCsv } from '../csv/read.js';
import { formatCsvRecord } from '../csv/write.js';
import type { LedgerStore } from '../follow/context.js';
import { reconcile, reconcileRecord, RECONCILE_COLUMNS } from '../follow/reconcile.js';
import { findOrderIdColumn } from '../follow/select.js';
import type { Ledger } from '../ledger/ledger.js';
import type { RunRecord } from '../app/run-history.js';

/** Statuses in the order a person should look at them: what needs attention first. */
export const STATUS_ORDER = ['UNCERTAIN', 'FAILED', 'PENDING', 'INVALID', 'CREATED'];
/** Rows shown on a batch page; the report download has them all. */
export const ROWS_SHOWN = 500;

export interface BatchRow {
  line: string;
  orderId: string;
  status: string;
  amount: string;
  currency: string;
  channel: string;
  sendTo: string;
  paymentOrderStatus: string;
  errorCode: string;
  errorMessage: string;
  note: string;
}

export interface BatchRows {
  rows: BatchRow[];
  /** Rows of the report matching the filter (all of them, not only those shown). */
  matching: number;
  /** The report is not written yet (the run is going) or is gone. */
  noReport?: string;
  /** Payment statuses are the report's: the ledger was busy (a run holds it) or could not be opened. */
  ledgerNote?: string;
}

/**
 * The rows of a batch from its report, UNCERTAIN and FAILED first, with each order's payment status as the ledger
 * knows it now (notifications and status refreshes update the ledger, not the report).
 */
export async function readBatchRows(run: RunRecord, store: LedgerStore, status: string | undefined): Promise<BatchRows> {
  let source;
  try {
    source = await openCsv(run.files.report);
  } catch {
    const gone = run.origin === 'console' ? 'the report is no longer kept: a file sent from the console is removed some time after its batch ended (serve --keep-uploads); the reconciliation export still has its orders' : `the report ${run.files.report} cannot be read`;
    return { rows: [], matching: 0, noReport: run.state === 'running' ? 'the rows show here when the run has finished' : gone };
  }
  const buckets = new Map<string, BatchRow[]>();
  let matching = 0;
  try {
    const h = source.headers;
    const col = (name: string): number => {
      const i = h.lastIndexOf(name);
      return i >= 0 ? i : h.lastIndexOf(`paybatch_${name}`);
    };
    let idCol = -1;
    try {
      idCol = findOrderIdColumn(h, undefined, run.files.report);
    } catch {
      idCol = -1;
    }
    const at = Object.fromEntries(['status', 'line', 'orderAmount', 'currencyCode', 'channelType', 'sendTo', 'paymentOrderStatus', 'errorCode', 'errorMessage', 'note'].map((n) => [n, col(n)]));
    for await (const r of source.rows) {
      const cell = (i: number | undefined): string => (i !== undefined && i >= 0 ? (r.cells[i] ?? '') : '');
      const rowStatus = cell(at.status);
      if (status && rowStatus !== status) continue;
      matching += 1;
      let bucket = buckets.get(rowStatus);
      if (!bucket) buckets.set(rowStatus, (bucket = []));
      if (bucket.length >= ROWS_SHOWN) continue;
      bucket.push({
        line: cell(at.line),
        orderId: idCol >= 0 ? cell(idCol).trim() : '',
        status: rowStatus,
        amount: cell(at.orderAmount),
        currency: cell(at.currencyCode),
        channel: cell(at.channelType),
        sendTo: cell(at.sendTo),
        paymentOrderStatus: cell(at.paymentOrderStatus),
        errorCode: cell(at.errorCode),
        errorMessage: cell(at.errorMessage),
        note: cell(at.note),
      });
    }
  } finally {
    source.close();
  }
  const rank = (s: string): number => (STATUS_ORDER.includes(s) ? STATUS_ORDER.indexOf(s) : STATUS_ORDER.length);
  const rows = [...buckets.entries()].sort((a, b) => rank(a[0]) - rank(b[0])).flatMap(([, b]) => b).slice(0, ROWS_SHOWN);
  const ledgerNote = await withLedger(store, async (ledger) => {
    for (const row of rows) {
      if (!row.orderId) continue;
      const e = await ledger.get(row.orderId);
      if (e?.paymentOrderStatus) row.paymentOrderStatus = e.paymentOrderStatus;
    }
  });
  return { rows, matching, ...(ledgerNote ? { ledgerNote } : {}) };
}

/**
 * The selected orderIds that are not orders of the batch (an action posted for one batch never touches another's): the
 * rows of its report, or, while it runs or once the report is gone, the ledger's orders it sent.
 */
export async function notInBatch(run: RunRecord, store: LedgerStore, orderIds: readonly string[]): Promise<string[]> {
  const left = new Set(orderIds);
  try {
    const source = await openCsv(run.files.report);
    try {
      const idCol = findOrderIdColumn(source.headers, undefined, run.files.report);
      for await (const r of source.rows) {
        left.delete((r.cells[idCol] ?? '').trim());
        if (left.size === 0) break;
      }
    } finally {
      source.close();
    }
  } catch {
    await withLedger(store, async (ledger) => {
      for (const id of [...left]) if ((await ledger.get(id))?.batchId === run.batchId) left.delete(id);
    });
  }
  return [...left];
}

/** Runs `fn` with the ledger of record if it can be had now; otherwise says why not (a run holds the local ledger). */
export async function withLedger(store: LedgerStore, fn: (ledger: Ledger) => Promise<void>): Promise<string | undefined> {
  let ledger: Ledger;
  try {
    ledger = await store.open({ patient: false });
  } catch {
    return 'payment statuses as of the report: a run is using the ledger right now; reload when it has finished';
  }
  try {
    await fn(ledger);
    return undefined;
  } finally {
    await ledger.close();
  }
}

/** The reconciliation export of a batch: `paybatch reconcile --batch ID`, the same columns and rows, as CSV. */
export async function reconciliationCsv(store: LedgerStore, batchId: string): Promise<string | undefined> {
  const lines = [formatCsvRecord([...RECONCILE_COLUMNS], ',')];
  const busy = await withLedger(store, async (ledger) => {
    const { rows } = await reconcile(ledger, { by: 'sent', batchId });
    for (const r of rows) {
      const record = reconcileRecord(r);
      lines.push(formatCsvRecord(RECONCILE_COLUMNS.map((c) => record[c]), ','));
    }
  });
  if (busy) return undefined;
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

/** One day of the paid-vs-outstanding picture of one currency, in minor units. */
export interface MoneyDay {
  day: string;
  paid: number;
  outstanding: number;
}

/**
 * Paid and outstanding (RUNNING) per currency at the end of each of the last `days` days, from the ledger: an order
 * is outstanding from when it was sent until its last status change (paid, refused, expired or cancelled).
 */
export async function moneyOverTime(store: LedgerStore, days: number, now: Date): Promise<Map<string, MoneyDay[]> | undefined> {
  const ends: number[] = [];
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + 86_400_000;
  for (let i = days - 1; i >= 0; i--) ends.push(today - i * 86_400_000);
  const byCurrency = new Map<string, MoneyDay[]>();
  const busy = await withLedger(store, async (ledger) => {
    for await (const e of ledger.entries()) {
      if (!e.paymentOrderId || !e.firstSentAt) continue;
      const sent = Date.parse(e.firstSentAt);
      const changed = e.statusChangedAt ? Date.parse(e.statusChangedAt) : undefined;
      let series = byCurrency.get(e.sent.currency);
      if (!series) byCurrency.set(e.sent.currency, (series = ends.map((end) => ({ day: new Date(end - 86_400_000).toISOString().slice(0, 10), paid: 0, outstanding: 0 }))));
      ends.forEach((end, i) => {
        if (sent >= end) return;
        const settledBy = changed !== undefined && changed < end;
        if (e.paymentOrderStatus === 'PAID' && settledBy) series[i]!.paid += e.sent.amountMinor;
        else if (e.paymentOrderStatus === 'RUNNING' || !settledBy) series[i]!.outstanding += e.sent.amountMinor;
      });
    }
  });
  return busy ? undefined : byCurrency;
}
