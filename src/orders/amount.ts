import { currencyExponent } from './currencies.js';

export type AmountResult = { ok: true; minor: number } | { ok: false; code: string; message: string };

/** Characters that only ever group thousands: spaces (incl. the no-break spaces Excel and French locales write) and apostrophes (Swiss). */
const GROUPING = /[ \u00a0\u202f'’]/g;

/** Digits, then at most one `.` or `,` and one or two decimals. */
const PLAIN_AMOUNT = /^(\d{1,15})(?:[.,](\d{1,2}))?$/;

const bad = (message: string, code = 'INT_009'): AmountResult => ({ ok: false, code, message });

/**
 * Reads an amount as people write it (`20.00`, `20,00`, `1 234,56`, `1.234,56`, `1,234.56`, `1'234.56`, a currency
 * symbol or code around it) into integer minor units of `currency` (an upper-case ISO 4217 code). Pure.
 * Never guessed (design promise 3); INVALID:
 * - a lone `.` or `,` then exactly three digits after 1–3 digits (`1,234`, `1.500`): thousands or decimals? Even for
 *   3-decimal currencies; write `1234` or `1.234,000`/`1,234.000`;
 * - more decimals than the currency has (`20.005` EUR, `100.5` JPY): never rounded;
 * - mixed separators not well formed (the last is the decimal mark, the other groups by three: `1.234,56`);
 * - empty, zero, negative (`-5`, `(5)`, `5-`), scientific notation (`1.2E+03`, Excel's doing).
 * `fromNumber`: the text is a workbook number's own (RawRow.numbers): its `.` is the decimal point, never a grouping.
 */
export function parseAmount(text: string, currency: string, opts: { fromNumber?: boolean } = {}): AmountResult {
  const exponent = currencyExponent(currency);
  if (exponent === undefined) return bad(`cannot read the amount without a valid currency (got "${currency}")`, 'INT_010');
  // The shape of nearly every cell (`89.19`, `20,00`, `1500`) is read at once; anything else, and any zero or overflow,
  // goes the whole way below (which reads these shapes the same: no three decimals, so never ambiguous).
  const plain = PLAIN_AMOUNT.exec(text);
  if (plain !== null) {
    const frac = plain[2] ?? '';
    if (frac.length <= exponent) {
      const minor = Number(frac.length === exponent ? plain[1]! + frac : plain[1]! + frac.padEnd(exponent, '0'));
      if (minor > 0 && Number.isSafeInteger(minor)) return { ok: true, minor };
    }
  }
  let s = text.trim();
  if (s === '') return bad('the amount is empty: write the amount to pay, e.g. 120.50');

  s = stripCurrencyMarks(s, currency);
  if (/^\(.*\)$/.test(s) || /^-|-$|^−/.test(s)) return bad(`the amount "${text.trim()}" is negative: a payment order needs a positive amount (use a credit note outside paybatch)`);
  if (s.startsWith('+')) s = s.slice(1).trim();
  if (/^[0-9.,]+e[+-]?[0-9]+$/i.test(s.replace(GROUPING, ''))) {
    return bad(`the amount "${text.trim()}" is in scientific notation (a spreadsheet reformatted it): format the column as a number with decimals and export again`);
  }
  const hasGroupingSpace = GROUPING.test(s);
  GROUPING.lastIndex = 0;
  if (hasGroupingSpace && !/^\d{1,3}([ \u00a0\u202f'’]\d{3})*([.,]\d+)?$/.test(s)) {
    return bad(`the amount "${text.trim()}" cannot be read: spaces may only separate groups of three digits, as in 1 234,56`);
  }
  s = s.replace(GROUPING, '');
  if (!/^[0-9.,]+$/.test(s) || !/[0-9]/.test(s)) return bad(`the amount "${text.trim()}" is not a number: write digits with at most one decimal mark, e.g. 1234.56 or 1 234,56`);

  const dots = count(s, '.');
  const commas = count(s, ',');
  let intPart: string;
  let fracPart = '';

  if (dots === 0 && commas === 0) {
    intPart = s;
  } else if (dots > 0 && commas > 0) {
    const decimalMark = s.lastIndexOf('.') > s.lastIndexOf(',') ? '.' : ',';
    const groupMark = decimalMark === '.' ? ',' : '.';
    if (count(s, decimalMark) > 1) return bad(`the amount "${text.trim()}" has several decimal marks: write it like 1,234.56 or 1.234,56`);
    const [g, f] = s.split(decimalMark) as [string, string];
    if (hasGroupingSpace || !wellGrouped(g, groupMark)) return bad(`the amount "${text.trim()}" mixes "." and "," in a way that can be read two ways: write it like 1234.56`);
    intPart = g.split(groupMark).join('');
    fracPart = f;
  } else {
    const mark = dots > 0 ? '.' : ',';
    const parts = s.split(mark);
    if (parts.length > 2) {
      // Several identical marks can only be thousands separators: 1.234.567 or 1,234,567.
      if (hasGroupingSpace || !wellGrouped(s, mark)) return bad(`the amount "${text.trim()}" has several "${mark}" that are not thousands groups: write it like 1234567.89`);
      intPart = parts.join('');
    } else {
      const [i, f] = parts as [string, string];
      if (f.length === 3 && /^[1-9]\d{0,2}$/.test(i) && !hasGroupingSpace && !(opts.fromNumber && mark === '.')) {
        return bad(
          // The suggestions are amounts this currency accepts: no decimals for JPY, XPF ….
          `the amount "${text.trim()}" is ambiguous (${i}${f} or ${i}.${f}?): write it without a thousands separator, e.g. ${i}${f}${exponent === 0 ? '' : ` or ${i}${f}${mark}00`}`,
        );
      }
      intPart = i;
      fracPart = f;
    }
  }

  if (fracPart === '' && /[.,]$/.test(s)) return bad(`the amount "${text.trim()}" ends with a decimal mark and no decimals: write ${intPart} or ${intPart}.00`);
  if (!/^\d*$/.test(intPart) || !/^\d*$/.test(fracPart)) return bad(`the amount "${text.trim()}" cannot be read as a number`);
  if (fracPart.length > exponent) {
    return bad(
      exponent === 0
        ? `the amount "${text.trim()}" has decimals but ${currency} has no minor unit: write a whole number`
        : `the amount "${text.trim()}" has ${fracPart.length} decimals but ${currency} has ${exponent}: round it yourself to ${exponent} decimals`,
    );
  }
  const digits = (intPart + fracPart.padEnd(exponent, '0')).replace(/^0+(?=\d)/, '');
  const minor = Number(digits);
  if (!Number.isSafeInteger(minor)) return bad(`the amount "${text.trim()}" is too large`);
  if (minor === 0) return bad(`the amount is zero: a payment order needs an amount to pay`, 'PSP_1024');
  return { ok: true, minor };
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/** `1.234.567` with mark `.`: a first group of 1–3 digits (not a lone leading 0), then groups of exactly three. */
function wellGrouped(s: string, mark: string): boolean {
  const groups = s.split(mark);
  return /^[1-9]\d{0,2}$/.test(groups[0]!) && groups.slice(1).every((g) => /^\d{3}$/.test(g));
}

/** Removes the row's own currency code or symbol around the number (`€ 20,00`, `20.00 EUR`); any other symbol stays and makes the amount unreadable. */
function stripCurrencyMarks(s: string, currency: string): string {
  let out = s;
  for (const m of currencyMarks(currency)) {
    if (out.toUpperCase().startsWith(m.toUpperCase())) out = out.slice(m.length).trim();
    else if (out.toUpperCase().endsWith(m.toUpperCase())) out = out.slice(0, out.length - m.length).trim();
  }
  return out;
}

/** The code and its own symbols (`EUR`, `€`); cached: building an Intl.NumberFormat costs more than judging a row. */
const marksCache = new Map<string, string[]>();
function currencyMarks(currency: string): string[] {
  let marks = marksCache.get(currency);
  if (marks) return marks;
  const set = new Set([currency]);
  for (const display of ['symbol', 'narrowSymbol'] as const) {
    try {
      const part = new Intl.NumberFormat('en', { style: 'currency', currency, currencyDisplay: display }).formatToParts(1).find((p) => p.type === 'currency');
      // A bare "$" is kept for USD only: "A$", "CA$" … are distinct, and "$" alone on a CAD row would be a guess.
      if (part && part.value !== currency && !/^[A-Z]{1,2}\$$/.test(part.value) && !(part.value === '$' && currency !== 'USD')) set.add(part.value);
    } catch {
      /* a code Intl does not know: only the code itself is recognised */
    }
  }
  marks = [...set];
  marksCache.set(currency, marks);
  return marks;
}
