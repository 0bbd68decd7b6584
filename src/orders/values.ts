import type { ChannelType } from '../lyra/types.js';
import { currencyExponent } from './currencies.js';

/** Channel words people write → the API's channel. */
const CHANNEL_WORDS: Record<string, ChannelType> = {
  mail: 'MAIL', email: 'MAIL', courriel: 'MAIL',
  sms: 'SMS', text: 'SMS', textmessage: 'SMS', texto: 'SMS',
  whatsapp: 'WHATSAPP', wa: 'WHATSAPP',
  invoice: 'INVOICE', facture: 'INVOICE',
  url: 'URL', link: 'URL', lien: 'URL', paymentlink: 'URL', qr: 'URL', qrcode: 'URL',
};

export function parseChannel(text: string): ChannelType | undefined {
  // A file writes its channels a few ways: the last answer is kept.
  if (text === lastChannel.text) return lastChannel.channel;
  const key = text.trim().toLowerCase().replace(/[^a-z]/g, '');
  const channel = Object.prototype.hasOwnProperty.call(CHANNEL_WORDS, key) ? CHANNEL_WORDS[key] : undefined;
  lastChannel = { text, channel };
  return channel;
}
let lastChannel: { text: string; channel: ChannelType | undefined } = { text: '', channel: undefined };

/** An active ISO 4217 code, case-insensitive; upper case out. */
export function parseCurrency(text: string): string | undefined {
  // A file has one or two currencies: the last answer is kept.
  if (text === lastCurrency.text) return lastCurrency.code;
  const c = text.trim().toUpperCase();
  const code = /^[A-Z]{3}$/.test(c) && currencyExponent(c) !== undefined ? c : undefined;
  lastCurrency = { text, code };
  return code;
}
let lastCurrency: { text: string; code: string | undefined } = { text: '', code: undefined };

/** `fr_FR`, `fr-FR`, `FR-fr` → `fr_FR`: a language and a country, as the API wants (`ll_CC`). */
const localeCache = new Map<string, string | undefined>();
export function parseLocale(text: string): string | undefined {
  if (localeCache.has(text)) return localeCache.get(text);
  const locale = readLocale(text);
  // A file has a handful of distinct locales; Intl.getCanonicalLocales is the costliest step of judging a row.
  if (localeCache.size < 1000) localeCache.set(text, locale);
  return locale;
}

function readLocale(text: string): string | undefined {
  const m = text.trim().match(/^([a-z]{2})[_-]([a-z]{2})$/i);
  if (!m) return undefined;
  const locale = `${m[1]!.toLowerCase()}_${m[2]!.toUpperCase()}`;
  try {
    Intl.getCanonicalLocales(locale.replace('_', '-'));
  } catch {
    return undefined;
  }
  return locale;
}

/** `30d`, `12h`, `2w`, `45m`, `1d12h` → milliseconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase().replace(/\s+/g, '');
  if (!/^(\d+(w|d|h|m))+$/.test(s)) return undefined;
  const unit: Record<string, number> = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000 };
  let ms = 0;
  for (const [, n, u] of s.matchAll(/(\d+)(w|d|h|m)/g)) ms += Number(n) * unit[u!]!;
  return ms;
}

/**
 * Pragmatic e-mail syntax, what a mail gateway accepts: one @, a local part without spaces or quotes, a domain of
 * dot-separated labels (letters, digits, hyphens, IDN letters) ending in a TLD of 2+ letters; at most 254 characters.
 */
export function isEmail(text: string): boolean {
  const s = text.trim();
  if (s.length > 254) return false;
  return /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}]{2,}$/u.test(s) && !/^\.|\.\.|\.@/.test(s);
}

/** A tax rate in percent: `20`, `5.5`, `5,5`, `20 %` → number in [0, 100]. */
export function parseTaxRate(text: string): number | undefined {
  const s = text.trim().replace(/\s*%$/, '').replace(',', '.');
  if (!/^\d{1,3}(\.\d{1,4})?$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 0 && n <= 100 ? n : undefined;
}
