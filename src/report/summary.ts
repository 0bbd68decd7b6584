import { formatMinor } from '../orders/currencies.js';

/** What the summary needs of one finished row, whatever the command (validate: VALID/INVALID; run: CREATED, FAILED …). */
export interface SummaryRow {
  status: string;
  errorCode?: string;
  /** With `amountMinor`: counted in the totals of `status`. */
  currency?: string;
  amountMinor?: number;
}

export interface CurrencyTotal {
  /** Integer minor units. */
  minor: number;
  /** The same in major units, exact (`1234.56`). */
  major: string;
  rows: number;
}

export interface SummaryJson {
  rows: number;
  /** Rows per status, in the order statuses were first met. */
  statuses: Record<string, number>;
  /** Rows per error code (the row's first problem), most frequent first. */
  errorCodes: Record<string, number>;
  /** status → error code → rows (e.g. INVALID: { INT_009: 2 }, FAILED: { PSP_1031: 1 }). */
  errorCodesByStatus: Record<string, Record<string, number>>;
  /** status → currency → total. */
  totals: Record<string, Record<string, CurrencyTotal>>;
}

/** A pure accumulator: add rows as they finish, read the counts at any time. Memory grows with distinct codes, not rows. */
export class Summary {
  private rows = 0;
  private readonly statuses = new Map<string, number>();
  private readonly codes = new Map<string, Map<string, number>>();
  private readonly totals = new Map<string, Map<string, { minor: number; rows: number }>>();

  add(row: SummaryRow): this {
    this.rows += 1;
    this.statuses.set(row.status, (this.statuses.get(row.status) ?? 0) + 1);
    if (row.errorCode) {
      let byCode = this.codes.get(row.status);
      if (!byCode) this.codes.set(row.status, (byCode = new Map()));
      byCode.set(row.errorCode, (byCode.get(row.errorCode) ?? 0) + 1);
    }
    if (row.currency && row.amountMinor !== undefined) {
      let byCurrency = this.totals.get(row.status);
      if (!byCurrency) this.totals.set(row.status, (byCurrency = new Map()));
      const t = byCurrency.get(row.currency);
      if (t) {
        t.minor += row.amountMinor;
        t.rows += 1;
      } else byCurrency.set(row.currency, { minor: row.amountMinor, rows: 1 });
    }
    return this;
  }

  count(status: string): number {
    return this.statuses.get(status) ?? 0;
  }

  get total(): number {
    return this.rows;
  }

  toJSON(): SummaryJson {
    const totals: SummaryJson['totals'] = {};
    for (const [status, byCurrency] of this.totals) {
      totals[status] = {};
      for (const [currency, t] of [...byCurrency].sort(([a], [b]) => a.localeCompare(b))) {
        totals[status][currency] = { minor: t.minor, major: formatMinor(t.minor, currency), rows: t.rows };
      }
    }
    const all = new Map<string, number>();
    const byStatus: SummaryJson['errorCodesByStatus'] = {};
    for (const [status, byCode] of this.codes) {
      byStatus[status] = Object.fromEntries(sortCounts(byCode));
      for (const [code, n] of byCode) all.set(code, (all.get(code) ?? 0) + n);
    }
    return { rows: this.rows, statuses: Object.fromEntries(this.statuses), errorCodes: Object.fromEntries(sortCounts(all)), errorCodesByStatus: byStatus, totals };
  }

  /**
   * The printed summary, one fact per line:
   * ```
   * rows      12
   * VALID      9   EUR 1234.56 (8 rows) · JPY 5000 (1 row)
   * INVALID    3   INT_009 ×2 · PSP_1007 ×1
   * ```
   * `order` puts statuses first in that order (e.g. UNCERTAIN first for `run`); others follow as met.
   */
  format(order: readonly string[] = []): string {
    const json = this.toJSON();
    const statuses = [...order.filter((s) => s in json.statuses), ...Object.keys(json.statuses).filter((s) => !order.includes(s))];
    const width = Math.max(4, ...statuses.map((s) => s.length));
    const numWidth = String(this.rows).length;
    const lines = [`${'rows'.padEnd(width)}  ${String(this.rows).padStart(numWidth)}`];
    for (const s of statuses) {
      const parts: string[] = [];
      const totals = json.totals[s];
      if (totals) parts.push(Object.entries(totals).map(([c, t]) => `${c} ${t.major} (${rowCount(t.rows)})`).join(' · '));
      const codes = this.codesOf(s);
      if (codes) parts.push(codes);
      lines.push(`${s.padEnd(width)}  ${String(json.statuses[s]).padStart(numWidth)}${parts.length ? `   ${parts.join('   ')}` : ''}`);
    }
    return lines.join('\n');
  }

  private codesOf(status: string): string {
    const byCode = this.codes.get(status);
    return byCode ? sortCounts(byCode).map(([c, n]) => `${c} ×${n}`).join(' · ') : '';
  }
}

function sortCounts(m: Map<string, number>): [string, number][] {
  return [...m].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
}

/** `1 row`, `12 rows`. */
export function rowCount(n: number): string {
  return `${n} ${n === 1 ? 'row' : 'rows'}`;
}
