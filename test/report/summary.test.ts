import { describe, expect, it } from 'vitest';
import { Summary } from '../../src/report/summary.js';

describe('the summary of a run', () => {
  it('given a validated file, counts rows per status and per error code, and totals valid amounts per currency', () => {
    const s = new Summary()
      .add({ status: 'VALID', currency: 'EUR', amountMinor: 123456 })
      .add({ status: 'VALID', currency: 'EUR', amountMinor: 544 })
      .add({ status: 'VALID', currency: 'JPY', amountMinor: 15000 })
      .add({ status: 'INVALID', errorCode: 'INT_009' })
      .add({ status: 'INVALID', errorCode: 'PSP_1007' })
      .add({ status: 'INVALID', errorCode: 'INT_009' });
    expect(s.toJSON()).toEqual({
      rows: 6,
      statuses: { VALID: 3, INVALID: 3 },
      errorCodes: { INT_009: 2, PSP_1007: 1 },
      errorCodesByStatus: { INVALID: { INT_009: 2, PSP_1007: 1 } },
      totals: { VALID: { EUR: { minor: 124000, major: '1240.00', rows: 2 }, JPY: { minor: 15000, major: '15000', rows: 1 } } },
    });
    expect(s.format(['VALID', 'INVALID'])).toBe(
      ['rows     6', 'VALID    3   EUR 1240.00 (2 rows) · JPY 15000 (1 row)', 'INVALID  3   INT_009 ×2 · PSP_1007 ×1'].join('\n'),
    );
  });

  it('given a batch run, keeps codes apart per status and puts the order asked first', () => {
    const s = new Summary()
      .add({ status: 'CREATED', currency: 'EUR', amountMinor: 1000 })
      .add({ status: 'FAILED', errorCode: 'PSP_1031', currency: 'EUR', amountMinor: 500 })
      .add({ status: 'UNCERTAIN', currency: 'EUR', amountMinor: 700 })
      .add({ status: 'INVALID', errorCode: 'INT_009' });
    expect(s.count('UNCERTAIN')).toBe(1);
    expect(s.count('PENDING')).toBe(0);
    expect(s.toJSON().errorCodesByStatus).toEqual({ FAILED: { PSP_1031: 1 }, INVALID: { INT_009: 1 } });
    expect(s.format(['UNCERTAIN', 'CREATED']).split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['rows', 'UNCERTAIN', 'CREATED', 'FAILED', 'INVALID']);
  });

  it('an empty file summarises to zero rows', () => {
    expect(new Summary().toJSON()).toEqual({ rows: 0, statuses: {}, errorCodes: {}, errorCodesByStatus: {}, totals: {} });
    expect(new Summary().format()).toBe('rows  0');
  });
});
