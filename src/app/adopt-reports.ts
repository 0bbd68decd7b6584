import { stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { openCsv, type CsvSource } from '../csv/read.js';
import { restoreFormula } from '../csv/write.js';
import { ConfigError } from '../errors/paybatch-error.js';
import { findOrderIdColumn } from '../follow/select.js';
import { parseMoney } from '../orders/currencies.js';
import type { Ledger, LedgerEntry } from '../ledger/ledger.js';
import type { LyraClient } from '../lyra/client.js';
import { LyraApiError } from '../lyra/errors.js';
import type { ChannelType, Mode } from '../lyra/types.js';

/**
 * An earlier report of the same shop and mode is evidence: a row it says CREATED (checked by Get, else UNCERTAIN) or
 * UNCERTAIN that the ledger lacks is adopted, never sent, for when the ledger was left behind but the report kept.
 */
export interface AdoptOptions {
  /** The report beside the input (read if it exists) and the ones given with --previous-report (must exist). */
  reports: { path: string; given: boolean }[];
  map?: Record<string, string>;
  ledger: Ledger;
  client: LyraClient;
  shopId: string;
  mode: Mode;
  onNotice: (message: string) => void;
  now?: () => Date;
}

export interface AdoptResult {
  created: number;
  uncertain: number;
}

interface Evidence {
  orderId: string;
  status: 'CREATED' | 'UNCERTAIN';
  paymentOrderId?: string;
  paymentURL?: string;
  batchId?: string;
  attempts: number;
  amountMinor: number;
  currency: string;
  channel: ChannelType;
  recipient: string;
  line: number;
}

export const ADOPTED_UNKNOWN_CODE = 'PB_REPORTED_NOT_FOUND';
export const ADOPTED_UNCERTAIN_CODE = 'PB_REPORTED_UNCERTAIN';

export async function adoptEarlierReports(o: AdoptOptions): Promise<AdoptResult> {
  const result: AdoptResult = { created: 0, uncertain: 0 };
  for (const report of o.reports) {
    if (!report.given && !(await isFile(report.path))) continue;
    const found = await readEvidence(report.path, o);
    if (!found) continue;
    const r = await adopt(found, report.path, o);
    result.created += r.created;
    result.uncertain += r.uncertain;
  }
  if (result.created + result.uncertain > 0) {
    o.onNotice(
      `${result.created + result.uncertain} order(s) unknown to the ledger ${o.ledger.where} were found in earlier reports and will not be sent again: ${result.created} CREATED (confirmed with the platform), ${result.uncertain} UNCERTAIN; they are in the ledger now`,
    );
  }
  return result;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The CREATED and UNCERTAIN rows of a report of this shop and mode; undefined (with a notice) for a report that cannot be trusted. */
async function readEvidence(path: string, o: AdoptOptions): Promise<Evidence[] | undefined> {
  let source: CsvSource;
  try {
    source = await openCsv(path);
  } catch (e) {
    throw new ConfigError('PB_PREVIOUS_REPORT', `the earlier report ${path} cannot be read: ${(e as Error).message}`);
  }
  try {
    const col = (name: string): number => {
      const i = source.headers.lastIndexOf(name);
      return i >= 0 ? i : source.headers.lastIndexOf(`paybatch_${name}`);
    };
    const at = { status: col('status'), paymentOrderId: col('paymentOrderId'), paymentURL: col('paymentURL'), shopId: col('shopId'), mode: col('mode'), batchId: col('batchId'), attempts: col('attempts'), amount: col('orderAmount'), currency: col('currencyCode'), channel: col('channelType'), sendTo: col('sendTo'), line: col('line') };
    if (at.status < 0) {
      o.onNotice(`${path} is not a paybatch report (no status column): not used as evidence`);
      return undefined;
    }
    if (at.shopId < 0 || at.mode < 0) {
      o.onNotice(`${path} does not say which shop and mode it was sent to (a report of an older paybatch): not used as evidence`);
      return undefined;
    }
    let orderCol: number;
    try {
      orderCol = findOrderIdColumn(source.headers, o.map, path);
    } catch {
      o.onNotice(`${path} has no orderId column paybatch can find: not used as evidence`);
      return undefined;
    }
    const out: Evidence[] = [];
    let others = 0;
    for await (const row of source.rows) {
      const cell = (i: number) => (i >= 0 ? restoreFormula(row.cells[i] ?? '').trim() : '');
      const status = cell(at.status);
      if (status !== 'CREATED' && status !== 'UNCERTAIN') continue;
      if (cell(at.shopId) !== o.shopId || cell(at.mode) !== o.mode) {
        others++;
        continue;
      }
      const orderId = cell(orderCol);
      if (!orderId) continue;
      const paymentOrderId = cell(at.paymentOrderId);
      const paymentURL = cell(at.paymentURL);
      const batchId = cell(at.batchId);
      out.push({
        orderId,
        status,
        ...(paymentOrderId ? { paymentOrderId } : {}),
        ...(paymentURL ? { paymentURL } : {}),
        ...(batchId ? { batchId } : {}),
        attempts: Number.parseInt(cell(at.attempts), 10) || 1,
        amountMinor: parseMoney(cell(at.amount), cell(at.currency)) ?? 0,
        currency: cell(at.currency),
        channel: (cell(at.channel) || 'URL') as ChannelType,
        recipient: cell(at.sendTo),
        line: Number.parseInt(cell(at.line), 10) || 0,
      });
    }
    if (others > 0) o.onNotice(`${path}: ${others} row(s) were sent to another shop or mode: not used as evidence for shop ${o.shopId} ${o.mode}`);
    return out;
  } finally {
    source.close();
  }
}

async function adopt(rows: Evidence[], path: string, o: AdoptOptions): Promise<AdoptResult> {
  const result: AdoptResult = { created: 0, uncertain: 0 };
  const now = () => (o.now ?? (() => new Date()))().toISOString();
  const limit = pLimit(4);
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const known = await Promise.all(chunk.map((r) => o.ledger.get(r.orderId)));
    const unknown = chunk.filter((_, j) => !known[j]);
    const entries = await Promise.all(unknown.map((r) => limit(() => entryFor(r, path, o, now))));
    if (entries.length === 0) continue;
    await o.ledger.merge(entries);
    for (const e of entries) {
      if (e.state === 'CREATED') result.created++;
      else result.uncertain++;
    }
  }
  return result;
}

async function entryFor(r: Evidence, path: string, o: AdoptOptions, now: () => string): Promise<LedgerEntry> {
  const at = now();
  const base: LedgerEntry = {
    orderId: r.orderId,
    state: 'UNCERTAIN',
    attempts: r.attempts,
    // What was sent is not known to the byte: no fingerprint, so edits are told from the amounts and recipient alone.
    fingerprint: '',
    sent: { amountMinor: r.amountMinor, currency: r.currency, channel: r.channel, recipient: r.recipient },
    ...(r.batchId ? { batchId: r.batchId } : {}),
    updatedAt: at,
  };
  if (r.status === 'UNCERTAIN' || !r.paymentOrderId) {
    return { ...base, errorCode: ADOPTED_UNCERTAIN_CODE, errorMessage: `an earlier report (${path}, line ${r.line}) says it was sent without a definite answer` };
  }
  try {
    const order = await o.client.getPaymentOrder(r.paymentOrderId);
    if (order.orderId && order.orderId !== r.orderId) {
      return { ...base, errorCode: ADOPTED_UNKNOWN_CODE, errorMessage: `an earlier report (${path}, line ${r.line}) names payment order ${r.paymentOrderId}, which the platform holds for another orderId (${order.orderId})` };
    }
    return {
      ...base,
      state: 'CREATED',
      paymentOrderId: order.paymentOrderId,
      paymentURL: order.paymentURL || r.paymentURL || '',
      paymentOrderStatus: order.paymentOrderStatus,
      statusChangedAt: at,
    };
  } catch (e) {
    if (LyraApiError.is(e) && !e.isAuthFailure && ['PSP_1000', 'PSP_010', 'PSP_1010', 'PSP_1011'].includes(e.code)) {
      return { ...base, errorCode: ADOPTED_UNKNOWN_CODE, errorMessage: `an earlier report (${path}, line ${r.line}) says CREATED as ${r.paymentOrderId}, but the platform does not know that payment order (${e.code})` };
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError('PB_API_UNREACHABLE', `cannot confirm the orders an earlier report says exist (${path}, line ${r.line}: ${why}); nothing was sent — run again when the API answers`);
  }
}
