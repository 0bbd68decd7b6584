import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisLedger } from '../../src/ledger/redis/redis-ledger.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { inDays, makeWorld, type World } from '../follow/world.js';

function csvRows(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

describe('paybatch status: which invoices are paid, which are still outstanding', () => {
  let w: World;
  let input: string;

  beforeAll(async () => {
    w = await makeWorld();
    const url = { channelOptions: { channelType: 'URL' as const } };
    const paid = await w.send({ orderId: 'INV-PAID', amount: 12000, currency: 'EUR', expirationDate: inDays(30), ...url });
    const refused = await w.send({ orderId: 'INV-REFUSED', amount: 5000, currency: 'EUR', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'INV-EXPIRES', amount: 700, currency: 'EUR', expirationDate: inDays(1), ...url });
    const cancelled = await w.send({ orderId: 'INV-CANCELLED', amount: 900, currency: 'EUR', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'INV-OPEN', amount: 4550, currency: 'EUR', expirationDate: inDays(30), ...url });
    await w.sandbox.pay(paid.paymentOrderId);
    await w.sandbox.pay(refused.paymentOrderId, { refuse: true });
    await w.client.cancelPaymentOrder(cancelled.paymentOrderId);
    w.clock.now += 2 * 86_400_000; // INV-EXPIRES is past its date
    input = w.file(
      'invoices.csv',
      ['invoice,amount,currency,channel', 'INV-PAID,120.00,EUR,URL', 'INV-REFUSED,50.00,EUR,URL', 'INV-EXPIRES,7.00,EUR,URL', 'INV-CANCELLED,9.00,EUR,URL', 'INV-OPEN,45.50,EUR,URL', 'INV-NEVER,1.00,EUR,URL', ''].join('\n'),
    );
  });
  afterAll(() => w.close());

  it('reads every sent order, writes the status report and the summary, and records it all in the ledger', async () => {
    w.sandbox.resetCounters();
    const r = await runCli(['status', input], { env: w.env });
    expect(r.stderr).toBe('');
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(input.replace(/\.csv$/, '.status.csv'));
    const by = Object.fromEntries(rows.map((x) => [x.orderId, x]));
    expect(by['INV-PAID']).toMatchObject({ result: 'OK', paymentOrderStatus: 'PAID', amount: '120.00', currency: 'EUR' });
    expect(by['INV-REFUSED']).toMatchObject({ result: 'OK', paymentOrderStatus: 'REFUSED' });
    expect(by['INV-EXPIRES']).toMatchObject({ result: 'OK', paymentOrderStatus: 'EXPIRED' });
    expect(by['INV-CANCELLED']).toMatchObject({ result: 'OK', paymentOrderStatus: 'CANCELLED' });
    expect(by['INV-OPEN']).toMatchObject({ result: 'OK', paymentOrderStatus: 'RUNNING', amount: '45.50' });
    expect(by['INV-NEVER']).toMatchObject({ result: 'NOT_SENT', paymentOrderStatus: '' });
    expect(rows.map((x) => x.orderId)).toEqual(['INV-PAID', 'INV-REFUSED', 'INV-EXPIRES', 'INV-CANCELLED', 'INV-OPEN', 'INV-NEVER']);
    expect(rows.every((x) => x.paymentURL !== '' || x.result === 'NOT_SENT')).toBe(true);
    expect(r.stdout).toContain('EUR: paid 120.00, outstanding 45.50');
    expect(r.stdout).toMatch(/PAID\s+1\s+120\.00 EUR/);
    expect(w.sandbox.counters().requests['Charge/PaymentOrder/Get']).toBe(5);

    expect(await w.entry('INV-PAID')).toMatchObject({ paymentOrderStatus: 'PAID' });
    expect(await w.entry('INV-EXPIRES')).toMatchObject({ paymentOrderStatus: 'EXPIRED' });
  });

  it('run again, it reads only the orders that can still change (RUNNING, REFUSED)', async () => {
    w.sandbox.resetCounters();
    const out = `${w.dir}/second.csv`;
    const r = await runCli(['status', input, '--out', out], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(w.sandbox.counters().requests['Charge/PaymentOrder/Get']).toBe(2);
    expect(csvRows(out).map((x) => x.paymentOrderStatus)).toEqual(['PAID', 'REFUSED', 'EXPIRED', 'CANCELLED', 'RUNNING', '']);
  });

  it('--offline reports what the ledger knows without a single API call', async () => {
    w.sandbox.resetCounters();
    const out = `${w.dir}/offline.csv`;
    const r = await runCli(['status', input, '--offline', '--out', out], { env: { ...w.env, PAYBATCH_API_URL: 'http://127.0.0.1:9' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('offline');
    const by = Object.fromEntries(csvRows(out).map((x) => [x.orderId, x]));
    expect(by['INV-PAID']?.paymentOrderStatus).toBe('PAID');
    expect(by['INV-CANCELLED']?.paymentOrderStatus).toBe('CANCELLED');
    expect(w.sandbox.counters().totalRequests).toBe(0);
  });

  it('accepts the run report as FILE: its extra columns do not disturb the orderId column', async () => {
    const report = w.file(
      'invoices.report.csv',
      [
        'invoice,amount,currency,channel,status,paymentOrderId,paymentURL,paymentOrderStatus,errorCode,errorMessage,detailedErrorCode,attempts,sentOrderId,sentAmountMinor,sentCurrency,sentChannel,sentRecipient,sentExpirationDate,note',
        'INV-PAID,120.00,EUR,URL,CREATED,,,RUNNING,,,,1,INV-PAID,12000,EUR,URL,,,',
        'INV-OPEN,45.50,EUR,URL,CREATED,,,RUNNING,,,,1,INV-OPEN,4550,EUR,URL,,,',
        '',
      ].join('\n'),
    );
    const r = await runCli(['status', report, '--offline'], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const rows = csvRows(`${w.dir}/invoices.status.csv`);
    expect(rows.map((x) => [x.orderId, x.paymentOrderStatus])).toEqual([
      ['INV-PAID', 'PAID'],
      ['INV-OPEN', 'RUNNING'],
    ]);
  });

  it('--only narrows to the named invoices, and refuses one that is not in the file', async () => {
    const out = `${w.dir}/only.csv`;
    const ok = await runCli(['status', input, '--only', 'INV-OPEN', '--out', out], { env: w.env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(csvRows(out).map((x) => x.orderId)).toEqual(['INV-OPEN']);
    const bad = await runCli(['status', input, '--only', 'INV-NOPE'], { env: w.env });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/--only INV-NOPE: not in/);
  });

  it('stops at once on bad credentials (exit 3) and never shows the password', async () => {
    const r = await runCli(['status', input, '--out', `${w.dir}/auth.csv`], { env: { ...w.env, PAYBATCH_PASSWORD: 'testpassword_WRONGWRONG' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/authentication failed/);
    expect(r.stderr + r.stdout).not.toContain('WRONGWRONG');
    expect(csvRows(`${w.dir}/auth.csv`).some((x) => x.result === 'PENDING' || x.result === 'FAILED')).toBe(true);
  });
});

describe('paybatch status in queue mode: the ledger is in Redis', () => {
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

  it('reads the orders the Redis ledger holds and records their status there', async () => {
    const conn = new Redis(redis.url);
    try {
      const ledger = new RedisLedger({ redis: conn, shopId: '69876357', mode: 'TEST' });
      const req = { orderId: 'Q-1', amount: 2500, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' as const } };
      const claim = await ledger.claim('Q-1', { fingerprint: 'q1', sent: { amountMinor: 2500, currency: 'EUR', channel: 'URL', recipient: '' }, retryUncertain: false });
      if (claim.kind !== 'claimed') throw new Error('not claimed');
      const order = await w.client.createPaymentOrder(req);
      await ledger.record('Q-1', claim.token, { state: 'CREATED', attempts: 1, paymentOrderId: order.paymentOrderId, paymentURL: order.paymentURL, paymentOrderStatus: 'RUNNING' });
      await w.sandbox.pay(order.paymentOrderId);

      const file = w.file('queued.csv', 'orderId,amount\nQ-1,25.00\n');
      const r = await runCli(['status', file, '--redis', redis.url], { env: w.env });
      expect(r.code, r.stderr).toBe(0);
      expect(csvRows(`${w.dir}/queued.status.csv`)).toEqual([expect.objectContaining({ orderId: 'Q-1', result: 'OK', paymentOrderStatus: 'PAID' })]);
      expect(await ledger.get('Q-1')).toMatchObject({ paymentOrderStatus: 'PAID' });
      // Nothing went to a file ledger.
      expect(await w.entry('Q-1')).toBeUndefined();
    } finally {
      conn.disconnect();
    }
  });
});

describe('paybatch status | head', () => {
  let w: World;

  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(() => w.close());

  it('a reader that stops early gets no EPIPE stack trace: the report is written, the exit code is the command\'s', async () => {
    const url = { channelOptions: { channelType: 'URL' as const } };
    const lines = ['orderId,amount,currency,channel'];
    for (let i = 1; i <= 30; i++) {
      const orderId = `PIPE-${i}`;
      await w.send({ orderId, amount: 1000 + i, currency: 'EUR', expirationDate: inDays(30), ...url });
      lines.push(`${orderId},${(1000 + i) / 100},EUR,URL`);
    }
    const input = w.file('piped.csv', `${lines.join('\n')}\n`);
    for (let round = 0; round < 3; round++) {
      const child = spawnCli(['status', input, '--offline'], { env: w.env });
      child.stdin!.end();
      // `head -0`: the reading end is closed before the command prints anything.
      child.stdout!.destroy();
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((r) => child.on('close', r));
      expect(stderr).not.toMatch(/EPIPE|Error/);
      expect(code).toBe(0);
      expect(csvRows(`${w.dir}/piped.status.csv`)).toHaveLength(30);
    }
  });
});

describe('status, update and cancel take --json, --job and - (standard input)', () => {
  let w: World;
  const csv = ['invoice,amount,currency,channel', 'J-1,12.50,EUR,URL', 'J-2,30.00,EUR,URL', ''].join('\n');

  beforeAll(async () => {
    w = await makeWorld();
    const url = { channelOptions: { channelType: 'URL' as const } };
    await w.send({ orderId: 'J-1', amount: 1250, currency: 'EUR', expirationDate: inDays(30), ...url });
    await w.send({ orderId: 'J-2', amount: 3000, currency: 'EUR', expirationDate: inDays(30), ...url });
  });
  afterAll(() => w.close());

  it('status - --json reads the file from standard input and prints the summary as JSON, amounts as money', async () => {
    const r = await runCli(['status', '-', '--json'], { env: w.env, cwd: w.dir, input: csv });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ file: '/dev/stdin', report: join(w.dir, 'stdin.status.csv'), rows: 2, outstanding: { EUR: '42.50' }, exitCode: 0 });
    expect(csvRows(join(w.dir, 'stdin.status.csv')).map((x) => x.orderId)).toEqual(['J-1', 'J-2']);
  });

  it('--job: the job file of the run names the file; its run-only keys (out, currency …) are not taken', async () => {
    w.file('monthly.csv', csv);
    const runReport = w.file('monthly.report.csv', 'kept as it was\n');
    const job = w.file('monthly.json', JSON.stringify({ file: 'monthly.csv', out: 'monthly.report.csv', currency: 'EUR', channel: 'URL', 'expires-in': '30d', rate: 5 }));
    const status = await runCli(['status', '--job', job, '--json'], { env: w.env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ report: join(w.dir, 'monthly.status.csv'), rows: 2 });
    expect(readFileSync(runReport, 'utf8')).toBe('kept as it was\n');

    const update = await runCli(['update', '--job', job, '--dry-run', '--json'], { env: w.env });
    expect(update.code, update.stderr).toBe(0);
    // The job's expires-in is a default for new orders, not a new expiry for these: nothing would change.
    expect(JSON.parse(update.stdout)).toMatchObject({ dryRun: true, orders: 2, results: { UNCHANGED: 2 } });

    const cancel = await runCli(['cancel', '--job', job, '--dry-run', '--json'], { env: w.env });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ file: join(w.dir, 'monthly.csv'), dryRun: true, orders: 2, results: { WOULD: 2 } });
    expect(readFileSync(runReport, 'utf8')).toBe('kept as it was\n');
  });
});
