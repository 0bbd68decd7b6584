import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { byOrderId, readReport } from '../follow/csv.js';
import { inDays, makeWorld, T0, type World } from '../follow/world.js';

const UPDATE = 'Charge/PaymentOrder/Update';

describe('paybatch update: the corrected file is the source of truth for orders already sent', () => {
  let w: World;
  let file: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    w = await makeWorld();
    const url = { channelOptions: { channelType: 'URL' as const } };
    const send = async (orderId: string, amount: number, extra: object = url) => {
      ids[orderId] = (await w.send({ orderId, amount, currency: 'EUR', expirationDate: inDays(30), ...extra })).paymentOrderId;
    };
    await send('UPD-AMOUNT', 12000);
    await send('UPD-SAME', 5000);
    await send('UPD-MAIL', 8000, { channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'claire@example.com', subject: 'Facture UPD-MAIL', body: 'Merci de régler votre facture.' } } });
    await send('UPD-PAID', 3000);
    await send('UPD-LOST', 1000);
    await send('UPD-RESET', 2000);
    await w.sandbox.pay(ids['UPD-PAID']!);
    file = w.file(
      'corrected.csv',
      [
        'invoice,amount,currency,channel,email,subject',
        'UPD-AMOUNT,115.00,EUR,URL,,',
        'UPD-SAME,50.00,EUR,URL,,',
        'UPD-MAIL,80.00,EUR,MAIL,claire@example.com,Rappel : facture UPD-MAIL',
        'UPD-PAID,35.00,EUR,URL,,',
        'UPD-LOST,11.00,EUR,URL,,',
        'UPD-RESET,22.00,EUR,URL,,',
        'UPD-NEVER,1.00,EUR,URL,,',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => w.close());

  it('--dry-run lists what would change and changes nothing', async () => {
    const out = `${w.dir}/dry.csv`;
    const r = await runCli(['update', file, '--dry-run', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const by = byOrderId(readReport(out));
    expect(by['UPD-AMOUNT']).toMatchObject({ result: 'WOULD', changes: 'amount: 120.00 EUR → 115.00 EUR' });
    expect(by['UPD-MAIL']).toMatchObject({ result: 'WOULD', changes: 'subject: Facture UPD-MAIL → Rappel : facture UPD-MAIL' });
    expect(by['UPD-SAME']).toMatchObject({ result: 'UNCHANGED' });
    expect(by['UPD-PAID']).toMatchObject({ result: 'SKIPPED', paymentOrderStatus: 'PAID' });
    expect(by['UPD-NEVER']).toMatchObject({ result: 'NOT_SENT' });
    expect(w.sandbox.order(ids['UPD-AMOUNT']!)?.order.amount).toBe(12000);
  });

  it('without a terminal and without --yes it reads, then refuses to change anything', async () => {
    w.sandbox.resetCounters();
    const r = await runCli(['update', file], { env: w.env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(w.sandbox.counters().requests[UPDATE]).toBeUndefined();
  });

  it('updates what differs; an Update lost after it was applied is confirmed by a read, one never applied is UNCERTAIN and not re-sent', async () => {
    w.sandbox.faults.forOrder(ids['UPD-RESET']!, 'reset-after-create', { service: UPDATE });
    w.sandbox.faults.forOrder(ids['UPD-LOST']!, 'timeout-before-create', { service: UPDATE });
    w.sandbox.resetCounters();
    const out = `${w.dir}/apply.csv`;
    const r = await runCli(['update', file, '--yes', '--timeout-ms', '1500', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(1);
    const by = byOrderId(readReport(out));
    expect(by['UPD-AMOUNT']).toMatchObject({ result: 'OK', amount: '115.00', attempts: '1' });
    expect(by['UPD-MAIL']).toMatchObject({ result: 'OK' });
    expect(by['UPD-RESET']).toMatchObject({ result: 'OK', amount: '22.00' });
    expect(by['UPD-LOST']).toMatchObject({ result: 'UNCERTAIN', attempts: '1' });
    expect(w.sandbox.counters().requests[UPDATE]).toBe(4);
    expect(w.sandbox.order(ids['UPD-AMOUNT']!)?.order.amount).toBe(11500);
    expect(w.sandbox.order(ids['UPD-MAIL']!)?.order.channelDetails.mailDetails?.subject).toBe('Rappel : facture UPD-MAIL');
    expect(w.sandbox.order(ids['UPD-MAIL']!)?.order.channelDetails.mailDetails?.recipient).toBe('claire@example.com');
    expect(w.sandbox.order(ids['UPD-PAID']!)?.order.amount).toBe(3000);
    expect(await w.entry('UPD-AMOUNT')).toMatchObject({ sent: { amountMinor: 11500 } });
  });

  it('is safe to run twice: the second run finishes the UNCERTAIN one and leaves the rest alone', async () => {
    w.sandbox.resetCounters();
    const out = `${w.dir}/again.csv`;
    const r = await runCli(['update', file, '--yes', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const by = byOrderId(readReport(out));
    expect(by['UPD-LOST']).toMatchObject({ result: 'OK', amount: '11.00' });
    expect(['UPD-AMOUNT', 'UPD-SAME', 'UPD-MAIL', 'UPD-RESET'].map((id) => by[id]?.result)).toEqual(['UNCHANGED', 'UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
    expect(w.sandbox.counters().requests[UPDATE]).toBe(1);
  });

  it('--expires-in gives the named orders a new expiry, counted from now', async () => {
    const out = `${w.dir}/expiry.csv`;
    const r = await runCli(['update', file, '--expires-in', '15d', '--only', 'UPD-SAME', '--yes', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readReport(out)).toEqual([expect.objectContaining({ orderId: 'UPD-SAME', result: 'OK' })]);
    // Both sides of the change in the platform's form (UTC, to the second), whatever form each came in.
    expect(readReport(out)[0]!.changes).toMatch(/^expirationDate: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 → \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const expiry = Date.parse(w.sandbox.order(ids['UPD-SAME']!)!.order.expirationDate);
    expect(expiry).toBeGreaterThan(T0 + 14 * 86_400_000);
    expect(expiry).toBeLessThan(T0 + 16 * 86_400_000);
  });

  it('refuses a duration it cannot read (exit 2)', async () => {
    const r = await runCli(['update', file, '--expires-in', 'soon', '--yes'], { env: w.env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--expires-in soon/);
  });
});
