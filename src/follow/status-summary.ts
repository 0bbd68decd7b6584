import { formatMinor } from '../orders/currencies.js';
import type { StatusRow } from './status.js';

export interface StatusTotal {
  /** A paymentOrderStatus, or the ledger state (UNCERTAIN, FAILED …) / NOT_SENT when there is no known status. */
  status: string;
  currency: string;
  count: number;
  amountMinor: number;
}

export interface StatusSummary {
  totals: StatusTotal[];
  /** Per currency: PAID vs RUNNING (still outstanding). */
  paid: Record<string, number>;
  outstanding: Record<string, number>;
  rows: number;
}

const ORDER = ['PAID', 'RUNNING', 'REFUSED', 'EXPIRED', 'CANCELLED', 'UNCERTAIN', 'SENDING', 'FAILED', 'NOT_SENT'];

/** Counts and sums per status and currency: what is paid, what is still outstanding. Amounts stay in minor units. */
export function summarizeStatus(rows: readonly StatusRow[]): StatusSummary {
  const byKey = new Map<string, StatusTotal>();
  const paid: Record<string, number> = {};
  const outstanding: Record<string, number> = {};
  for (const r of rows) {
    const status = r.paymentOrderStatus ?? (r.ledgerState && r.ledgerState !== 'CREATED' ? r.ledgerState : 'NOT_SENT');
    const currency = r.currency ?? '';
    const key = `${status}\u0000${currency}`;
    const t = byKey.get(key) ?? { status, currency, count: 0, amountMinor: 0 };
    t.count += 1;
    t.amountMinor += r.amountMinor ?? 0;
    byKey.set(key, t);
    if (status === 'PAID' && currency) paid[currency] = (paid[currency] ?? 0) + (r.amountMinor ?? 0);
    if (status === 'RUNNING' && currency) outstanding[currency] = (outstanding[currency] ?? 0) + (r.amountMinor ?? 0);
  }
  const rank = (s: string): number => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  const totals = [...byKey.values()].sort((a, b) => rank(a.status) - rank(b.status) || a.status.localeCompare(b.status) || a.currency.localeCompare(b.currency));
  return { totals, paid, outstanding, rows: rows.length };
}

/** The summary as the terminal shows it. */
export function formatStatusSummary(s: StatusSummary): string {
  const lines = [`${s.rows} order${s.rows === 1 ? '' : 's'}:`];
  for (const t of s.totals) {
    const amount = t.currency ? `  ${formatMinor(t.amountMinor, t.currency)} ${t.currency}` : '';
    lines.push(`  ${t.status.padEnd(10)} ${String(t.count).padStart(6)}${amount}`);
  }
  const currencies = [...new Set([...Object.keys(s.paid), ...Object.keys(s.outstanding)])].sort();
  for (const c of currencies) {
    lines.push(`  ${c}: paid ${formatMinor(s.paid[c] ?? 0, c)}, outstanding ${formatMinor(s.outstanding[c] ?? 0, c)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The summary for `status --json`: amounts as money strings in their currency (`"123.45"`), never minor units. */
export function statusSummaryJson(s: StatusSummary): { rows: number; totals: { status: string; currency: string; count: number; amount: string }[]; paid: Record<string, string>; outstanding: Record<string, string> } {
  const money = (m: Record<string, number>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([c, v]) => [c, formatMinor(v, c)]));
  return {
    rows: s.rows,
    totals: s.totals.map((t) => ({ status: t.status, currency: t.currency, count: t.count, amount: t.currency ? formatMinor(t.amountMinor, t.currency) : '' })),
    paid: money(s.paid),
    outstanding: money(s.outstanding),
  };
}
