import type { ChannelOptions, ChannelType, PaymentOrderRequest } from '../lyra/types.js';
import type { RawRow } from '../csv/raw-row.js';
import type { Judgement, OrderDraft, RowProblem } from './types.js';
import type { ColumnRef, Mapping } from './map.js';
import { MAX_EXPIRY_MS } from './map.js';
import type { FieldName } from './fields.js';
import { parseAmount } from './amount.js';
import { normalisePhone, regionOfLocale } from './phone.js';
import { isEmail, parseChannel, parseCurrency, parseLocale, parseTaxRate } from './values.js';
import { isoWithOffset, readDate } from './dates.js';
import { neutraliseFormula } from '../csv/write.js';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';

export interface JudgeContext {
  /** The run's clock, read once at its start: every row of a file is judged against the same instant. */
  now: Date;
  /** orderIds already met in this file (mutated: the first occurrence is added, a later one is a duplicate). A Set, or the leaner OrderIdSet. */
  seen: { has(orderId: string): boolean; add(orderId: string): unknown };
  /** `--phone-region`: the country of national phone numbers; wins over the row's locale country. */
  phoneRegion?: string;
  /** IANA zone in which a date alone ends (23:59:59) and the request's offset is written; default UTC. */
  timeZone?: string;
}

export const MAX_ORDER_ID = 64;

const NO_BCC: readonly string[] = [];

/** The cell was a number in a workbook (RawRow.numbers). */
function isNumber(row: RawRow, c: ColumnRef | undefined): boolean {
  return c !== undefined && row.numbers !== undefined && row.numbers.has(c.index);
}

/** A cell of the row, trimmed; '' for a field the file has no column for. Read as `cellOf(cells, cols.amount)`: a plain
 * member per field (a lookup by a varying name costs per row). */
function cellOf(cells: readonly string[], c: ColumnRef | undefined): string {
  return c ? (cells[c.index] ?? '').trim() : '';
}

function addProblem(problems: RowProblem[], cols: Mapping['columns'], code: string, field: FieldName, message: string): void {
  problems.push({ code, field, column: cols[field]?.header, message });
}

export type ExpiryJudgement =
  | { ok: true; instant: number; dateOnly: boolean }
  | { ok: false; code: 'INT_855' | 'PSP_1007'; reason: 'unreadable' | 'past' | 'too-far'; message: string };

/**
 * The rule for an expiration: readable (readDate: a date alone ends that day in `timeZone`), after `now` and at most
 * 90 days ahead, as the platform requires (PSP_1007). A row's expirationDate (run, validate, update FILE) and the
 * console's "change expiry" are judged by it, so nothing the platform would refuse is sent.
 */
export function judgeExpiry(text: string, timeZone: string, now: number): ExpiryJudgement {
  const r = readDate(text, timeZone);
  if (!r.ok) return { ok: false, code: 'INT_855', reason: 'unreadable', message: r.message };
  if (r.instant <= now) return { ok: false, code: 'PSP_1007', reason: 'past', message: `the expiration date ${text} is already past: choose a date in the next 90 days` };
  if (r.instant > now + MAX_EXPIRY_MS) {
    const latest = isoWithOffset(now + MAX_EXPIRY_MS, timeZone).slice(0, 16).replace('T', ' ');
    return { ok: false, code: 'PSP_1007', reason: 'too-far', message: `the expiration date ${text} is more than 90 days away${r.dateOnly ? ' (a date means the end of that day)' : ''}: the latest possible is ${latest}` };
  }
  return r;
}

/**
 * Judges one record: the exact CreatePaymentOrder body it would send, or every problem found (the first is the row's
 * error code), with the API's own codes where it has one (docs/lyra-api.md §10). Pure: clock, duplicates set, region in `ctx`.
 */
export function judgeRow(row: RawRow, mapping: Mapping, ctx: JudgeContext): Judgement {
  const problems: RowProblem[] = [];
  const d = mapping.defaults;
  const cols = mapping.columns;
  const cells = row.cells;
  // Module functions (cellOf, addProblem), not closures over the row: closures are allocated for every row, and
  // young-generation GC is the judging thread's largest cost.
  const timeZone = ctx.timeZone ?? 'UTC';

  // orderId: the idempotency key.
  const orderId = cellOf(cells, cols.orderId);
  if (orderId === '') addProblem(problems, cols, 'INT_942', 'orderId', 'the invoice reference is empty: every row needs its own reference');
  else if (orderId.length > MAX_ORDER_ID) addProblem(problems, cols, 'INT_013', 'orderId', `the invoice reference is ${orderId.length} characters long; the platform accepts at most ${MAX_ORDER_ID}`);
  else if (!/^[\x20-\x7e]+$/.test(orderId)) addProblem(problems, cols, 'INT_013', 'orderId', `the invoice reference "${orderId}" contains accents or special characters the platform refuses: use letters, digits and - _ / .`);
  // The report guards cells a spreadsheet would run (`'=1+1`): such a reference could not be read back from it as
  // itself, and status, cancel and update take their orderIds from the report.
  else if (neutraliseFormula(orderId) !== orderId) addProblem(problems, cols, 'INT_013', 'orderId', `the invoice reference "${orderId}" starts with "${orderId[0]}", which a spreadsheet runs as a formula: the report could not show it as it is; start it with a letter or a digit`);
  else if (ctx.seen.has(orderId)) addProblem(problems, cols, 'PB_DUPLICATE_ORDER_ID', 'orderId', `the invoice ${orderId} already appears earlier in the file: this row would send it a second time, so it is not sent — remove it or give it its own reference`);
  else ctx.seen.add(orderId);

  // currency, then amount in its minor units.
  const currencyText = cellOf(cells, cols.currency) || d.currency || '';
  const currency = parseCurrency(currencyText);
  if (currencyText === '') addProblem(problems, cols, 'INT_010', 'currency', 'the currency is empty: write an ISO code such as EUR, or pass --currency');
  else if (!currency) addProblem(problems, cols, 'INT_010', 'currency', `"${currencyText}" is not a currency code: write an ISO 4217 code such as EUR, USD, GBP, XPF`);
  let amount: number | undefined;
  if (currency) {
    const a = parseAmount(cellOf(cells, cols.amount), currency, { fromNumber: isNumber(row, cols.amount) });
    if (a.ok) amount = a.minor;
    else addProblem(problems, cols, a.code, 'amount', a.message);
  }

  // channel and the recipient it needs.
  const channelText = cellOf(cells, cols.channel);
  const channel: ChannelType | undefined = channelText ? parseChannel(channelText) : d.channel;
  if (!channel) addProblem(problems, cols, 'INT_854', 'channel', `"${channelText}" is not a channel: write MAIL, SMS, WHATSAPP, INVOICE or URL`);

  const localeText = cellOf(cells, cols.locale);
  const locale = localeText ? parseLocale(localeText) : d.locale;
  if (localeText && !locale) addProblem(problems, cols, 'INT_856', 'locale', `the language "${localeText}" cannot be read: write a language and a country such as fr_FR or en_GB`);

  let recipient = '';
  const channelOptions: ChannelOptions = { channelType: channel ?? 'URL' };
  const message = cellOf(cells, cols.message) || d.message;
  if (channel === 'MAIL') {
    const email = cellOf(cells, cols.email);
    const subject = cellOf(cells, cols.subject) || d.subject;
    const template = cellOf(cells, cols.template) || d.template;
    if (email === '') addProblem(problems, cols, 'INT_850', 'email', 'the e-mail address is empty: a MAIL row needs the buyer\'s e-mail');
    else if (!isEmail(email)) addProblem(problems, cols, 'PSP_1032', 'email', `"${email}" is not a valid e-mail address`);
    else recipient = email;
    if (!subject && !template) addProblem(problems, cols, 'PSP_1019', 'subject', 'a MAIL row needs a subject: add a subject column, or pass --subject (or --template for a Back Office template)');
    const bcc = cellOf(cells, cols.bcc);
    const bccs = bcc === '' ? NO_BCC : bcc.split(/[;,]/).map((b) => b.trim()).filter(Boolean);
    const badBcc = bcc === '' ? undefined : bccs.find((b) => !isEmail(b));
    if (badBcc !== undefined) addProblem(problems, cols, 'PB_BCC_INVALID', 'bcc', `the hidden copy address "${badBcc}" is not a valid e-mail address`);
    // Members set one by one in the body's order (no spreads: this runs for every row).
    const mailOptions: NonNullable<ChannelOptions['mailOptions']> = { recipient };
    if (subject) mailOptions.subject = subject;
    if (message) mailOptions.body = message;
    if (template) mailOptions.template = template;
    if (bcc) mailOptions.bcc = bccs.join(';');
    channelOptions.mailOptions = mailOptions;
  } else if (channel === 'SMS' || channel === 'WHATSAPP') {
    const phoneText = cellOf(cells, cols.phone);
    const sms = channel === 'SMS';
    if (phoneText === '') {
      addProblem(problems, cols, sms ? 'INT_838' : 'INT_837', 'phone', `the phone number is empty: ${sms ? 'an SMS' : 'a WhatsApp'} row needs the buyer's mobile number`);
    } else {
      const forced = ctx.phoneRegion?.toUpperCase();
      const candidate = forced !== undefined && isSupportedCountry(forced) ? forced : regionOfLocale(locale);
      const region: CountryCode | undefined = candidate !== undefined && isSupportedCountry(candidate) ? candidate : undefined;
      const p = normalisePhone(phoneText, region);
      if (p.ok) recipient = p.e164;
      else addProblem(problems, cols, p.reason === 'not-mobile' ? 'PB_PHONE_NOT_MOBILE' : sms ? 'PSP_1031' : 'PB_PHONE_INVALID', 'phone', p.message);
    }
    if (sms) {
      const smsOptions: NonNullable<ChannelOptions['smsOptions']> = { phoneNumber: recipient };
      if (message) smsOptions.message = message;
      channelOptions.smsOptions = smsOptions;
    }
    else channelOptions.whatsAppOptions = { phoneNumber: recipient };
  }

  const receipt = cellOf(cells, cols.paymentReceiptEmail) || d.paymentReceiptEmail;
  if (receipt && !isEmail(receipt)) addProblem(problems, cols, 'INT_851', 'paymentReceiptEmail', `the receipt e-mail "${receipt}" is not a valid e-mail address`);

  const taxRateText = cellOf(cells, cols.taxRate);
  const taxRate = taxRateText ? parseTaxRate(taxRateText) : d.taxRate;
  if (taxRateText && taxRate === undefined) addProblem(problems, cols, 'INT_858', 'taxRate', `the tax rate "${taxRateText}" cannot be read: write a percentage such as 20 or 5.5`);

  const taxAmountText = cellOf(cells, cols.taxAmount);
  let taxAmount: number | undefined;
  if (taxAmountText && currency) {
    const t = parseAmount(taxAmountText, currency, { fromNumber: isNumber(row, cols.taxAmount) });
    if (t.ok) taxAmount = t.minor;
    else if (t.code === 'PSP_1024') taxAmount = 0;
    else addProblem(problems, cols, 'INT_869', 'taxAmount', t.message.replace(/^the amount/, 'the tax amount'));
    if (taxAmount !== undefined && amount !== undefined && taxAmount > amount) addProblem(problems, cols, 'INT_868', 'taxAmount', `the tax amount ${taxAmountText} is larger than the amount to pay`);
  }

  // expiration: (now, now + 90 days].
  let expirationDate: string | undefined;
  const expText = cellOf(cells, cols.expirationDate);
  const now = ctx.now.getTime();
  if (expText) {
    const r = judgeExpiry(expText, timeZone, now);
    if (!r.ok) addProblem(problems, cols, r.code, 'expirationDate', r.reason === 'past' ? `${r.message}, or leave it empty for the shop's default` : r.message);
    else expirationDate = isoWithOffset(r.instant, timeZone);
  } else if (d.expiresInMs) {
    expirationDate = isoWithOffset(now + d.expiresInMs, timeZone);
  }

  if (problems.length > 0) return { ok: false, problem: problems[0]!, problems };

  const merchantComment = cellOf(cells, cols.merchantComment);
  const customerReference = cellOf(cells, cols.customerReference);
  const request: PaymentOrderRequest = { amount: amount!, currency: currency!, orderId, channelOptions };
  if (expirationDate) request.expirationDate = expirationDate;
  if (locale) request.locale = locale;
  if (merchantComment) request.merchantComment = merchantComment;
  if (taxRate !== undefined) request.taxRate = taxRate;
  if (taxAmount !== undefined) request.taxAmount = taxAmount;
  if (receipt) request.paymentReceiptEmail = receipt;
  if (customerReference) request.customer = { reference: customerReference };
  // The INVOICE channel works through the hosted data-collection form (docs/lyra-api.md §5).
  if (channel === 'INVOICE') request.dataCollectionForm = true;
  const order = { orderId, channel: channel!, amountMinor: amount!, currency: currency!, recipient } as OrderDraft;
  if (expirationDate) order.expirationDate = expirationDate;
  if (expirationDate && !expText && d.expiresInMs) order.expiresFromDefault = true;
  order.request = request;
  return { ok: true, order };
}
