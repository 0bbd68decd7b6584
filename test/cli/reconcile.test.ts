import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis/redis-ledger.js';
import { formatMinor } from '../../src/orders/currencies.js';
import type { SandboxOrderView } from '../../src/sandbox/server.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { inDays, makeWorld, T0, waitForLine, type World } from '../follow/world.js';

const DAY = 86_400_000;

/** The latest payment order the sandbox holds for an orderId (a re-send makes a second one). */
function latest(w: World, orderId: string): SandboxOrderView {
  const all = w.sandbox.ordersByOrderId(orderId);
  return all.sort((a, b) => a.order.creationDate.localeCompare(b.order.creationDate)).at(-1)!;
}

describe('paybatch reconcile and resolve: a month of invoices, matched with what the platform holds', () => {
  let w: World;
  let receiver: ChildProcess;
  let ipnUrl: string;
  let input: string;
  const ids = ['INV-PAID', 'INV-YEN', 'INV-REFUSED', 'INV-EXPIRES', 'INV-OPEN', 'INV-LOST-PAID', 'INV-LATE', 'INV-LOST'];

  beforeAll(async () => {
    w = await makeWorld();
    receiver = spawnCli(['ipn', '--port', '0'], { env: w.env });
    receiver.stdin!.end();
    ipnUrl = /listening on (\S+)/.exec(await waitForLine(receiver, 'stdout', /listening on/))![1]!;
    // The input's conventions: BOM, semicolons, CRLF. INV-LOST has no expiry of its own: --expires-in gives it 3 days.
    input = w.file(
      'month.csv',
      `\uFEFF${[
        'invoice;amount;currency;channel;expires',
        `INV-PAID;120.00;EUR;URL;${inDays(30)}`,
        `INV-YEN;1500;JPY;URL;${inDays(30)}`,
        `INV-REFUSED;50.00;EUR;URL;${inDays(30)}`,
        `INV-EXPIRES;7.00;EUR;URL;${inDays(1)}`,
        `INV-OPEN;45.50;EUR;URL;${inDays(30)}`,
        `INV-LOST-PAID;80.00;EUR;URL;${inDays(30)}`,
        `INV-LATE;33.00;EUR;URL;${inDays(30)}`,
        'INV-LOST;19.90;EUR;URL;',
      ].join('\r\n')}\r\n`,
    );
    // Two answers are lost: the orders exist on the platform, the ledger cannot know it.
    for (const id of ['INV-LOST-PAID', 'INV-LOST']) w.sandbox.faults.forOrder(id, 'reset-after-create', { service: 'Charge/CreatePaymentOrder' });
    const run = await runCli(['run', input, '--ipn-url', ipnUrl, '--expires-in', '3d'], { env: w.env });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/UNCERTAIN/);

    // The buyers: two pay, one is refused; the receiver records their notifications.
    for (const [id, refuse] of [['INV-PAID', false], ['INV-YEN', false], ['INV-REFUSED', true]] as const) {
      const recorded = waitForLine(receiver, 'stderr', new RegExp(`"event":"ipn.recorded".*${id}`));
      expect((await w.sandbox.pay(latest(w, id).order.paymentOrderId, { refuse })).ipn).toMatchObject({ delivered: true });
      await recorded;
    }
    // The receiver is down when two more buyers pay, one of them of a lost-answer order: those notifications are lost.
    receiver.kill('SIGTERM');
    await once(receiver, 'exit');
    for (const id of ['INV-LOST-PAID', 'INV-LATE']) expect((await w.sandbox.pay(latest(w, id).order.paymentOrderId)).ipn).toMatchObject({ delivered: false });
    w.clock.now = T0 + 2 * DAY; // INV-EXPIRES is past its date; INV-LOST (3 days) is not
  }, 60_000);
  afterAll(async () => {
    if (receiver.exitCode === null && receiver.signalCode === null) receiver.kill('SIGKILL');
    await w.close();
  });

  it('the ledger holds what the notifications brought: transaction, method, amount paid', async () => {
    const paid = await w.entry('INV-PAID');
    const tx = latest(w, 'INV-PAID').transactions[0]!;
    expect(paid).toMatchObject({ paymentOrderStatus: 'PAID', payment: { source: 'IPN', transactionUuid: tx.uuid, method: 'CARD', detailedStatus: 'AUTHORISED', paid: { amountMinor: 12000, currency: 'EUR', at: new Date(tx.creationDate).toISOString() } } });
    expect(await w.entry('INV-REFUSED')).toMatchObject({ paymentOrderStatus: 'REFUSED', payment: { detailedStatus: 'REFUSED', refused: { errorCode: '149' } } });
    expect(await w.entry('INV-LOST-PAID')).toMatchObject({ state: 'UNCERTAIN' });
  });

  it('resolve: the lost answer whose buyer paid is found by Order/Get and becomes CREATED; the other stays uncertain until its expiry', async () => {
    w.sandbox.resetCounters();
    const r = await runCli(['resolve', input], { env: w.env });
    expect(r.code, r.stderr).toBe(1);
    expect(w.sandbox.counters().requests['Order/Get']).toBe(2);
    const lostPaid = latest(w, 'INV-LOST-PAID');
    expect(await w.entry('INV-LOST-PAID')).toMatchObject({
      state: 'CREATED',
      paymentOrderId: lostPaid.order.paymentOrderId,
      paymentOrderStatus: 'PAID',
      payment: { source: 'Order/Get', transactionUuid: lostPaid.transactions[0]!.uuid },
      resolution: { decision: 'FOUND' },
    });
    const expiry = (await w.entry('INV-LOST'))!.sent.expirationDate!;
    expect(await w.entry('INV-LOST')).toMatchObject({ state: 'UNCERTAIN', resolution: { decision: 'STILL_UNCERTAIN', safeFrom: new Date(expiry).toISOString() } });
    expect(r.stdout).toMatch(/INV-LOST-PAID {2}FOUND {2}80\.00 EUR: Order\/Get lists 1 transaction/);
    expect(r.stdout).toContain(`still uncertain: safe to re-send from ${new Date(expiry).toISOString()}`);

    // A found order is never sent again: a re-run sends nothing.
    w.sandbox.resetCounters();
    const again = await runCli(['run', input, '--expires-in', '3d', '--out', join(w.dir, 'again.csv')], { env: w.env });
    expect(again.code).toBe(1);
    expect(w.sandbox.counters().requests['Charge/CreatePaymentOrder'] ?? 0).toBe(0);
  });

  it('status refreshes what the notifications missed: the expiry, and the transaction of a payment', async () => {
    w.sandbox.resetCounters();
    const r = await runCli(['status', input], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(await w.entry('INV-EXPIRES')).toMatchObject({ paymentOrderStatus: 'EXPIRED' });
    // INV-LATE's payment: its Get says PAID, and Order/Get brings the transaction the lost notification would have.
    expect(w.sandbox.counters().requests['Order/Get']).toBe(1);
    const late = latest(w, 'INV-LATE');
    expect(await w.entry('INV-LATE')).toMatchObject({ paymentOrderStatus: 'PAID', payment: { source: 'Order/Get', transactionUuid: late.transactions[0]!.uuid, paid: { amountMinor: 3300 } } });
  });

  it('reconcile matches what the sandbox holds, row by row and in its totals, in the input\'s conventions', async () => {
    const r = await runCli(['reconcile', input, '--json', '--out', join(w.dir, 'month.reconcile.csv')], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { rows: Record<string, string>[]; totals: { status: string; currency: string; count: number; amount: string; amountPaid: string }[] };
    expect(json.rows.map((x) => x.orderId).sort()).toEqual([...ids].sort());
    const totals = new Map<string, { count: number; amount: number; paid: number; currency: string; status: string }>();
    for (const id of ids) {
      const row = json.rows.find((x) => x.orderId === id)!;
      if (id === 'INV-LOST') {
        // Its order exists on the platform, unpaid; only a re-send after its expiry may replace it.
        expect(row).toMatchObject({ status: 'UNCERTAIN', paymentOrderId: '', amount: '19.90', resolution: 'STILL_UNCERTAIN' });
        expect(row.safeToResendFrom).toBe(new Date((await w.entry(id))!.sent.expirationDate!).toISOString());
        totals.set('EUR/UNCERTAIN', { count: 1, amount: 1990, paid: 0, currency: 'EUR', status: 'UNCERTAIN' });
        continue;
      }
      const s = latest(w, id);
      const o = s.order;
      const paidTx = s.transactions.find((t) => t.detailedStatus === 'AUTHORISED');
      expect(row, id).toMatchObject({ paymentOrderId: o.paymentOrderId, paymentOrderStatus: o.paymentOrderStatus, status: o.paymentOrderStatus, amount: formatMinor(o.amount, o.currency), currency: o.currency, channel: 'URL' });
      expect(row.amountPaid, id).toBe(paidTx ? formatMinor(o.amount, o.currency) : '');
      expect(row.paidAt, id).toBe(paidTx ? new Date(paidTx.creationDate).toISOString() : '');
      expect(row.transactionUuid, id).toBe(s.transactions.at(-1)?.uuid ?? '');
      if (o.paymentOrderStatus === 'EXPIRED') expect(row.expiredAt).not.toBe('');
      const key = `${o.currency}/${o.paymentOrderStatus}`;
      const t = totals.get(key) ?? { count: 0, amount: 0, paid: 0, currency: o.currency, status: o.paymentOrderStatus };
      t.count += 1;
      t.amount += o.amount;
      t.paid += paidTx ? o.amount : 0;
      totals.set(key, t);
    }
    expect(json.rows.find((x) => x.orderId === 'INV-YEN')).toMatchObject({ amount: '1500', amountPaid: '1500', currency: 'JPY' });
    expect(json.rows.find((x) => x.orderId === 'INV-REFUSED')?.refusalCode).toBe('149');
    expect(json.totals).toHaveLength(totals.size);
    for (const t of totals.values()) {
      expect(json.totals).toContainEqual({ status: t.status, currency: t.currency, count: t.count, amount: formatMinor(t.amount, t.currency), amountPaid: formatMinor(t.paid, t.currency) });
    }
    const csv = readFileSync(join(w.dir, 'month.reconcile.csv'), 'utf8');
    expect(csv.startsWith('\uFEFForderId;status;amount;currency;')).toBe(true);
    expect(csv).toContain('INV-PAID;PAID;120.00;EUR;URL;');
  });

  it('--only, a period by payment date, and JSON Lines', async () => {
    const today = new Date(T0).toISOString().slice(0, 10);
    const paid = await runCli(['reconcile', '--by', 'paid', '--since', today, '--until', today, '--only', 'paid', '--jsonl'], { env: w.env });
    expect(paid.code, paid.stderr).toBe(0);
    const lines = paid.stdout.trim().split('\n').map((l) => JSON.parse(l) as { orderId: string; status: string });
    expect(lines.map((l) => l.orderId).sort()).toEqual(['INV-LATE', 'INV-LOST-PAID', 'INV-PAID', 'INV-YEN']);
    const later = await runCli(['reconcile', '--since', new Date(T0 + 40 * DAY).toISOString().slice(0, 10), '--jsonl'], { env: w.env });
    expect(later.stdout).toBe('');
    const bad = await runCli(['reconcile', '--since', 'last month'], { env: w.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since last month: write a date \(2026-11-30\) or a date-time/);
    expect(bad.stderr).not.toMatch(/ at /);
  });

  it('--batch: the batch run printed gets its orders; a mistyped one is refused and the last export stays', async () => {
    const out = join(w.dir, 'batch.reconcile.csv');
    const batchId = (await w.entry('INV-PAID'))!.batchId!;
    const mine = await runCli(['reconcile', '--batch', batchId, '--out', out], { env: w.env });
    expect(mine.code, mine.stderr).toBe(0);
    const exported = readFileSync(out, 'utf8');
    expect(exported.trim().split('\n')).toHaveLength(1 + ids.length);
    // Known to this machine but with nothing under the filter: an empty export, not an error.
    const none = await runCli(['reconcile', '--batch', batchId, '--only', 'failed', '--jsonl'], { env: w.env });
    expect([none.code, none.stdout]).toEqual([0, '']);

    const typo = await runCli(['reconcile', '--batch', `${batchId}x`, '--out', out], { env: w.env });
    expect(typo.code).toBe(2);
    expect(typo.stderr.trim().split('\n')).toHaveLength(1);
    expect(typo.stderr).toMatch(new RegExp(`--batch ${batchId}x: no order in .* was sent by this batch.*Nothing was written`));
    expect(readFileSync(out, 'utf8')).toBe(exported);
  });
});

describe('paybatch resolve: a safe re-send only after the expiry, and only on request', () => {
  let w: World;
  let input: string;

  beforeAll(async () => {
    w = await makeWorld();
    input = w.file('lost.csv', ['orderId,amount,currency,channel', 'LOST-1,19.90,EUR,URL', ''].join('\n'));
    w.sandbox.faults.forOrder('LOST-1', 'reset-after-create', { service: 'Charge/CreatePaymentOrder' });
    const run = await runCli(['run', input, '--expires-in', '3d'], { env: w.env });
    expect(run.code, run.stderr).toBe(1);
  });
  afterAll(() => w.close());

  it('before the expiry: still uncertain, --resend-expired sends nothing', async () => {
    w.clock.now = T0 + 2 * DAY;
    w.sandbox.resetCounters();
    const r = await runCli(['resolve', input, '--resend-expired'], { env: w.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/LOST-1 {2}STILL_UNCERTAIN/);
    expect(w.sandbox.counters().requests['Charge/CreatePaymentOrder'] ?? 0).toBe(0);
    expect(w.sandbox.ordersByOrderId('LOST-1')).toHaveLength(1);

    // reconcile --resolve settles first, then exports: the row says from when a re-send is safe.
    const rec = await runCli(['reconcile', input, '--resolve', '--jsonl'], { env: w.env });
    expect(rec.code, rec.stderr).toBe(0);
    const expiry = new Date((await w.entry('LOST-1'))!.sent.expirationDate!).toISOString();
    expect(JSON.parse(rec.stdout)).toMatchObject({ orderId: 'LOST-1', status: 'UNCERTAIN', resolution: 'STILL_UNCERTAIN', safeToResendFrom: expiry, expiresAt: expiry });
  });

  it('after it: safe to re-send, said first, done on request through the normal sending path', async () => {
    w.clock.now = T0 + 4 * DAY;
    const told = await runCli(['resolve', input, '--json'], { env: w.env });
    expect(told.code, told.stderr).toBe(1);
    expect(JSON.parse(told.stdout).orders).toEqual([expect.objectContaining({ orderId: 'LOST-1', decision: 'SAFE_TO_RESEND', amount: '19.90 EUR' })]);
    expect(await w.entry('LOST-1')).toMatchObject({ state: 'UNCERTAIN', resolution: { decision: 'SAFE_TO_RESEND' } });
    expect(w.sandbox.ordersByOrderId('LOST-1')).toHaveLength(1);

    const r = await runCli(['resolve', input, '--resend-expired', '--expires-in', '30d'], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const orders = w.sandbox.ordersByOrderId('LOST-1');
    expect(orders.map((o) => o.order.paymentOrderStatus).sort()).toEqual(['EXPIRED', 'RUNNING']);
    const fresh = orders.find((o) => o.order.paymentOrderStatus === 'RUNNING')!;
    const entry = await w.entry('LOST-1');
    expect(entry).toMatchObject({ state: 'CREATED', paymentOrderId: fresh.order.paymentOrderId, attempts: 2 });
    expect(entry?.resolution).toBeUndefined();
    expect(readFileSync(join(w.dir, 'lost.resend.csv'), 'utf8')).toContain('LOST-1');
  });
});

describe('resolve and reconcile with the ledger in Redis', () => {
  let w: World;
  let redis: RedisServer;

  beforeAll(async () => {
    w = await makeWorld();
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
    await w.close();
  });

  it('records the decisions and the payment in the Redis ledger, and exports them', async () => {
    const conn = new Redis(redis.url);
    try {
      const ledger = new RedisLedger({ redis: conn, shopId: '69876357', mode: 'TEST' });
      const lostAnswer = async (orderId: string, create: boolean): Promise<string | undefined> => {
        const claim = await ledger.claim(orderId, { fingerprint: orderId, sent: { amountMinor: 2500, currency: 'EUR', channel: 'URL', recipient: '', expirationDate: inDays(3) }, retryUncertain: false });
        if (claim.kind !== 'claimed') throw new Error('not claimed');
        const order = create ? await w.client.createPaymentOrder({ orderId, amount: 2500, currency: 'EUR', expirationDate: inDays(3), channelOptions: { channelType: 'URL' } }) : undefined;
        await ledger.record(orderId, claim.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
        return order?.paymentOrderId;
      };
      const paidId = (await lostAnswer('R-PAID', true))!;
      await lostAnswer('R-NEVER', false);
      await w.sandbox.pay(paidId);
      w.clock.now = T0 + 4 * DAY;

      const r = await runCli(['resolve', '--redis', redis.url], { env: w.env });
      expect(r.code, r.stderr).toBe(1);
      expect(await ledger.get('R-PAID')).toMatchObject({ state: 'CREATED', paymentOrderId: paidId, paymentOrderStatus: 'PAID', resolution: { decision: 'FOUND' }, payment: { paid: { amountMinor: 2500 } } });
      expect(await ledger.get('R-NEVER')).toMatchObject({ state: 'UNCERTAIN', resolution: { decision: 'SAFE_TO_RESEND' } });

      const rec = await runCli(['reconcile', '--redis', redis.url, '--jsonl'], { env: w.env });
      expect(rec.code, rec.stderr).toBe(0);
      const rows = rec.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      // Sorted by send date.
      expect(rows).toEqual([
        expect.objectContaining({ orderId: 'R-PAID', status: 'PAID', amountPaid: '25.00', paymentOrderId: paidId }),
        expect.objectContaining({ orderId: 'R-NEVER', status: 'UNCERTAIN', resolution: 'SAFE_TO_RESEND', amount: '25.00' }),
      ]);
      expect(await w.entry('R-PAID')).toBeUndefined();
    } finally {
      conn.disconnect();
    }
  });
});
