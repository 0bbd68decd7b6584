import { describe, expect, it } from 'vitest';
import { CURRENCY_EXPONENTS, currencyExponent, formatMinor } from '../../src/orders/currencies.js';

describe('ISO 4217 exponents come from an explicit table', () => {
  it('has the exponents that matter for payments', () => {
    expect([currencyExponent('EUR'), currencyExponent('JPY'), currencyExponent('TND'), currencyExponent('XPF'), currencyExponent('ISK'), currencyExponent('CLF')]).toEqual([2, 0, 3, 0, 0, 4]);
    expect(currencyExponent('XAU')).toBeUndefined();
    expect(currencyExponent('HRK')).toBeUndefined();
    expect(currencyExponent('toString')).toBeUndefined();
  });

  it('differs from Intl (CLDR) only where ISO 4217 says otherwise, and every such code is listed here', () => {
    const known = new Set(Intl.supportedValuesOf('currency'));
    const differs: string[] = [];
    for (const [code, exp] of Object.entries(CURRENCY_EXPONENTS)) {
      if (!known.has(code)) continue;
      const intl = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits;
      if (intl !== exp) differs.push(`${code}:${exp}/${intl}`);
    }
    // CLDR rounds these to whole units for display; ISO 4217 (and the platform) keep the minor unit.
    const allowed = new Set(['AFN', 'ALL', 'COP', 'HUF', 'IDR', 'IQD', 'IRR', 'KPW', 'LAK', 'LBP', 'MGA', 'MMK', 'PKR', 'RSD', 'SOS', 'SYP', 'TWD', 'UGX', 'YER', 'ISK', 'CLP']);
    for (const d of differs) expect(allowed, `unexpected difference with Intl: ${d}`).toContain(d.slice(0, 3));
    expect(differs.map((d) => d.slice(0, 3))).toContain('IQD');
  });

  it('prints minor units back in major units, exactly', () => {
    expect(formatMinor(123456, 'EUR')).toBe('1234.56');
    expect(formatMinor(5, 'EUR')).toBe('0.05');
    expect(formatMinor(15000, 'JPY')).toBe('15000');
    expect(formatMinor(1250500, 'TND')).toBe('1250.500');
  });
});
