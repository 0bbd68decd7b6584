import type { ChannelType } from '../lyra/types.js';
import { ConfigError, InputError } from '../errors/paybatch-error.js';
import { didYouMean } from '../lib/did-you-mean.js';
import { ALIAS_TO_FIELD, FIELD_NAMES, FIELDS, FIX_REASON_COLUMN, TWO_WAY_HEADERS, fieldByName, normaliseHeader, type FieldName } from './fields.js';
import { isEmail, parseChannel, parseCurrency, parseDuration, parseLocale, parseTaxRate } from './values.js';

/** Run-wide values for files without the column, or for empty cells (flags or a job definition). All optional. */
export interface RunDefaults {
  currency?: string;
  channel?: string;
  locale?: string;
  /** `30d`, `12h`, `2w`: expiry counted from the run's `now`; at most 90 days. */
  expiresIn?: string;
  subject?: string;
  message?: string;
  template?: string;
  paymentReceiptEmail?: string;
  taxRate?: string;
}

export interface MappingOptions {
  /** field → header, from `--map FIELD=HEADER`. */
  map?: Record<string, string>;
  defaults?: RunDefaults;
  /** Named in error messages. */
  file?: string;
}

export interface ColumnRef {
  index: number;
  header: string;
}

/** Defaults checked once, in the API's own spelling. */
export interface ResolvedDefaults {
  currency?: string;
  channel?: ChannelType;
  locale?: string;
  expiresInMs?: number;
  subject?: string;
  message?: string;
  template?: string;
  paymentReceiptEmail?: string;
  taxRate?: number;
}

export interface Mapping {
  headers: string[];
  /** The column each field is read from; a field without a column uses its default (if any). */
  columns: Partial<Record<FieldName, ColumnRef>>;
  defaults: ResolvedDefaults;
  /** Columns not read whose header is a near miss of a field without a column (`emial`), with the fix: said once. */
  hints: string[];
}

export const MAX_EXPIRY_MS = 90 * 86_400_000;

/**
 * Which column feeds which field: `--map`, then fields.ts names and aliases in order; a tie is an error, never a guess.
 * Throws ConfigError for a wrong flag, InputError when orderId, amount, currency or channel has no source.
 */
export function buildMapping(headers: string[], opts: MappingOptions = {}): Mapping {
  const defaults = resolveDefaults(opts.defaults ?? {});
  const columns: Partial<Record<FieldName, ColumnRef>> = {};
  const listed = headers.map((h) => `"${h}"`).join(', ');
  const where = { file: opts.file };

  for (const [rawField, header] of Object.entries(opts.map ?? {})) {
    const field = fieldByName(rawField);
    if (!field) throw new ConfigError('PB_MAP_FIELD', `--map ${rawField}=${header}: "${rawField}" is not a paybatch field; fields are: ${FIELD_NAMES.join(', ')}`);
    const hits = findHeader(headers, header);
    if (hits.length === 0) throw new InputError('PB_MAP_HEADER', `--map ${rawField}=${header}: the file has no column "${header}"; its columns are: ${listed}`, where);
    if (hits.length > 1) throw new InputError('PB_MAP_HEADER', `--map ${rawField}=${header}: ${hits.length} columns are named "${header}" (columns ${hits.map((i) => i + 1).join(', ')}); rename one`, where);
    columns[field] = { index: hits[0]!, header: headers[hits[0]!]! };
  }

  const mapped = new Set(Object.values(columns).map((c) => c.index));
  for (const field of FIELD_NAMES) {
    if (columns[field]) continue;
    const ranks = [field, ...FIELDS[field].aliases].map(normaliseHeader);
    let best: number[] = [];
    let bestRank = Infinity;
    headers.forEach((h, i) => {
      if (mapped.has(i)) return;
      const key = normaliseHeader(h);
      if (key === '' || ALIAS_TO_FIELD.get(key) !== field) return;
      const rank = ranks.indexOf(key);
      if (rank < bestRank) {
        best = [i];
        bestRank = rank;
      } else if (rank === bestRank) best.push(i);
    });
    if (best.length > 1) {
      throw new InputError(
        'PB_AMBIGUOUS_COLUMN',
        `columns ${best.map((i) => `"${headers[i]}"`).join(' and ')} could both be the ${field}; say which with --map ${field}=HEADER, or rename one`,
        where,
      );
    }
    if (best.length === 1) columns[field] = { index: best[0]!, header: headers[best[0]!]! };
  }

  const missing = (field: FieldName, hint: string) =>
    new InputError('PB_MISSING_COLUMN', `no ${field} column (${hint}); the file's columns are: ${listed}. Name it with --map ${field}=HEADER`, where);
  if (!columns.orderId) throw missing('orderId', 'the invoice reference, e.g. a column "invoice" or "reference"');
  if (!columns.amount) throw missing('amount', 'e.g. a column "amount" or "montant"');
  if (!columns.currency && !defaults.currency) throw missing('currency', 'or pass --currency EUR for the whole file');
  if (!columns.channel && !defaults.channel) throw missing('channel', 'MAIL, SMS, WHATSAPP, INVOICE or URL per row, or pass --channel for the whole file');
  return { headers, columns, defaults, hints: misspeltColumns(headers, columns) };
}

/**
 * `column "emial" is not read: did you mean email? --map email=emial`, for an unused column one typo away from a field
 * that has no column: said once, not on every row whose e-mail then reads as empty.
 */
function misspeltColumns(headers: readonly string[], columns: Partial<Record<FieldName, ColumnRef>>): string[] {
  const used = new Set(Object.values(columns).map((c) => c.index));
  const names = new Map<string, FieldName>();
  for (const field of FIELD_NAMES) {
    if (columns[field]) continue;
    for (const a of [field, ...FIELDS[field].aliases]) {
      const key = normaliseHeader(a);
      if (!names.has(key)) names.set(key, field);
    }
  }
  const hints: string[] = [];
  headers.forEach((h, i) => {
    const key = normaliseHeader(h);
    if (used.has(i) || key.length < 3 || h.trim() === FIX_REASON_COLUMN || ALIAS_TO_FIELD.has(key)) return;
    const header = /^[\w.-]+$/.test(h) ? h : `"${h.replace(/"/g, '\\"')}"`;
    const twoWay = TWO_WAY_HEADERS.get(key);
    if (twoWay) {
      if (!columns[twoWay[0]] && !columns[twoWay[1]]) {
        hints.push(`column "${h}" is not read: is it the VAT rate (a percentage) or the VAT amount? Add --map ${twoWay[0]}=${header} or --map ${twoWay[1]}=${header}`);
      }
      return;
    }
    const near = didYouMean(key, names.keys());
    if (near === undefined) return;
    const field = names.get(near)!;
    hints.push(`column "${h}" is not read: did you mean ${field}? If so, add --map ${field}=${header}`);
  });
  return hints;
}

/** Exact header first, then trimmed case-insensitive, then normalised: the first level that finds anything wins. */
function findHeader(headers: string[], wanted: string): number[] {
  const levels: ((h: string) => boolean)[] = [
    (h) => h === wanted,
    (h) => h.trim().toLowerCase() === wanted.trim().toLowerCase(),
    (h) => normaliseHeader(h) !== '' && normaliseHeader(h) === normaliseHeader(wanted),
  ];
  for (const match of levels) {
    const hits = headers.flatMap((h, i) => (match(h) ? [i] : []));
    if (hits.length) return hits;
  }
  return [];
}

function resolveDefaults(d: RunDefaults): ResolvedDefaults {
  const out: ResolvedDefaults = {};
  const given = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';
  if (given(d.currency)) {
    out.currency = parseCurrency(d.currency);
    if (!out.currency) throw new ConfigError('PB_OPTION', `--currency ${d.currency}: not an ISO 4217 currency code (EUR, USD, GBP, JPY, XPF …)`);
  }
  if (given(d.channel)) {
    out.channel = parseChannel(d.channel);
    if (!out.channel) throw new ConfigError('PB_OPTION', `--channel ${d.channel}: use MAIL, SMS, WHATSAPP, INVOICE or URL`);
  }
  if (given(d.locale)) {
    out.locale = parseLocale(d.locale);
    if (!out.locale) throw new ConfigError('PB_OPTION', `--locale ${d.locale}: write a language and a country, e.g. fr_FR or en_GB`);
  }
  if (given(d.expiresIn)) {
    out.expiresInMs = parseDuration(d.expiresIn);
    if (!out.expiresInMs) throw new ConfigError('PB_OPTION', `--expires-in ${d.expiresIn}: write a duration such as 30d, 12h or 2w`);
    if (out.expiresInMs > MAX_EXPIRY_MS) throw new ConfigError('PB_OPTION', `--expires-in ${d.expiresIn}: a payment link can live at most 90 days (90d)`);
  }
  if (given(d.paymentReceiptEmail)) {
    if (!isEmail(d.paymentReceiptEmail)) throw new ConfigError('PB_OPTION', `--receipt-email ${d.paymentReceiptEmail}: not an e-mail address`);
    out.paymentReceiptEmail = d.paymentReceiptEmail.trim();
  }
  if (given(d.taxRate)) {
    out.taxRate = parseTaxRate(d.taxRate);
    if (out.taxRate === undefined) throw new ConfigError('PB_OPTION', `--tax-rate ${d.taxRate}: write a percentage between 0 and 100, e.g. 20 or 5.5`);
  }
  if (given(d.subject)) out.subject = d.subject;
  if (given(d.message)) out.message = d.message;
  if (given(d.template)) out.template = d.template;
  return out;
}
