import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInboxApplier, type InboxApplier } from '../../src/ipn/inbox-applier.js';
import { inboxPaths } from '../../src/ipn/inbox.js';
import { startIpnServer, type IpnServer } from '../../src/ipn/server.js';
import { openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log/logger.js';
import { verifyIpn } from '../../src/lyra/ipn.js';

const SHOP = '69876357';
const PASSWORD = 'testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M';
const POID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

function answer(o: { orderId: string; orderStatus: string; detailed: string; at: string; uuid?: string; email?: string }): string {
  return JSON.stringify({
    shopId: SHOP,
    orderCycle: 'CLOSED',
    orderStatus: o.orderStatus,
    serverDate: o.at,
    orderDetails: { orderTotalAmount: 4500, orderCurrency: 'EUR', mode: 'TEST', orderId: o.orderId, _type: 'V4/OrderDetails' },
    customer: { email: o.email ?? 'jeanne.martin@example.com', _type: 'V4/Customer/Customer' },
    transactions: [{ uuid: o.uuid ?? 'u1', amount: 4500, currency: 'EUR', status: o.orderStatus === 'PAID' ? 'PAID' : 'UNPAID', detailedStatus: o.detailed, operationType: 'DEBIT', creationDate: o.at, _type: 'V4/PaymentTransaction' }],
    _type: 'V4/Payment',
  });
}

function signedForm(krAnswer: string, key = PASSWORD): string {
  const hash = createHmac('sha256', key).update(krAnswer).digest('hex');
  return new URLSearchParams({ 'kr-hash': hash, 'kr-hash-algorithm': 'sha256_hmac', 'kr-hash-key': 'password', 'kr-answer-type': 'V4/Payment', 'kr-answer': krAnswer }).toString();
}

function post(url: string, body: string, type = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
}

describe('the IPN receiver records payments told by Lyra, and only those', () => {
  let dir: string;
  let server: IpnServer;
  let applier: InboxApplier;
  let logs: string;

  async function seedOrder(orderId: string): Promise<void> {
    const ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
    try {
      const claim = await ledger.claim(orderId, { fingerprint: 'f', sent: { amountMinor: 4500, currency: 'EUR', channel: 'URL', recipient: '' }, retryUncertain: false });
      if (claim.kind !== 'claimed') throw new Error('seed: not claimed');
      await ledger.record(orderId, claim.token, { state: 'CREATED', attempts: 1, paymentOrderId: POID, paymentURL: 'https://secure.example/t/abcd1234', paymentOrderStatus: 'RUNNING' });
    } finally {
      await ledger.close();
    }
  }

  async function ledgerEntry(orderId: string) {
    const ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
    try {
      return await ledger.get(orderId);
    } finally {
      await ledger.close();
    }
  }

  /** Resolves after the next drain that found something to apply. */
  function applied(): Promise<void> {
    return new Promise((resolve) => {
      const on = (r: { applied: number }) => {
        if (r.applied > 0) {
          applier.events.off('drained', on);
          resolve();
        }
      };
      applier.events.on('drained', on);
    });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paybatch-ipn-'));
    logs = '';
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => (logs += d.toString()));
    const logger = createLogger({ destination: sink, level: 'info' });
    applier = createInboxApplier({ stateDir: dir, shopId: SHOP, mode: 'TEST', openLedger: () => openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' }), logger, retryMs: 20, maxRetryMs: 50 });
    server = await startIpnServer({ verify: (f) => verifyIpn(f, { password: PASSWORD }), shopId: SHOP, mode: 'TEST', stateDir: dir, logger, onAccepted: () => applier.kick() });
  });

  afterEach(async () => {
    await server.close();
    await applier.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('given INV-1 sent and RUNNING, a signed "paid" notification answers 200 and the ledger says PAID', async () => {
    await seedOrder('INV-1');
    const done = applied();
    const res = await post(server.url, signedForm(answer({ orderId: 'INV-1', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:00:00+00:00' })));
    expect(res.status).toBe(200);
    await done;
    expect(await ledgerEntry('INV-1')).toMatchObject({ paymentOrderStatus: 'PAID', statusChangedAt: '2026-03-02T10:00:00.000Z' });
    // Neither the journal nor the log holds the buyer.
    expect(readFileSync(inboxPaths(dir, SHOP, 'TEST').journal, 'utf8')).not.toContain('jeanne');
    expect(logs).not.toContain('jeanne');
  });

  it('refuses a forged notification (401) and an unsigned one (400), logging why but not who', async () => {
    await seedOrder('INV-2');
    const forged = signedForm(answer({ orderId: 'INV-2', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:00:00+00:00' }), 'testpassword_GUESSED');
    expect((await post(server.url, forged)).status).toBe(401);
    const unsigned = new URLSearchParams({ 'kr-answer': answer({ orderId: 'INV-2', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:00:00+00:00' }) }).toString();
    expect((await post(server.url, unsigned)).status).toBe(400);
    // A re-serialised answer (spaces added) is not the signed string.
    const raw = answer({ orderId: 'INV-2', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:00:00+00:00' });
    const tampered = new URLSearchParams(signedForm(raw));
    tampered.set('kr-answer', JSON.stringify(JSON.parse(raw), null, 1));
    expect((await post(server.url, tampered.toString())).status).toBe(401);

    expect(logs).toContain('ipn.refused');
    expect(logs).not.toContain('jeanne');
    expect(logs).not.toContain(PASSWORD);
    expect((await ledgerEntry('INV-2'))?.paymentOrderStatus).toBe('RUNNING');
  });

  it('takes a re-delivered notification without a second journal line, and an older one arriving late does not undo a payment', async () => {
    await seedOrder('INV-3');
    const paid = signedForm(answer({ orderId: 'INV-3', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:05:00+00:00', uuid: 'u2' }));
    let done = applied();
    expect((await post(server.url, paid)).status).toBe(200);
    await done;
    expect((await post(server.url, paid)).status).toBe(200);
    done = applied();
    const refusedEarlier = signedForm(answer({ orderId: 'INV-3', orderStatus: 'UNPAID', detailed: 'REFUSED', at: '2026-03-02T10:00:00+00:00', uuid: 'u1' }));
    expect((await post(server.url, refusedEarlier)).status).toBe(200);
    await done;
    const lines = readFileSync(inboxPaths(dir, SHOP, 'TEST').journal, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(await ledgerEntry('INV-3')).toMatchObject({ paymentOrderStatus: 'PAID', statusChangedAt: '2026-03-02T10:05:00.000Z' });
  });

  it('a refused payment, then the buyer retries and pays: PAID', async () => {
    await seedOrder('INV-4');
    let done = applied();
    await post(server.url, signedForm(answer({ orderId: 'INV-4', orderStatus: 'UNPAID', detailed: 'REFUSED', at: '2026-03-02T10:00:00+00:00', uuid: 'u1' })));
    await done;
    expect((await ledgerEntry('INV-4'))?.paymentOrderStatus).toBe('REFUSED');
    done = applied();
    await post(server.url, signedForm(answer({ orderId: 'INV-4', orderStatus: 'PAID', detailed: 'CAPTURED', at: '2026-03-02T10:03:00+00:00', uuid: 'u2' })));
    await done;
    expect((await ledgerEntry('INV-4'))?.paymentOrderStatus).toBe('PAID');
  });

  it('answers at once while a run holds the ledger, and records the payment when the ledger is free', async () => {
    await seedOrder('INV-5');
    const held: Ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
    const busy = once(applier.events, 'busy');
    const res = await post(server.url, signedForm(answer({ orderId: 'INV-5', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T11:00:00+00:00' })));
    expect(res.status).toBe(200);
    await busy;
    const done = applied();
    await held.close();
    await done;
    expect((await ledgerEntry('INV-5'))?.paymentOrderStatus).toBe('PAID');
  });

  it('bounds what it reads: too large 413, not a form 415, not a POST 405', async () => {
    expect((await post(server.url, `kr-answer=${'x'.repeat(70 * 1024)}`)).status).toBe(413);
    expect((await post(server.url, '{"kr-answer":"{}"}', 'application/json')).status).toBe(415);
    expect((await fetch(server.url)).status).toBe(405);
    expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
  });

  it('acknowledges an authentic notification about an order it never sent, and records nothing', async () => {
    const done = new Promise<{ results: { kind: string }[] }>((r) => applier.events.once('drained', r));
    expect((await post(server.url, signedForm(answer({ orderId: 'NOT-OURS', orderStatus: 'PAID', detailed: 'AUTHORISED', at: '2026-03-02T10:00:00+00:00' })))).status).toBe(200);
    expect((await done).results).toEqual([{ kind: 'unknown-order', orderId: 'NOT-OURS' }]);
    expect(await ledgerEntry('NOT-OURS')).toBeUndefined();
  });
});
