import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';
import { plainE164 } from './e164.js';

export type PhoneResult =
  | { ok: true; e164: string }
  | { ok: false; reason: 'unreadable' | 'ambiguous' | 'not-mobile' | 'no-region'; message: string };

/** Types that can receive an SMS or a WhatsApp message. FIXED_LINE_OR_MOBILE: countries (US, CA …) whose plan does not tell them apart. */
const MOBILE_TYPES = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

/** `fr_FR` / `fr-FR` / `FR` → `FR`; anything else → undefined. */
export function regionOfLocale(locale: string | undefined): CountryCode | undefined {
  const m = locale?.trim().match(/^(?:[a-z]{2,3}[_-])?([a-z]{2})$/i);
  return m ? (m[1]!.toUpperCase() as CountryCode) : undefined;
}

/**
 * Normalises a phone number as people write it (`06 12 34 56 78`, `+33 6 12 34 56 78`, `0033612345678`, `33612345678`
 * once a spreadsheet ate the `+`) to E.164 and checks it is a mobile (SMS, WhatsApp). Pure. `region` (ISO 3166
 * alpha-2) reads national numbers. Digits without `+` are read both as national and as international missing its
 * `+`: if both are valid the row is refused as ambiguous (never guessed), if one is, that one is used.
 */
export function normalisePhone(text: string, region: CountryCode | undefined): PhoneResult {
  const raw = text.trim();
  if (/^\d+([.,]\d+)?e\+?\d+$/i.test(raw)) {
    return { ok: false, reason: 'unreadable', message: `the phone number "${raw}" was turned into scientific notation by a spreadsheet: format the column as text and export again` };
  }
  const cleaned = raw.replace(/^00(?=[1-9])/, '+');
  const candidates: Valid[] = [];
  if (cleaned.startsWith('+')) {
    const p = validIntl(cleaned);
    if (p) candidates.push(p);
  } else {
    const national = region ? parsePhoneNumberFromString(cleaned, region) : undefined;
    const nationalValid = valid(national);
    if (nationalValid) candidates.push(nationalValid);
    if (/^[1-9][\d .\-/()]*$/.test(cleaned)) {
      const intl = validIntl(`+${cleaned}`);
      if (intl && intl.number !== national?.number) candidates.push(intl);
    }
    if (candidates.length === 0 && !region) {
      return { ok: false, reason: 'no-region', message: `the phone number "${raw}" has no country code: write it as +CC… (e.g. +33 6 12 34 56 78), or give the row a locale such as fr_FR, or pass --phone-region FR` };
    }
  }
  if (candidates.length === 0) return { ok: false, reason: 'unreadable', message: `"${raw}" is not a valid phone number${region ? ` for ${region}` : ''}: write it with its country code, e.g. +33 6 12 34 56 78` };
  if (candidates.length > 1) {
    return { ok: false, reason: 'ambiguous', message: `the phone number "${raw}" can be read as ${candidates.map((c) => c.number).join(' or ')}: write it with its + and country code` };
  }
  const { number, type } = candidates[0]!;
  if (!type || !MOBILE_TYPES.has(type)) {
    return { ok: false, reason: 'not-mobile', message: `${number} is not a mobile number (${(type ?? 'unknown type').toLowerCase().replace(/_/g, ' ')}): SMS and WhatsApp need a mobile number` };
  }
  return { ok: true, e164: number };
}

/** An international number (`+CC…`), valid with its type: the plain `+` and digits without the general parser. */
function validIntl(text: string): Valid | undefined {
  return plainE164(text) ?? valid(parsePhoneNumberFromString(text));
}

/** A valid number (E.164) and its type. */
interface Valid {
  number: string;
  type: ReturnType<PhoneNumber['getType']>;
}

/**
 * The number with its type if valid. With full metadata libphonenumber's `isValid()` is `getType() !== undefined`:
 * asking the type once avoids matching every pattern twice; without a type, `isValid()` answers.
 */
function valid(p: PhoneNumber | undefined): Valid | undefined {
  if (!p) return undefined;
  const type = p.getType();
  return type !== undefined || p.isValid() ? { number: p.number, type } : undefined;
}
