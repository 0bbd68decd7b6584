import { describe, expect, it } from 'vitest';
import { formatMinor } from '../../src/orders/currencies.js';
import { formatStatusSummary, summarizeStatus } from '../../src/follow/status-summary.js';

describe('the status summary says what is paid and what is outstanding', () => {
  it('counts and sums per status and currency, exactly', () => {
    const s = summarizeStatus([
      { orderId: 'a', result: 'OK', paymentOrderStatus: 'PAID', amountMinor: 12345, currency: 'EUR' },
      { orderId: 'b', result: 'OK', paymentOrderStatus: 'PAID', amountMinor: 10, currency: 'EUR' },
      { orderId: 'c', result: 'OK', paymentOrderStatus: 'RUNNING', amountMinor: 5000, currency: 'EUR' },
      { orderId: 'd', result: 'OK', paymentOrderStatus: 'RUNNING', amountMinor: 1500, currency: 'JPY' },
      { orderId: 'e', result: 'NOT_SENT' },
      { orderId: 'f', result: 'NOT_SENT', ledgerState: 'UNCERTAIN', amountMinor: 700, currency: 'EUR' },
    ]);
    expect(s.totals).toEqual([
      { status: 'PAID', currency: 'EUR', count: 2, amountMinor: 12355 },
      { status: 'RUNNING', currency: 'EUR', count: 1, amountMinor: 5000 },
      { status: 'RUNNING', currency: 'JPY', count: 1, amountMinor: 1500 },
      { status: 'UNCERTAIN', currency: 'EUR', count: 1, amountMinor: 700 },
      { status: 'NOT_SENT', currency: '', count: 1, amountMinor: 0 },
    ]);
    const text = formatStatusSummary(s);
    expect(text).toContain('EUR: paid 123.55, outstanding 50.00');
    expect(text).toContain('JPY: paid 0, outstanding 1500');
  });

  it('formats minor units with the currency exponent, without floats', () => {
    expect(formatMinor(123456, 'EUR')).toBe('1234.56');
    expect(formatMinor(5, 'EUR')).toBe('0.05');
    expect(formatMinor(1500, 'JPY')).toBe('1500');
    expect(formatMinor(1234, 'TND')).toBe('1.234');
  });
});
