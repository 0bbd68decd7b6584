import { currencyExponent } from '../orders/currencies.js';
import { CHANNEL_TYPES, type ChannelType } from '../lyra/types.js';
import type { SandboxFault } from './messages.js';

/**
 * Request checks of Charge/CreatePaymentOrder and Charge/PaymentOrder/Update, with the codes the reference lists
 * (docs/lyra-api.md §5, §8, §10). Pure: takes the parsed body and the clock's `now`, returns the first problem.
 */

const CREATE_FIELDS = new Set([
  'amount', 'currency', 'orderId', 'channelOptions', 'expirationDate', 'locale', 'merchantComment', 'taxAmount', 'taxRate',
  'paymentReceiptEmail', 'dataCollectionForm', 'ipnTargetUrl', 'metadata', 'customer', 'transactionOptions',
  'strongAuthentication', 'formAction', 'paymentMethods', 'returnUrl', 'successUrl', 'cancelUrl', 'refusedUrl', 'errorUrl',
  'returnMode', 'pretaxAmount', 'languageFallback',
]);
const UPDATE_FIELDS = new Set([...CREATE_FIELDS, 'paymentOrderId']);

const EMAIL = /^[^\s@;,]+@[^\s@;,]+\.[^\s@;,]+$/;
const PHONE = /^\+?[0-9][0-9 .-]{5,19}$/;
const E164 = /^\+[1-9][0-9]{6,14}$/;
// The codes the platform charges: the program's one currency table (ISO 4217), as paybatch itself judges them.
const CURRENCIES = { has: (code: unknown) => typeof code === 'string' && currencyExponent(code) !== undefined };
const MAX_DAYS = 90;
export const PAYMENT_ORDER_ID = /^[0-9a-f]{32}$/;

const fail = (code: string, detailedMessage?: string): SandboxFault => ({ code, ...(detailedMessage ? { detailedMessage } : {}) });
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBoolish = (v: unknown): boolean => v === true || v === false || v === 'true' || v === 'false';

export function validateCreate(body: unknown, now: number): SandboxFault | null {
  if (!isObj(body)) return fail('INT_902', 'the body must be a JSON object');
  for (const k of Object.keys(body)) if (!CREATE_FIELDS.has(k)) return fail('INT_900', `unknown parameter ${k}`);
  return validateCommon(body, now);
}

export function validateUpdate(body: unknown, now: number): SandboxFault | null {
  if (!isObj(body)) return fail('INT_902', 'the body must be a JSON object');
  for (const k of Object.keys(body)) if (!UPDATE_FIELDS.has(k)) return fail('INT_900', `unknown parameter ${k}`);
  const idProblem = checkPaymentOrderId(body.paymentOrderId);
  if (idProblem) return idProblem;
  return validateCommon(body, now);
}

export function checkPaymentOrderId(id: unknown): SandboxFault | null {
  if (id === undefined || id === null || id === '') return fail('PSP_1052');
  if (typeof id !== 'string' || !PAYMENT_ORDER_ID.test(id)) return fail('INT_840', 'paymentOrderId must be 32 hexadecimal characters');
  return null;
}

function validateCommon(b: Record<string, unknown>, now: number): SandboxFault | null {
  if (typeof b.amount !== 'number' || !Number.isInteger(b.amount) || b.amount < 0) return fail('INT_009', 'amount must be a non-negative integer in minor units');
  if (b.amount === 0) return fail('PSP_1024');
  if (typeof b.currency !== 'string' || !/^[A-Z]{3}$/.test(b.currency)) return fail('INT_010', 'currency must be an ISO 4217 alpha-3 code');
  if (!CURRENCIES.has(b.currency)) return fail('PSP_021');
  if (b.orderId !== undefined && b.orderId !== null && (typeof b.orderId !== 'string' || b.orderId.length > 64 || !/^[\x20-\x7e]*$/.test(b.orderId))) {
    return fail('INT_013', 'orderId must be at most 64 printable ASCII characters');
  }

  const channel = checkChannel(b);
  if (channel) return channel;

  if (b.expirationDate !== undefined && b.expirationDate !== null) {
    const t = parseIsoWithOffset(b.expirationDate);
    if (t === undefined) return fail('INT_855', 'expirationDate must be ISO-8601 with a time zone');
    if (t < now || t > now + MAX_DAYS * 86_400_000) return fail('PSP_1007');
  }
  if (b.locale !== undefined && b.locale !== null && (typeof b.locale !== 'string' || !/^[a-z]{2}_[A-Z]{2}$/.test(b.locale))) return fail('INT_856', 'locale must look like fr_FR');
  if (b.taxRate !== undefined && b.taxRate !== null && (typeof b.taxRate !== 'number' || !(b.taxRate >= 0 && b.taxRate <= 100))) return fail('INT_858', 'taxRate must be a percentage between 0 and 100');
  if (b.taxAmount !== undefined && b.taxAmount !== null) {
    if (typeof b.taxAmount !== 'number' || !Number.isInteger(b.taxAmount) || b.taxAmount < 0) return fail('INT_869', 'taxAmount must be a non-negative integer');
    if (b.taxAmount > (b.amount as number)) return fail('INT_868');
  }
  if (b.paymentReceiptEmail !== undefined && b.paymentReceiptEmail !== null && (typeof b.paymentReceiptEmail !== 'string' || !EMAIL.test(b.paymentReceiptEmail))) return fail('INT_851');
  if (b.dataCollectionForm !== undefined && !isBoolish(b.dataCollectionForm)) return fail('INT_853');
  if (b.ipnTargetUrl !== undefined && b.ipnTargetUrl !== null && !isHttpUrl(b.ipnTargetUrl)) return fail('INT_926', 'ipnTargetUrl must be an http(s) URL');
  if (b.metadata !== undefined && b.metadata !== null && (!isObj(b.metadata) || Object.values(b.metadata).some((v) => typeof v !== 'string'))) return fail('INT_091', 'metadata must map strings to strings');
  if (b.merchantComment !== undefined && b.merchantComment !== null && typeof b.merchantComment !== 'string') return fail('INT_902', 'merchantComment must be a string');
  return null;
}

function checkChannel(b: Record<string, unknown>): SandboxFault | null {
  const co = b.channelOptions;
  if (co === undefined || co === null) return null;
  if (!isObj(co)) return fail('INT_854', 'channelOptions must be an object');
  const type = co.channelType ?? 'URL';
  if (typeof type !== 'string') return fail('INT_854', 'channelType must be a string');
  if (!CHANNEL_TYPES.includes(type as ChannelType)) return fail('PSP_1016', `channel ${type.slice(0, 20)} is not implemented`);
  switch (type as ChannelType) {
    case 'MAIL': {
      const m = co.mailOptions;
      if (!isObj(m)) return fail('INT_841');
      if (m.recipient === undefined || m.recipient === null || m.recipient === '') return fail('INT_850');
      if (typeof m.recipient !== 'string' || !EMAIL.test(m.recipient)) return fail('PSP_1032');
      if (m.bcc !== undefined && m.bcc !== null && (typeof m.bcc !== 'string' || m.bcc.split(';').some((x) => !EMAIL.test(x.trim())))) return fail('PSP_1032', 'invalid bcc address');
      if (m.subject !== undefined && m.subject !== null && (typeof m.subject !== 'string' || m.subject.length > 255)) return fail('INT_843');
      if (m.body !== undefined && m.body !== null && typeof m.body !== 'string') return fail('INT_842');
      if (m.template !== undefined && m.template !== null && (typeof m.template !== 'string' || m.template.length > 64)) return fail('INT_845');
      return null;
    }
    case 'SMS': {
      const s = co.smsOptions;
      if (!isObj(s)) return fail('INT_836');
      if (typeof s.phoneNumber !== 'string' || !PHONE.test(s.phoneNumber)) return fail('INT_838');
      if (s.message !== undefined && s.message !== null) {
        if (typeof s.message !== 'string') return fail('INT_842');
        if (s.message.length > 1000) return fail('PSP_1038');
      }
      return null;
    }
    case 'WHATSAPP': {
      const w = co.whatsAppOptions;
      if (!isObj(w)) return fail('INT_839');
      if (typeof w.phoneNumber !== 'string' || !E164.test(w.phoneNumber)) return fail('INT_837', 'phoneNumber must be E.164, e.g. +33611111111');
      return null;
    }
    case 'INVOICE':
      if (typeof b.orderId !== 'string' || b.orderId === '') return fail('INT_942');
      return null;
    case 'URL': {
      const u = co.urlOptions;
      if (u === undefined || u === null) return null;
      if (!isObj(u)) return fail('INT_902', 'urlOptions must be an object');
      if (u.qrCodeSize !== undefined && (typeof u.qrCodeSize !== 'number' || !Number.isInteger(u.qrCodeSize) || u.qrCodeSize < 50 || u.qrCodeSize > 400)) return fail('INT_936');
      return null;
    }
  }
}

/** Milliseconds since epoch of an ISO-8601 date-time that carries a zone (Z or ±hh:mm); undefined otherwise. */
export function parseIsoWithOffset(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
