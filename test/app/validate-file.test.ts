import { describe, expect, it } from 'vitest';
import { verdictCells, verdictCsv } from '../../src/app/validate-file.js';
import { formatCsvRecord } from '../../src/csv/write.js';
import type { JudgedRow, OrderDraft } from '../../src/orders/types.js';

const valid = (line: number, order: Partial<OrderDraft>): JudgedRow => ({
  index: line - 2,
  line,
  cells: [],
  judgement: { ok: true, order: { orderId: 'INV-1', channel: 'MAIL', amountMinor: 1250, currency: 'EUR', recipient: 'a@b.example', request: {} as OrderDraft['request'], ...order } },
});

describe("a row's verdict in the report", () => {
  it.each([
    ['a MAIL row', valid(2, {}), ','],
    ['an SMS row (a + number, left as it is) with an expiry', valid(7, { channel: 'SMS', recipient: '+33612345678', expirationDate: '2026-12-31T23:59:59+01:00' }), ';'],
    ['an e-mail holding the delimiter', valid(9, { recipient: 'a|b@c.example' }), '|'],
    ['an e-mail the formula guard must neutralise', valid(10, { recipient: '=cmd@x.example' }), ','],
    ['a URL row (no recipient), JPY', valid(11, { channel: 'URL', recipient: '', currency: 'JPY', amountMinor: 5000 }), '\t'],
    [
      'an invalid row with quotes in its message',
      { index: 3, line: 5, cells: [], judgement: { ok: false, problem: { code: 'PSP_1032', field: 'email', column: 'email', message: '"x" is not a valid e-mail address' } } } as JudgedRow,
      ',',
    ],
  ])('%s: the same record as its cells formatted one by one', (_what, row, d) => {
    expect(verdictCsv(row, d)).toBe(formatCsvRecord(verdictCells(row), d));
  });
});
