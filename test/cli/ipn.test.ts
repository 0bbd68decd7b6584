import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxPaths } from '../../src/ipn/inbox.js';
import { signIpn } from '../../src/lyra/ipn.js';
import { runCli, spawnCli } from '../support/cli.js';
import { inDays, makeWorld, waitForLine, type World } from '../follow/world.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';

function post(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

describe('paybatch ipn: the sandbox buyer pays, the receiver records it', () => {
  let w: World;
  let receiver: ChildProcess;
  let url: string;
  let stderr = '';

  beforeAll(async () => {
    w = await makeWorld();
    receiver = spawnCli(['ipn', '--port', '0'], { env: w.env });
    receiver.stdin!.end();
    receiver.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const line = await waitForLine(receiver, 'stdout', /listening on/);
    url = /listening on (\S+)/.exec(line)![1]!;
  });
  afterAll(async () => {
    if (receiver.exitCode === null) {
      receiver.kill('SIGKILL');
      await once(receiver, 'exit');
    }
    await w.close();
  });

  it('a paid order is PAID in the ledger; a re-delivery changes nothing', async () => {
    const order = await w.send({ orderId: 'INV-IPN-1', amount: 4500, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' }, ipnTargetUrl: url });
    const recorded = waitForLine(receiver, 'stderr', /"event":"ipn.recorded".*INV-IPN-1/);
    const paid = await w.sandbox.pay(order.paymentOrderId);
    expect(paid.ipn).toMatchObject({ delivered: true, last: 200 });
    await recorded;
    const entry = await w.entry('INV-IPN-1');
    expect(entry).toMatchObject({ paymentOrderStatus: 'PAID', paymentOrderId: order.paymentOrderId });

    // Lyra re-sends the very same notification (automatic retry, or by hand from the Back Office).
    const again = await post(url, paid.ipn!.fields);
    expect(again.status).toBe(200);
    expect(await w.entry('INV-IPN-1')).toEqual(entry);
    const journal = readFileSync(inboxPaths(w.stateDir, '69876357', 'TEST').journal, 'utf8').trim().split('\n');
    expect(journal).toHaveLength(1);
  });

  it('refuses a forged notification (401) and logs it without any personal data', async () => {
    const order = await w.send({ orderId: 'INV-IPN-2', amount: 990, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'paul.durand@example.com' } } });
    const answer = JSON.stringify({
      shopId: '69876357',
      orderStatus: 'PAID',
      serverDate: new Date(w.clock.now).toISOString(),
      orderDetails: { mode: 'TEST', orderId: 'INV-IPN-2', paymentOrderId: order.paymentOrderId },
      customer: { email: 'paul.durand@example.com' },
      transactions: [{ uuid: 'f'.repeat(32), status: 'PAID', detailedStatus: 'AUTHORISED', creationDate: new Date(w.clock.now).toISOString() }],
    });
    const refused = waitForLine(receiver, 'stderr', /ipn.refused/);
    const res = await post(url, { 'kr-hash': signIpn(answer, 'testpassword_NOTTHEKEY'), 'kr-hash-algorithm': 'sha256_hmac', 'kr-hash-key': 'password', 'kr-answer-type': 'V4/Payment', 'kr-answer': answer });
    expect(res.status).toBe(401);
    const line = await refused;
    expect(line).toMatch(/bad signature/);
    expect(stderr).not.toContain('paul.durand');
    const unsigned = await post(url, { 'kr-answer': answer });
    expect(unsigned.status).toBe(400);
    expect((await w.entry('INV-IPN-2'))?.paymentOrderStatus).toBe('RUNNING');
  });

  it('answers 200 while a run holds the ledger, and records the refusal once the ledger is free', async () => {
    const order = await w.send({ orderId: 'INV-IPN-3', amount: 1200, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' }, ipnTargetUrl: url });
    const recorded = waitForLine(receiver, 'stderr', /"event":"ipn.recorded".*INV-IPN-3/);
    await w.withLedger(async () => {
      const busy = waitForLine(receiver, 'stderr', /ipn.ledger_busy/);
      const r = await w.sandbox.pay(order.paymentOrderId, { refuse: true });
      expect(r.ipn).toMatchObject({ delivered: true, last: 200 });
      await busy;
    });
    await recorded;
    expect((await w.entry('INV-IPN-3'))?.paymentOrderStatus).toBe('REFUSED');
  });

  it('stops cleanly on SIGTERM', async () => {
    receiver.kill('SIGTERM');
    const [code] = await once(receiver, 'exit');
    expect(code).toBe(0);
  });
});

describe('a payment journalled by the receiver is never lost, even if the receiver dies before applying it', () => {
  let w: World;

  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(() => w.close());

  it('status applies the receiver journal when it opens the ledger', async () => {
    const receiver = spawnCli(['ipn', '--port', '0'], { env: w.env });
    receiver.stdin!.end();
    const url = /listening on (\S+)/.exec(await waitForLine(receiver, 'stdout', /listening on/))![1]!;
    const order = await w.send({ orderId: 'INV-J-1', amount: 6000, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' }, ipnTargetUrl: url });
    await w.withLedger(async () => {
      // A run holds the ledger: the receiver journals the payment, answers 200, and cannot apply it yet.
      const busy = waitForLine(receiver, 'stderr', /ipn.ledger_busy/);
      const paid = await w.sandbox.pay(order.paymentOrderId);
      expect(paid.ipn).toMatchObject({ delivered: true, last: 200 });
      await busy;
      receiver.kill('SIGKILL');
      await once(receiver, 'exit');
    });
    expect((await w.entry('INV-J-1'))?.paymentOrderStatus).toBe('RUNNING');

    const file = w.file('j.csv', 'orderId,amount\nINV-J-1,60.00\n');
    const r = await runCli(['status', file, '--offline'], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 payment notification\(s\) received by paybatch ipn applied/);
    expect(r.stdout).toContain('EUR: paid 60.00, outstanding 0.00');
    expect((await w.entry('INV-J-1'))?.paymentOrderStatus).toBe('PAID');
  });
});

describe('what the receiver keeps across a restart, and what it never records', () => {
  let w: World;

  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(() => w.close());

  async function startReceiver(): Promise<{ receiver: ChildProcess; url: string; stderr: () => string }> {
    const receiver = spawnCli(['ipn', '--port', '0'], { env: w.env });
    receiver.stdin!.end();
    let stderr = '';
    receiver.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = /listening on (\S+)/.exec(await waitForLine(receiver, 'stdout', /listening on/))![1]!;
    return { receiver, url, stderr: () => stderr };
  }
  async function stop(receiver: ChildProcess): Promise<void> {
    receiver.kill('SIGTERM');
    await once(receiver, 'exit');
  }
  const journalLines = (): string[] => {
    try {
      return readFileSync(inboxPaths(w.stateDir, DEMO_SHOP_ID, 'TEST').journal, 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  it('a notification re-delivered after the receiver restarted is not journalled again', async () => {
    const first = await startReceiver();
    const order = await w.send({ orderId: 'INV-RST-1', amount: 2500, currency: 'EUR', expirationDate: inDays(30), channelOptions: { channelType: 'URL' }, ipnTargetUrl: first.url });
    const recorded = waitForLine(first.receiver, 'stderr', /"event":"ipn.recorded".*INV-RST-1/);
    const paid = await w.sandbox.pay(order.paymentOrderId);
    await recorded;
    await stop(first.receiver);
    expect(journalLines()).toHaveLength(1);

    const second = await startReceiver();
    const duplicate = waitForLine(second.receiver, 'stderr', /ipn.duplicate/);
    const again = await post(second.url, paid.ipn!.fields);
    expect(again.status).toBe(200);
    await duplicate;
    await stop(second.receiver);
    expect(journalLines()).toHaveLength(1);
    expect((await w.entry('INV-RST-1'))?.paymentOrderStatus).toBe('PAID');
  });

  it('an authentic notification for an order this ledger never sent: 200, logged, nothing journalled or recorded', async () => {
    const { receiver, url, stderr } = await startReceiver();
    const before = journalLines().length;
    const at = new Date(w.clock.now).toISOString();
    const answer = JSON.stringify({
      shopId: DEMO_SHOP_ID,
      orderStatus: 'PAID',
      serverDate: at,
      orderDetails: { mode: 'TEST', orderId: 'NOT-OURS-1', paymentOrderId: 'a'.repeat(32) },
      transactions: [{ uuid: 'e'.repeat(32), status: 'PAID', detailedStatus: 'AUTHORISED', creationDate: at }],
    });
    const logged = waitForLine(receiver, 'stderr', /ipn.unknown_order.*NOT-OURS-1/);
    const res = await post(url, { 'kr-hash': signIpn(answer, DEMO_TEST_PASSWORD), 'kr-hash-algorithm': 'sha256_hmac', 'kr-hash-key': 'password', 'kr-answer-type': 'V4/Payment', 'kr-answer': answer });
    expect(res.status).toBe(200);
    await logged;
    await stop(receiver);
    expect(journalLines()).toHaveLength(before);
    expect(journalLines().join('\n')).not.toContain('NOT-OURS-1');
    expect(await w.entry('NOT-OURS-1')).toBeUndefined();
    expect(stderr()).not.toContain('ipn.accepted');
  });
});
