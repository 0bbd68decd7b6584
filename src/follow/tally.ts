import { formatMoney } from '../orders/currencies.js';
import type { FollowResult } from './types.js';

const ORDER: FollowResult[] = ['OK', 'WOULD', 'UNCHANGED', 'SKIPPED', 'NOT_SENT', 'FAILED', 'UNCERTAIN', 'PENDING'];

/** `OK 3, SKIPPED 2, FAILED 1`: the one-line count of a follow-up run, results in a fixed order. */
export function tallyResults(rows: readonly { result: FollowResult }[]): string {
  return tallyCounts(rows).map(([k, n]) => `${k} ${n}`).join(', ') || 'no orders';
}

/** Rows per result, results in the fixed order of tallyResults. */
export function tallyCounts(rows: readonly { result: FollowResult }[]): [FollowResult, number][] {
  const counts = new Map<FollowResult, number>();
  for (const r of rows) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  return ORDER.filter((k) => counts.has(k)).map((k) => [k, counts.get(k)!]);
}

/** `3 orders, 120.00 EUR + 1500 JPY`: what a confirmation question shows. */
export function describeAmounts(items: readonly { amountMinor?: number; currency?: string }[]): string {
  const sums = new Map<string, number>();
  for (const i of items) if (i.currency && i.amountMinor !== undefined) sums.set(i.currency, (sums.get(i.currency) ?? 0) + i.amountMinor);
  const money = [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => formatMoney(v, c)).join(' + ');
  return `${items.length} order${items.length === 1 ? '' : 's'}${money ? `, ${money}` : ''}`;
}
