import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { inDays, makeWorld, type World } from '../follow/world.js';

/** Report rows by orderId (our follow-up reports: comma-separated, no quoted commas in these tests). */
function rowsOf(path: string): Record<string, Record<string, string>> {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
  return Object.fromEntries(rows.map((r) => [r.orderId, r]));
}

describe('given orders in HUF, IQD, COP and IDR, the follow-up commands show money with the ISO 4217 minor units the API uses', () => {
  let w: World;
  let input: string;

  beforeAll(async () => {
    w = await makeWorld();
    const url = { channelOptions: { channelType: 'URL' as const } };
    await w.send({ orderId: 'HU-1', amount: 12345, currency: 'HUF', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'IQ-1', amount: 250500, currency: 'IQD', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'CO-1', amount: 990000, currency: 'COP', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'ID-1', amount: 1500050, currency: 'IDR', expirationDate: inDays(30), ...url });
    input = w.file('invoices.csv', ['orderId,amount,currency,channel', 'HU-1,123.45,HUF,URL', 'IQ-1,250.500,IQD,URL', 'CO-1,9900.00,COP,URL', 'ID-1,15000.50,IDR,URL', ''].join('\n'));
  });
  afterAll(() => w.close());

  it('status: "outstanding 123.45" for 12345 minor units of HUF, in the summary and the report', async () => {
    const r = await runCli(['status', input], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('HUF: paid 0.00, outstanding 123.45');
    expect(r.stdout).toContain('IQD: paid 0.000, outstanding 250.500');
    expect(r.stdout).toContain('COP: paid 0.00, outstanding 9900.00');
    expect(r.stdout).toContain('IDR: paid 0.00, outstanding 15000.50');
    const by = rowsOf(`${w.dir}/invoices.status.csv`);
    expect(by['HU-1']).toMatchObject({ amount: '123.45', currency: 'HUF' });
    expect(by['IQ-1']).toMatchObject({ amount: '250.500', currency: 'IQD' });
    expect(Object.keys(by['HU-1']!)).not.toContain('amountMinor');
  });

  it('update: the change is shown as money in the currency', async () => {
    const edited = w.file('edited.csv', ['orderId,amount,currency,channel', 'HU-1,150.00,HUF,URL', ''].join('\n'));
    const r = await runCli(['update', edited, '--dry-run'], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(rowsOf(`${w.dir}/edited.update.csv`)['HU-1']).toMatchObject({ result: 'WOULD', changes: 'amount: 123.45 HUF → 150.00 HUF', amount: '123.45' });
  });

  it('cancel: the report shows the amount in money', async () => {
    const one = w.file('one.csv', ['orderId', 'IQ-1', ''].join('\n'));
    const r = await runCli(['cancel', one, '--dry-run'], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(rowsOf(`${w.dir}/one.cancel.csv`)['IQ-1']).toMatchObject({ amount: '250.500', currency: 'IQD' });
  });
});
