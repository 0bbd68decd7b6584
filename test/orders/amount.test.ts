import { describe, expect, it } from 'vitest';
import { parseAmount } from '../../src/orders/amount.js';

describe('amounts as people write them become minor units of the currency', () => {
  it.each([
    ['20.00', 'EUR', 2000],
    ['20,00', 'EUR', 2000],
    ['20', 'EUR', 2000],
    ['1 234,56', 'EUR', 123456],
    ['1\u00a0234,56', 'EUR', 123456],
    ['1\u202f234,56', 'EUR', 123456],
    ['1.234,56', 'EUR', 123456],
    ['1,234.56', 'USD', 123456],
    ["1'234.50", 'CHF', 123450],
    ['1 234 567,89', 'EUR', 123456789],
    ['1.234.567', 'EUR', 123456700],
    ['1234.5', 'EUR', 123450],
    ['0,50', 'EUR', 50],
    ['.50', 'EUR', 50],
    ['€ 20,00', 'EUR', 2000],
    ['20,00 €', 'EUR', 2000],
    ['20.00 EUR', 'EUR', 2000],
    ['+20.00', 'EUR', 2000],
    ['15000', 'JPY', 15000],
    ['1 500', 'JPY', 1500],
    ['1250.500', 'TND', 1250500],
    ['0,500', 'TND', 500],
    ['9500', 'XPF', 9500],
    ['1234,5678', 'CLF', 12345678],
  ])('%j %s → %i', (text, currency, minor) => expect(parseAmount(text, currency)).toEqual({ ok: true, minor }));
});

describe('an amount that could be read two ways, or not at all, is INVALID with a message — never a guess', () => {
  it.each([
    ['', 'INT_009', /empty/],
    ['   ', 'INT_009', /empty/],
    ['0', 'PSP_1024', /zero/],
    ['0,00', 'PSP_1024', /zero/],
    ['-12.50', 'INT_009', /negative/],
    ['(12.50)', 'INT_009', /negative/],
    ['12.50-', 'INT_009', /negative/],
    ['1,234', 'INT_009', /ambiguous \(1234 or 1\.234\?\)/],
    ['1.500', 'INT_009', /ambiguous/],
    ['20.005', 'INT_009', /ambiguous/],
    ['1234.567', 'INT_009', /3 decimals but EUR has 2/],
    ['20.5', 'INT_009', /has decimals but JPY has no minor unit/, 'JPY'],
    ['1.234', 'INT_009', /ambiguous/, 'TND'],
    ['1.2E+03', 'INT_009', /scientific notation/],
    ['1,2.3', 'INT_009', /two ways/],
    ['1.2.3', 'INT_009', /not thousands groups/],
    ['1,234.5.6', 'INT_009', /several decimal marks/],
    ['12 34', 'INT_009', /groups of three/],
    ['20.', 'INT_009', /no decimals/],
    ['$20', 'INT_009', /not a number/],
    ['vingt', 'INT_009', /not a number/],
    ['99999999999999999999', 'INT_009', /too large/],
  ])('%j', (text, code, message, currency = 'EUR') => {
    const r = parseAmount(text, currency);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message).toMatch(message);
    }
  });

  it('a workbook number is its own value: its "." is the decimal point, so 12.345 is 12.345 KWD and three decimals too many in EUR', () => {
    expect(parseAmount('12.345', 'KWD', { fromNumber: true })).toEqual({ ok: true, minor: 12345 });
    expect(parseAmount('1.5', 'TND', { fromNumber: true })).toEqual({ ok: true, minor: 1500 });
    expect(parseAmount('19.999', 'EUR', { fromNumber: true })).toMatchObject({ ok: false, code: 'INT_009', message: expect.stringMatching(/3 decimals but EUR has 2/) });
    expect(parseAmount('12.345', 'KWD')).toMatchObject({ ok: false, message: expect.stringMatching(/ambiguous/) });
  });

  it.each([
    ['1,500', 'JPY'],
    ['¥1,500', 'JPY'],
    ['1.500', 'EUR'],
    ['1,234', 'USD'],
    ['5,000', 'TND'],
  ])('the fix an ambiguous %j %s suggests is itself accepted, for the same amount', (text, currency) => {
    const r = parseAmount(text, currency);
    expect(r).toMatchObject({ ok: false, code: 'INT_009' });
    const suggested = (r as { message: string }).message.split('e.g. ')[1]!.split(' or ');
    for (const s of suggested) expect(parseAmount(s, currency), s).toEqual(parseAmount(text.replace(/[^0-9]/g, ''), currency));
  });

  it('without a valid currency there is no exponent, so no amount', () => {
    expect(parseAmount('20.00', 'EURO')).toMatchObject({ ok: false, code: 'INT_010' });
  });
});

describe('the plain shapes nearly every export writes are read at once, and read as the whole rules read them', () => {
  it.each([
    ['89.19', 'EUR', 8919],
    ['007', 'EUR', 700],
    ['0.07', 'EUR', 7],
    ['1,5', 'TND', 1500],
    ['1.25', 'CLF', 12500],
    ['100', 'JPY', 100],
  ])('%j %s → %i', (text, currency, minor) => expect(parseAmount(text, currency)).toEqual({ ok: true, minor }));

  it.each([
    ['0.00', 'EUR', 'PSP_1024'],
    ['00', 'EUR', 'PSP_1024'],
    ['100.5', 'JPY', 'INT_009'],
    ['1.500', 'EUR', 'INT_009'],
    ['999999999999999', 'EUR', 'INT_009'],
  ])('%j %s is still refused (%s): zero, decimals the currency lacks, three decimals that could be thousands, too large', (text, currency, code) =>
    expect(parseAmount(text, currency)).toMatchObject({ ok: false, code }));
});
