import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger, PaymentDetails } from '../../src/ledger/ledger.js';
import { openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';
import { RedisLedger } from '../../src/ledger/redis/redis-ledger.js';
import { startRedis, type RedisServer } from '../support/redis.js';

// The evidence `resolve` and the IPN receiver record, kept the same way by both ledgers of record.

const sent = { amountMinor: 1990, currency: 'EUR', channel: 'URL' as const, recipient: '' };
const refused: PaymentDetails = { source: 'IPN', at: '2026-11-02T10:00:00.000Z', transactionUuid: 'a'.repeat(32), detailedStatus: 'REFUSED', refused: { at: '2026-11-02T10:00:00.000Z', errorCode: '149' }, attempts: 1 };
const paid: PaymentDetails = { source: 'Order/Get', at: '2026-11-03T10:00:00.000Z', transactionUuid: 'b'.repeat(32), detailedStatus: 'AUTHORISED', method: 'CARD', paid: { amountMinor: 1990, currency: 'EUR', at: '2026-11-03T10:00:00.000Z', transactionUuid: 'b'.repeat(32) }, attempts: 2 };

async function uncertain(l: Ledger, orderId: string): Promise<void> {
  const c = await l.claim(orderId, { fingerprint: 'f', sent, retryUncertain: false });
  if (c.kind !== 'claimed') throw new Error('not claimed');
  await l.record(orderId, c.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
}

function story(open: () => Promise<Ledger>): void {
  it('entries(filter): a period of the first send and a batch, the same on both ledgers', async () => {
    const l = await open();
    const at = (d: string) => `2026-${d}T12:00:00.000Z`;
    const entry = (orderId: string, firstSentAt: string, batchId: string) => ({ orderId, state: 'CREATED' as const, attempts: 1, fingerprint: 'f', sent, batchId, firstSentAt, updatedAt: firstSentAt });
    await l.merge([entry('P-OCT', at('10-31'), 'B1'), entry('P-NOV1', at('11-01'), 'B1'), entry('P-NOV30', at('11-30'), 'B2'), entry('P-DEC', at('12-01'), 'B2')]);
    const ids = async (f: Parameters<Ledger['entries']>[0]) => {
      const out: string[] = [];
      for await (const e of l.entries(f)) if (e.orderId.startsWith('P-')) out.push(e.orderId);
      return out.sort();
    };
    expect(await ids({ sentFrom: '2026-11-01T00:00:00.000Z', sentBefore: '2026-12-01T00:00:00.000Z' })).toEqual(['P-NOV1', 'P-NOV30']);
    expect(await ids({ sentFrom: '2026-11-01T12:00:00.000Z' })).toEqual(['P-DEC', 'P-NOV1', 'P-NOV30']);
    expect(await ids({ batchId: 'B2', sentBefore: '2026-12-01T12:00:00.000Z' })).toEqual(['P-NOV30']);
    expect(await ids(undefined)).toEqual(['P-DEC', 'P-NOV1', 'P-NOV30', 'P-OCT']);
    await l.close();
  });

  it('a transaction proves the order exists: UNCERTAIN becomes CREATED, and a late older notification never hides the payment', async () => {
    const l = await open();
    await uncertain(l, 'E-1');
    await l.observe('E-1', { payment: paid, exists: true, paymentOrderStatus: 'PAID', resolution: { decision: 'FOUND', at: paid.at, evidence: 'Order/Get lists 2 transactions' }, at: paid.at });
    await l.observe('E-1', { payment: refused, exists: true, at: refused.at });
    const e = await l.get('E-1');
    expect(e).toMatchObject({ state: 'CREATED', paymentOrderStatus: 'PAID', payment: { transactionUuid: 'b'.repeat(32), paid: paid.paid, refused: refused.refused, attempts: 2 }, resolution: { decision: 'FOUND' } });
    expect(e?.errorCode).toBeUndefined();
    // Never sent again, even when the operator allows UNCERTAIN re-sends.
    expect((await l.claim('E-1', { fingerprint: 'f', sent, retryUncertain: true })).kind).toBe('refused');
    await l.close();
  });

  it('a re-send after "safe to re-send" starts a new order: the old decision and evidence go', async () => {
    const l = await open();
    await uncertain(l, 'E-2');
    await l.observe('E-2', { resolution: { decision: 'SAFE_TO_RESEND', at: '2026-12-01T00:00:00.000Z', evidence: 'expired unseen', safeFrom: '2026-11-30T00:00:00.000Z' }, at: '2026-12-01T00:00:00.000Z' });
    expect(await l.get('E-2')).toMatchObject({ state: 'UNCERTAIN', resolution: { decision: 'SAFE_TO_RESEND' } });
    const c = await l.claim('E-2', { fingerprint: 'g', sent, retryUncertain: true });
    if (c.kind !== 'claimed') throw new Error('not claimed');
    await l.record('E-2', c.token, { state: 'CREATED', attempts: 1, paymentOrderId: 'c'.repeat(32), paymentURL: 'https://x/t/1', paymentOrderStatus: 'RUNNING' });
    const e = await l.get('E-2');
    expect(e).toMatchObject({ state: 'CREATED', attempts: 2, paymentOrderId: 'c'.repeat(32) });
    expect(e?.resolution).toBeUndefined();
    expect(e?.payment).toBeUndefined();
    await l.close();
  });
}

describe('the local ledger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paybatch-evidence-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  story(() => openSqliteLedger({ dir, shopId: '1', mode: 'TEST' }));
});

describe('the Redis ledger', () => {
  let redis: RedisServer;
  const conns: Redis[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await redis.stop();
  });
  story(async () => {
    const c = new Redis(redis.url);
    conns.push(c);
    return new RedisLedger({ redis: c, shopId: '1', mode: 'TEST' });
  });
});
