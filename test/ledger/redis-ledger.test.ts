import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimRequest } from '../../src/ledger/ledger.js';
import { BatchStoppedError, openRedisLedger, redisLedgerKeys, type RedisLedger } from '../../src/ledger/redis/redis-ledger.js';
import { RedisScript } from '../../src/ledger/redis/redis-script.js';
import { BATCH_TTL_SECONDS, markDone } from '../../src/engine/queue/batch.js';
import { queueKeys } from '../../src/engine/queue/keys.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  removeDir(server.dir);
});

/** A clock the test moves by hand. */
function clock(start = Date.parse('2026-11-22T06:00:00Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

function ledgerFor(opts: { now?: () => Date; claimLeaseMs?: number } = {}): Promise<RedisLedger> {
  return openRedisLedger({ redis, shopId: '69876357', mode: 'TEST', prefix: `t-${randomUUID()}`, ...opts });
}

const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  fingerprint: 'fp-1',
  sent: { amountMinor: 12345, currency: 'EUR', channel: 'MAIL', recipient: 'ana@example.com' },
  batchId: 'b1',
  retryUncertain: false,
  ...over,
});

describe('the Redis ledger guards every invoice like the file ledger', () => {
  it('claims a new order, marks it SENDING, and records the platform answer', async () => {
    const ledger = await ledgerFor();
    const c = await ledger.claim('INV-1', req());
    expect(c.kind).toBe('claimed');
    expect((await ledger.get('INV-1'))?.state).toBe('SENDING');
    if (c.kind !== 'claimed') return;
    const ok = await ledger.record('INV-1', c.token, {
      state: 'CREATED',
      attempts: 1,
      paymentOrderId: 'a'.repeat(32),
      paymentURL: 'https://secure.example/t/abc',
      paymentOrderStatus: 'RUNNING',
    });
    expect(ok).toBe(true);
    const e = await ledger.get('INV-1');
    expect(e).toMatchObject({ orderId: 'INV-1', state: 'CREATED', attempts: 1, fingerprint: 'fp-1', batchId: 'b1', paymentOrderStatus: 'RUNNING' });
    expect(e?.sent).toEqual({ amountMinor: 12345, currency: 'EUR', channel: 'MAIL', recipient: 'ana@example.com' });
    expect(await ledger.claim('INV-1', req({ retryUncertain: true }))).toMatchObject({ kind: 'refused', entry: { state: 'CREATED' } });
  });

  it('a queue worker\'s record marks the row done for its batch in the same step; a record refused marks nothing', async () => {
    const ledger = await ledgerFor();
    const base = `t-${randomUUID()}`;
    const done = { set: `${base}:done`, tick: `${base}:tick`, ttlSeconds: 60 };
    const created = { state: 'CREATED' as const, attempts: 1, paymentOrderId: 'b'.repeat(32), paymentURL: 'https://secure.example/t/d', paymentOrderStatus: 'RUNNING' as const };
    const c = await ledger.claim('INV-D', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    // A stale token (someone else's claim) records nothing and marks nothing.
    expect(await ledger.record('INV-D', 'not-the-token', created, undefined, done)).toBe(false);
    expect(await redis.sismember(done.set, 'INV-D')).toBe(0);
    expect(await ledger.record('INV-D', c.token, created, undefined, done)).toBe(true);
    expect((await ledger.get('INV-D'))?.state).toBe('CREATED');
    expect(await ledger.claims(['INV-D'])).toEqual([undefined]);
    expect(await redis.sismember(done.set, 'INV-D')).toBe(1);
    expect(await redis.ttl(done.set)).toBeGreaterThan(0);
    expect(await redis.lrange(done.tick, 0, -1)).toEqual(['1']);
  });

  it('onQueued comes as soon as the record is sent, before its answer: what is sent from it runs after the record', async () => {
    const prefix = `t-${randomUUID()}`;
    const ledger = await openRedisLedger({ redis, shopId: '69876357', mode: 'TEST', prefix });
    const claimsKey = redisLedgerKeys(prefix, '69876357', 'TEST').claims;
    const a = await ledger.claim('INV-Q1', req());
    if (a.kind !== 'claimed') throw new Error('not claimed');
    const created = { state: 'CREATED' as const, attempts: 1, paymentOrderId: 'c'.repeat(32), paymentURL: 'https://secure.example/t/q', paymentOrderStatus: 'RUNNING' as const };
    let sending = true;
    let calledWhileSending: boolean | undefined;
    let openBefore: Promise<number> | undefined;
    let next: Promise<unknown> | undefined;
    const ok = ledger.record('INV-Q1', a.token, created, () => {
      calledWhileSending = sending;
      // Sent on the same connection after the record: Redis has run it, so the claim on INV-Q1 is closed.
      openBefore = redis.hlen(claimsKey);
      next = ledger.claim('INV-Q2', req());
    });
    sending = false;
    expect(await ok).toBe(true);
    // Called in the call itself, as the command went out, not once Redis answered.
    expect(calledWhileSending).toBe(true);
    expect(await openBefore).toBe(0);
    expect(await next).toMatchObject({ kind: 'claimed' });
    expect(await redis.hkeys(claimsKey)).toEqual(['INV-Q2']);
  });

  it('a record resent after a reconnect, which Redis had already run, still reads as recorded; another record does not', async () => {
    const t = clock();
    const ledger = await ledgerFor({ now: t.now });
    const base = `t-${randomUUID()}`;
    const done = { set: `${base}:done`, tick: `${base}:tick`, ttlSeconds: 60 };
    const created = { state: 'CREATED' as const, attempts: 1, paymentOrderId: 'd'.repeat(32), paymentURL: 'https://secure.example/t/rs', paymentOrderStatus: 'RUNNING' as const };
    const c = await ledger.claim('INV-RS', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    expect(await ledger.record('INV-RS', c.token, created, undefined, done)).toBe(true);
    await redis.srem(done.set, 'INV-RS');
    // The same command again (same call, same stamp): what ioredis resends when the answer was lost with the connection.
    expect(await ledger.record('INV-RS', c.token, created, undefined, done)).toBe(true);
    expect(await redis.sismember(done.set, 'INV-RS')).toBe(1);
    expect(await ledger.get('INV-RS')).toMatchObject({ state: 'CREATED', attempts: 1 });
    // A later record of this order (another call, another moment) finds no claim of its own: refused, nothing changed.
    t.advance(1);
    expect(await ledger.record('INV-RS', c.token, { state: 'FAILED', attempts: 1, errorCode: 'PSP_099', errorMessage: 'x' })).toBe(false);
    expect(await ledger.record('INV-RS', c.token, created)).toBe(false);
    expect(await ledger.get('INV-RS')).toMatchObject({ state: 'CREATED', attempts: 1, paymentOrderId: 'd'.repeat(32) });
  });

  it('a claim in a batch that was stopped is refused in the same step, and leaves nothing behind', async () => {
    const ledger = await ledgerFor();
    const batchKey = `t-${randomUUID()}:batch`;
    await redis.hset(batchKey, 'state', JSON.stringify('enqueued'));
    expect((await ledger.claim('INV-S1', req(), { batchKey })).kind).toBe('claimed');
    await redis.hset(batchKey, 'state', JSON.stringify('stopped'));
    await expect(ledger.claim('INV-S2', req(), { batchKey })).rejects.toBeInstanceOf(BatchStoppedError);
    expect(await ledger.get('INV-S2')).toBeUndefined();
    expect(await ledger.claims(['INV-S2'])).toEqual([undefined]);
  });

  it('a claim resent with its own token (after a reconnect) is the same claim; another token is still refused', async () => {
    const prefix = `t-${randomUUID()}`;
    const keys = [`${prefix}:ledger:{69876357:TEST}:entries`, `${prefix}:ledger:{69876357:TEST}:claims`];
    const entry = JSON.stringify({ orderId: 'INV-R', state: 'SENDING', attempts: 0, fingerprint: 'fp-1', firstSentAt: '2026-11-22T06:00:00.000Z', updatedAt: '2026-11-22T06:00:00.000Z' });
    const claim = RedisScript.load(new URL('../../src/ledger/redis/scripts/claim.lua', import.meta.url));
    const args = (token: string) => ['INV-R', entry, token, Date.parse('2026-11-22T06:00:00Z'), 60_000, '0'];
    expect(await claim.run(redis, keys, args('tok-1'))).toEqual(['claimed', null]);
    expect(await claim.run(redis, keys, args('tok-1'))).toEqual(['claimed', null]);
    expect(await claim.run(redis, keys, args('tok-2'))).toEqual(['refused', expect.stringContaining('"SENDING"')]);
    // The resent claim's owner still records: it is the one claim.
    const ledger = await openRedisLedger({ redis, shopId: '69876357', mode: 'TEST', prefix });
    expect(await ledger.record('INV-R', 'tok-1', { state: 'CREATED', attempts: 1, paymentOrderId: 'b'.repeat(32), paymentURL: 'https://secure.example/t/r', paymentOrderStatus: 'RUNNING' })).toBe(true);
    expect((await ledger.get('INV-R'))?.state).toBe('CREATED');
  });

  it('a step riding along a claim runs in the same call only if the order is claimed; along a record, always', async () => {
    const ledger = await ledgerFor();
    const counter = `t-${randomUUID()}:along`;
    const along = { body: `redis.call('INCR', KEYS[1])\nreturn tonumber(ARGV[1])`, keys: [counter], args: [7] };
    const batchKey = `t-${randomUUID()}:batch`;
    const first = await ledger.claimAlong('INV-A', req(), { batchKey, along });
    expect(first).toMatchObject({ result: { kind: 'claimed' }, alongAnswer: 7 });
    expect(await ledger.claimAlong('INV-A', req(), { batchKey, along })).toEqual({ result: { kind: 'refused', entry: expect.objectContaining({ state: 'SENDING' }) } });
    expect(await redis.get(counter)).toBe('1');
    // Without the keys the ledger scripts may read (batch, done set), the step runs on its own call: same effect.
    expect(await ledger.claimAlong('INV-B', req(), { along })).toMatchObject({ result: { kind: 'claimed' }, alongAnswer: 7 });
    expect(await redis.get(counter)).toBe('2');
    if (first.result.kind !== 'claimed') return;
    const done = { set: `t-${randomUUID()}:done`, tick: `t-${randomUUID()}:tick`, ttlSeconds: 60 };
    const created = { state: 'CREATED' as const, attempts: 1, paymentOrderId: 'c'.repeat(32), paymentURL: 'https://secure.example/t/a', paymentOrderStatus: 'RUNNING' as const };
    expect(await ledger.record('INV-A', 'not-the-token', created, undefined, done, along)).toBe(false);
    expect(await ledger.record('INV-A', first.result.token, created, undefined, done, along)).toBe(true);
    expect(await redis.get(counter)).toBe('4');
    expect(await redis.sismember(done.set, 'INV-A')).toBe(1);
    expect((await ledger.get('INV-A'))?.state).toBe('CREATED');
  });

  it("a record that ends a queue job marks the row done for its batch just as the queue's own markDone does", async () => {
    // record.lua carries a copy of engine/queue/scripts/mark-done.lua's lines: the two must leave the same traces.
    const ledger = await ledgerFor();
    const scope = { shopId: '69876357', mode: 'TEST' as const, prefix: `t-${randomUUID()}` };
    const k = queueKeys(scope);
    const traces = async (batchId: string) => ({
      done: await redis.smembers(k.batchDone(batchId)),
      doneKeptForTheBatchTtl: (await redis.ttl(k.batchDone(batchId))) > BATCH_TTL_SECONDS - 10,
      tick: await redis.lrange(k.batchTick(batchId), 0, -1),
      tickShortLived: (await redis.pttl(k.batchTick(batchId))) > 0 && (await redis.pttl(k.batchTick(batchId))) <= 60_000,
    });
    const c = await ledger.claim('INV-D', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    const created = { state: 'CREATED' as const, attempts: 1, paymentOrderId: 'd'.repeat(32), paymentURL: 'https://secure.example/t/d', paymentOrderStatus: 'RUNNING' as const };
    expect(await ledger.record('INV-D', c.token, created, undefined, { set: k.batchDone('b-record'), tick: k.batchTick('b-record'), ttlSeconds: BATCH_TTL_SECONDS })).toBe(true);
    await markDone(redis, scope, 'b-queue', ['INV-D']);
    const byRecord = await traces('b-record');
    expect(byRecord).toEqual({ done: ['INV-D'], doneKeptForTheBatchTtl: true, tick: ['1'], tickShortLived: true });
    expect(await traces('b-queue')).toEqual(byRecord);
  });

  it('lets exactly one of many simultaneous claimers send', async () => {
    const ledger = await ledgerFor();
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.claim('INV-2', req())));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
  });

  it('refuses a live SENDING even with retryUncertain, and only the owner may record', async () => {
    const t = clock();
    const ledger = await ledgerFor({ now: t.now, claimLeaseMs: 10_000 });
    const first = await ledger.claim('INV-3', req());
    if (first.kind !== 'claimed') throw new Error('expected a claim');
    expect((await ledger.claim('INV-3', req({ retryUncertain: true }))).kind).toBe('refused');
    expect(await ledger.record('INV-3', 'not-the-token', { state: 'FAILED', attempts: 1, errorCode: 'X', errorMessage: 'x' })).toBe(false);
    expect((await ledger.get('INV-3'))?.state).toBe('SENDING');
  });

  it('takes over a stale SENDING only when the operator allows it; the old owner can no longer record', async () => {
    const t = clock();
    const ledger = await ledgerFor({ now: t.now, claimLeaseMs: 10_000 });
    const first = await ledger.claim('INV-4', req());
    if (first.kind !== 'claimed') throw new Error('expected a claim');
    t.advance(10_001);
    expect((await ledger.claim('INV-4', req())).kind).toBe('refused');
    const second = await ledger.claim('INV-4', req({ retryUncertain: true }));
    expect(second.kind).toBe('claimed');
    expect(await ledger.record('INV-4', first.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 't' })).toBe(false);
  });

  it('sends a FAILED order again, refuses an UNCERTAIN one unless told, and counts attempts across claims', async () => {
    const ledger = await ledgerFor();
    const a = await ledger.claim('INV-5', req());
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.record('INV-5', a.token, { state: 'FAILED', attempts: 2, errorCode: 'PSP_106', errorMessage: 'throttled', detailedErrorCode: undefined });
    const b = await ledger.claim('INV-5', req({ fingerprint: 'fp-2' }));
    expect(b).toMatchObject({ kind: 'claimed', previous: { state: 'FAILED', attempts: 2 } });
    expect(await ledger.get('INV-5')).toMatchObject({ state: 'SENDING', attempts: 2, fingerprint: 'fp-2' });
    expect((await ledger.get('INV-5'))?.errorCode).toBeUndefined();
    if (b.kind !== 'claimed') return;
    await ledger.record('INV-5', b.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
    expect(await ledger.get('INV-5')).toMatchObject({ state: 'UNCERTAIN', attempts: 3, errorCode: 'PB_TIMEOUT' });
    expect((await ledger.claim('INV-5', req())).kind).toBe('refused');
    expect((await ledger.claim('INV-5', req({ retryUncertain: true }))).kind).toBe('claimed');
  });

  it('release puts the order back as it was before the claim', async () => {
    const ledger = await ledgerFor();
    const a = await ledger.claim('INV-6', req());
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.release('INV-6', a.token);
    expect(await ledger.get('INV-6')).toBeUndefined();
    const b = await ledger.claim('INV-6', req());
    if (b.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.record('INV-6', b.token, { state: 'FAILED', attempts: 1, errorCode: 'INT_905', errorMessage: 'auth' });
    const c = await ledger.claim('INV-6', req());
    if (c.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.release('INV-6', c.token);
    expect(await ledger.get('INV-6')).toMatchObject({ state: 'FAILED', errorCode: 'INT_905' });
  });

  it('applies observations by the file ledger\'s rules: a late older one loses, a found order ends UNCERTAIN', async () => {
    const ledger = await ledgerFor();
    const a = await ledger.claim('INV-7', req());
    if (a.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.record('INV-7', a.token, { state: 'CREATED', attempts: 1, paymentOrderId: 'p7', paymentURL: 'u', paymentOrderStatus: 'RUNNING' });
    await ledger.observe('INV-7', { paymentOrderStatus: 'PAID', at: '2099-01-02T10:00:00+00:00' });
    const late = await ledger.observe('INV-7', { paymentOrderStatus: 'EXPIRED', at: '2099-01-01T10:00:00Z' });
    expect(late).toMatchObject({ paymentOrderStatus: 'PAID', statusChangedAt: '2099-01-02T10:00:00.000Z' });
    const u = await ledger.claim('INV-8', req());
    if (u.kind !== 'claimed') throw new Error('expected a claim');
    await ledger.record('INV-8', u.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
    expect(await ledger.observe('INV-8', { paymentOrderId: 'p8', paymentOrderStatus: 'RUNNING', at: '2099-01-01T10:00:00Z' })).toMatchObject({
      state: 'CREATED',
      paymentOrderId: 'p8',
    });
    expect(await ledger.observe('NOPE', { paymentOrderStatus: 'PAID', at: '2099-01-01T10:00:00Z' })).toBeUndefined();
  });

  it('lists every entry, and survives a Redis restart (AOF)', async () => {
    const ledger = await ledgerFor();
    for (let i = 0; i < 1200; i++) await ledger.claim(`N-${i}`, req());
    const ids = new Set<string>();
    for await (const e of ledger.entries()) ids.add(e.orderId);
    expect(ids.size).toBe(1200);
    await server.restart();
    expect((await ledger.get('N-1199'))?.state).toBe('SENDING');
    expect((await ledger.claim('N-0', req())).kind).toBe('refused');
  });
});

describe('the Redis ledger with replicas', () => {
  it('a claim is sent only once the replicas acknowledged it; a replica that hangs makes the claim fail, released', async () => {
    // `now`: at the end, the primary does not wait for its (stopped) replica before it exits.
    const primary = await startRedis(['--shutdown-on-sigterm', 'now']);
    const replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
    const conn = new Redis(primary.url);
    const onReplica = new Redis(replica.url);
    try {
      for (let i = 0; i < 200 && !/master_link_status:up/.test(await onReplica.info('replication')); i++) await new Promise((r) => setTimeout(r, 25));
      const ledger = await openRedisLedger({ redis: conn, shopId: '69876357', mode: 'TEST', prefix: `t-${randomUUID()}`, replicaWaitMs: 300 });
      expect(await ledger.claim('REP-1', req())).toMatchObject({ kind: 'claimed' });
      // The replica holds the claim already: a failover now would not forget it.
      const keys = redisLedgerKeys((ledger as unknown as { keys: { entries: string } }).keys.entries.split(':ledger:')[0]!, '69876357', 'TEST');
      expect(JSON.parse((await onReplica.hget(keys.entries, 'REP-1'))!)).toMatchObject({ state: 'SENDING' });
      onReplica.disconnect();

      replica.signal('SIGSTOP');
      const err = await ledger.claim('REP-2', req()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PB_REDIS_REPLICA' });
      expect((err as Error).message).toMatch(/has 1 replica\(s\) and 0 acknowledged the claim of REP-2 within 300 ms: it was not sent/);
      expect(await ledger.get('REP-2')).toBeUndefined();
    } finally {
      conn.disconnect();
      onReplica.disconnect();
      await replica.stop(true);
      await primary.stop();
      removeDir(replica.dir);
      removeDir(primary.dir);
    }
  }, 30_000);
});
