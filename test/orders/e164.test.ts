import { describe, expect, it } from 'vitest';
import { getCountries, getCountryCallingCode, getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { plainE164 } from '../../src/orders/e164.js';
import { seededRandom } from '../../src/sandbox/random.js';

/**
 * Numbers around every country's example mobile: its last digits changed, a digit added or dropped, a national prefix
 * or a 0 written after the calling code (a common mistake), spaces between groups, and other codes' digits. Most are
 * valid numbers of some type, many are not.
 */
function neighbours(): string[] {
  // Seeded: the same numbers on every run, so a difference found is a difference kept.
  const random = seededRandom(7);
  const digit = () => String(Math.floor(random() * 10));
  const out: string[] = [];
  for (const country of getCountries()) {
    const example = getExampleNumber(country, examples);
    const code = getCountryCallingCode(country);
    if (!example) continue;
    const national = example.nationalNumber as string;
    out.push(example.number as string);
    for (let i = 0; i < 60; i++) {
      const keep = Math.max(1, national.length - 1 - Math.floor(random() * Math.min(6, national.length)));
      let n = national.slice(0, keep);
      while (n.length < national.length) n += digit();
      if (i % 10 === 7) n += digit();
      if (i % 10 === 8) n = n.slice(0, -1);
      if (i % 10 === 9) n = ['0', '1', '8', '9', '00', '015'][i % 6]! + n;
      out.push(`+${code}${n}`);
      if (i % 5 === 0) out.push(`+${code} ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`.trimEnd());
    }
  }
  for (let i = 0; i < 3000; i++) {
    let n = '+' + String(1 + Math.floor(random() * 9));
    const len = 6 + Math.floor(random() * 10);
    while (n.length <= len) n += digit();
    out.push(n);
  }
  return out;
}

/** What the library's general parser says: the E.164 and the type of a valid number. */
function parsed(text: string): { e164: string; type: string } | undefined {
  const p = parsePhoneNumberFromString(text);
  const type = p?.getType();
  return p && type ? { e164: p.number, type } : undefined;
}

describe('a number written as + and digits is read without the general parser, as the parser reads it', () => {
  const numbers = neighbours();

  it('agrees with libphonenumber on every country\'s numbers, and leaves to it whatever it cannot prove', () => {
    let answered = 0;
    const differences: string[] = [];
    for (const text of numbers) {
      const fast = plainE164(text);
      if (!fast) continue;
      answered++;
      const slow = parsed(text);
      if (slow?.e164 !== fast.number || slow.type !== fast.type) differences.push(`${text}: ${fast.number} ${fast.type} against ${JSON.stringify(slow)}`);
    }
    expect(differences).toEqual([]);
    // The comparison is not empty: a good share of these numbers take the shortcut.
    expect(numbers.length).toBeGreaterThan(10_000);
    expect(answered).toBeGreaterThan(numbers.length / 4);
  });

  it('answers the common mobile numbers, spaced or not', () => {
    expect(plainE164('+33612345678')).toMatchObject({ type: 'MOBILE', number: '+33612345678' });
    expect(plainE164('+33 6 12 34 56 78')).toMatchObject({ type: 'MOBILE', number: '+33612345678' });
    expect(plainE164('+4915123456789')).toMatchObject({ type: 'MOBILE', number: '+4915123456789' });
  });

  it('leaves to the parser what it would read differently or needs the number\'s patterns to place', () => {
    // A national prefix after the code: the parser strips it (+44 07400… is +44 7400…).
    expect(plainE164('+4407400123456')).toBeUndefined();
    expect(parsed('+4407400123456')).toEqual({ e164: '+447400123456', type: 'MOBILE' });
    // +1 is shared by the US, Canada and the Caribbean, +7 by Russia and Kazakhstan: the parser decides which one.
    expect(plainE164('+14155552671')).toBeUndefined();
    expect(plainE164('+12684641234')).toBeUndefined();
    expect(plainE164('+77710009998')).toBeUndefined();
    // Not a number of any type, no such calling code, punctuation, too long.
    expect(plainE164('+33012345678')).toBeUndefined();
    expect(plainE164('+99912345678')).toBeUndefined();
    expect(plainE164('+33-6-12-34-56-78')).toBeUndefined();
    expect(plainE164('+3361234567890123')).toBeUndefined();
  });
});
