import { describe, expect, it } from 'vitest';
import { normalisePhone, regionOfLocale } from '../../src/orders/phone.js';

describe('phone numbers are normalised to E.164 and must be mobiles', () => {
  it.each([
    ['06 12 34 56 78', 'FR', '+33612345678'],
    ['06.12.34.56.78', 'FR', '+33612345678'],
    ['+33 6 12 34 56 78', undefined, '+33612345678'],
    ['0033 6 12 34 56 78', undefined, '+33612345678'],
    ['33612345678', 'FR', '+33612345678'],
    ['+44 7400 123456', 'FR', '+447400123456'],
    ['07400 123456', 'GB', '+447400123456'],
    ['+1 415 555 2671', undefined, '+14155552671'],
  ])('%j (region %s) → %s', (text, region, e164) => expect(normalisePhone(text, region as never)).toEqual({ ok: true, e164 }));

  it('a landline or a toll-free number cannot receive an SMS', () => {
    expect(normalisePhone('01 23 45 67 89', 'FR')).toMatchObject({ ok: false, reason: 'not-mobile', message: expect.stringMatching(/\+33123456789 is not a mobile number \(fixed line\)/) });
    expect(normalisePhone('0 800 123 456', 'FR')).toMatchObject({ ok: false, reason: 'not-mobile' });
  });

  it('a national number without any country to read it is refused with the ways to fix it', () => {
    expect(normalisePhone('06 12 34 56 78', undefined)).toMatchObject({ ok: false, reason: 'no-region', message: expect.stringMatching(/--phone-region/) });
  });

  it('digits that are a valid number both nationally and as an international number that lost its + are refused', () => {
    // 479 323 9165 in the US, or +47 932 39 165 in Norway after a spreadsheet dropped the +.
    expect(normalisePhone('4793239165', 'US')).toMatchObject({ ok: false, reason: 'ambiguous', message: expect.stringMatching(/\+14793239165 or \+4793239165/) });
    // Only one reading valid: no ambiguity.
    expect(normalisePhone('447400123456', 'GB')).toEqual({ ok: true, e164: '+447400123456' });
  });

  it('garbage and spreadsheet damage are unreadable', () => {
    expect(normalisePhone('12345', 'FR')).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(normalisePhone('3,36123E+10', 'FR')).toMatchObject({ ok: false, reason: 'unreadable', message: expect.stringMatching(/scientific notation/) });
  });

  it('the country of a locale reads national numbers', () => {
    expect(regionOfLocale('fr_FR')).toBe('FR');
    expect(regionOfLocale('en-GB')).toBe('GB');
    expect(regionOfLocale('français')).toBeUndefined();
    expect(regionOfLocale(undefined)).toBeUndefined();
  });
});
