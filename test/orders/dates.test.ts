import { describe, expect, it } from 'vitest';
import { isoWithOffset, readDate } from '../../src/orders/dates.js';

const inParis = (text: string) => {
  const r = readDate(text, 'Europe/Paris');
  return r.ok ? isoWithOffset(r.instant, 'Europe/Paris') : r.message;
};

describe('expiration dates', () => {
  it('a date alone means the end of that day in the run time zone, winter or summer', () => {
    expect(inParis('2026-12-31')).toBe('2026-12-31T23:59:59+01:00');
    expect(inParis('2026-07-01')).toBe('2026-07-01T23:59:59+02:00');
    expect(inParis('31/12/2026')).toBe('2026-12-31T23:59:59+01:00');
    expect(inParis('12/31/2026')).toBe('2026-12-31T23:59:59+01:00');
    expect(inParis('01.01.2027')).toBe('2027-01-01T23:59:59+01:00');
  });

  it('a date-time without offset is wall-clock time there; with an offset it is exact', () => {
    expect(inParis('2026-12-31 18:00')).toBe('2026-12-31T18:00:00+01:00');
    expect(inParis('2026-12-31T18:00:00Z')).toBe('2026-12-31T19:00:00+01:00');
    expect(inParis('2026-12-31T18:00:00-05:00')).toBe('2027-01-01T00:00:00+01:00');
    expect(inParis('2026-03-29 02:30')).toBe('2026-03-29T03:30:00+02:00');
  });

  it('a day/month that could be month/day, or a date that does not exist, is refused', () => {
    expect(inParis('05/06/2026')).toMatch(/day\/month or month\/day: write it as YYYY-MM-DD/);
    expect(inParis('2026-02-30')).toMatch(/not a real date/);
    expect(inParis('next friday')).toMatch(/cannot be read/);
  });
});
