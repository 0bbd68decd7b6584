import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { judgeFile } from '../../src/orders/judge-file.js';
import type { JudgedRow } from '../../src/orders/types.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));
const NOW = new Date('2026-11-22T10:00:00Z');

async function judged(name: string, extra = {}): Promise<JudgedRow[]> {
  const { rows } = await judgeFile(sample(name), { now: NOW, timeZone: 'Europe/Paris', ...extra });
  const out: JudgedRow[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

describe('judging whole sample files', () => {
  it('given invoices.csv, every row of every channel is VALID', async () => {
    const rows = await judged('invoices.csv', { defaults: { expiresIn: '30d' } });
    expect(rows).toHaveLength(20);
    expect(rows.filter((r) => !r.judgement.ok)).toEqual([]);
    const channels = new Set(rows.map((r) => (r.judgement.ok ? r.judgement.order.channel : '')));
    expect([...channels].sort()).toEqual(['INVOICE', 'MAIL', 'SMS', 'URL', 'WHATSAPP']);
  });

  it('given excel-fr.csv (Windows-1252, ;, CRLF), the French amount 1 234,56 is 123456 minor units', async () => {
    const { source, rows } = await judgeFile(sample('excel-fr.csv'), { now: NOW });
    expect(source).toMatchObject({ encoding: 'windows-1252', delimiter: ';', lineEnding: '\r\n' });
    const all: JudgedRow[] = [];
    for await (const r of rows) all.push(r);
    const first = all[0]!.judgement;
    expect(first.ok && [first.order.orderId, first.order.amountMinor, first.order.currency]).toEqual(['FA-2025-1101', 123456, 'EUR']);
    expect(all.every((r) => r.judgement.ok)).toBe(true);
  });

  it('given errors.csv, each row fails for its own reason', async () => {
    const rows = await judged('errors.csv');
    const codes = rows.map((r) => `${r.line} ${r.judgement.ok ? 'VALID' : r.judgement.problem.code}`);
    expect(codes).toEqual([
      '2 VALID',
      '3 INT_942',
      '4 INT_013',
      '5 INT_013',
      '6 PB_DUPLICATE_ORDER_ID',
      '7 INT_009',
      '8 INT_009',
      '9 PSP_1024',
      '10 INT_009',
      '11 INT_009',
      '12 INT_009',
      '13 INT_009',
      '14 INT_010',
      '15 INT_854',
      '16 INT_850',
      '17 PSP_1032',
      '18 PSP_1019',
      '19 INT_838',
      '20 PB_PHONE_NOT_MOBILE',
      '21 PSP_1031',
      '22 INT_837',
      '23 PB_PHONE_INVALID',
      '24 PSP_1007',
      '25 PSP_1007',
      '26 INT_855',
      '27 INT_856',
      '28 INT_858',
      '29 INT_868',
      '30 INT_851',
      '31 PSP_1031',
    ]);
  });

  it('a wrong --map fails before any row is read', async () => {
    await expect(judgeFile(sample('invoices.csv'), { now: NOW, map: { amount: 'Total' } })).rejects.toThrow(/invoices\.csv: --map amount=Total: the file has no column "Total"/);
  });
});
