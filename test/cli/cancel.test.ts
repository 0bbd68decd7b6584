import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { byOrderId, readReport } from '../follow/csv.js';
import { inDays, makeWorld, type World } from '../follow/world.js';

const CANCEL = 'Charge/PaymentOrder/Cancel';

describe('paybatch cancel: withdraw a batch sent by mistake', () => {
  let w: World;
  let file: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    w = await makeWorld();
    const url = { channelOptions: { channelType: 'URL' as const } };
    for (const [orderId, amount, days] of [['MIS-1', 1000, 30], ['MIS-2', 2000, 30], ['MIS-3', 3000, 30], ['MIS-PAID', 4000, 30], ['MIS-OLD', 500, 1]] as const) {
      ids[orderId] = (await w.send({ orderId, amount, currency: 'EUR', expirationDate: inDays(days), ...url })).paymentOrderId;
    }
    await w.sandbox.pay(ids['MIS-PAID']!);
    w.clock.now += 2 * 86_400_000; // MIS-OLD has expired
    file = w.file('mistake.csv', ['reference;amount;currency', 'MIS-1;10,00;EUR', 'MIS-2;20,00;EUR', 'MIS-3;30,00;EUR', 'MIS-PAID;40,00;EUR', 'MIS-OLD;5,00;EUR', 'MIS-NEVER;1,00;EUR', ''].join('\n'));
  });
  afterAll(() => w.close());

  it('without a terminal and without --yes it refuses at once (a cron job never hangs) and cancels nothing', async () => {
    w.sandbox.resetCounters();
    const r = await runCli(['cancel', file], { env: w.env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(w.sandbox.counters().requests[CANCEL]).toBeUndefined();
  });

  it('--dry-run lists what would be cancelled, and what cannot be', async () => {
    const out = `${w.dir}/dry.csv`;
    const r = await runCli(['cancel', file, '--dry-run', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const by = byOrderId(readReport(out));
    expect(by['MIS-1']).toMatchObject({ result: 'WOULD', paymentOrderStatus: 'RUNNING' });
    expect(by['MIS-PAID']).toMatchObject({ result: 'SKIPPED', paymentOrderStatus: 'PAID' });
    expect(by['MIS-OLD']).toMatchObject({ result: 'SKIPPED', paymentOrderStatus: 'EXPIRED' });
    expect(by['MIS-NEVER']).toMatchObject({ result: 'NOT_SENT' });
    expect(w.sandbox.order(ids['MIS-1']!)?.order.paymentOrderStatus).toBe('RUNNING');
  });

  it('--only cancels just the named order', async () => {
    const out = `${w.dir}/only.csv`;
    const r = await runCli(['cancel', file, '--only', 'MIS-1', '--yes', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readReport(out)).toEqual([expect.objectContaining({ orderId: 'MIS-1', result: 'OK', paymentOrderStatus: 'CANCELLED' })]);
    expect(w.sandbox.order(ids['MIS-2']!)?.order.paymentOrderStatus).toBe('RUNNING');
  });

  it('cancels the rest; a cancel whose answer is lost is sent again and confirmed; paid and expired ones are reported, not errors', async () => {
    // The platform cancels MIS-3 but the connection drops before the answer.
    w.sandbox.faults.forOrder(ids['MIS-3']!, 'reset-after-create', { service: CANCEL });
    const out = `${w.dir}/all.csv`;
    const r = await runCli(['cancel', file, '--yes', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const by = byOrderId(readReport(out));
    expect(by['MIS-1']).toMatchObject({ result: 'UNCHANGED', paymentOrderStatus: 'CANCELLED' });
    expect(by['MIS-2']).toMatchObject({ result: 'OK', paymentOrderStatus: 'CANCELLED', attempts: '1' });
    expect(by['MIS-3']).toMatchObject({ result: 'OK', paymentOrderStatus: 'CANCELLED', attempts: '2' });
    expect(by['MIS-PAID']).toMatchObject({ result: 'SKIPPED', paymentOrderStatus: 'PAID' });
    expect(by['MIS-OLD']).toMatchObject({ result: 'SKIPPED', paymentOrderStatus: 'EXPIRED' });
    expect(r.stdout).toMatch(/OK 2, UNCHANGED 1, SKIPPED 2, NOT_SENT 1/);
    expect(await w.entry('MIS-3')).toMatchObject({ paymentOrderStatus: 'CANCELLED' });
  });

  it('is safe to run twice: the second run calls nothing and changes nothing', async () => {
    w.sandbox.resetCounters();
    const out = `${w.dir}/again.csv`;
    const r = await runCli(['cancel', file, '--yes', '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(w.sandbox.counters().requests[CANCEL]).toBeUndefined();
    expect(readReport(out).map((x) => x.result)).toEqual(['UNCHANGED', 'UNCHANGED', 'UNCHANGED', 'SKIPPED', 'SKIPPED', 'NOT_SENT']);
  });
});
