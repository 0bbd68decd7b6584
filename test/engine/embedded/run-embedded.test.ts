import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEmbedded } from '../../../src/engine/embedded/run-embedded.js';
import type { RunItem } from '../../../src/engine/run.js';
import { openSqliteLedger } from '../../../src/ledger/local/sqlite-ledger.js';
import type { LedgerEntry } from '../../../src/ledger/ledger.js';
import type { JudgedRow } from '../../../src/orders/types.js';
import { engineWorld, invalidRow, order, rowsOf, setup, SHOP, validRow } from '../helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';
const world = engineWorld();

const creates = (): number => world.sandbox.counters().requests[CREATE] ?? 0;
const ids = (n: number, prefix = 'INV'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
const rowsFor = (orderIds: string[]): JudgedRow[] => orderIds.map((id, i) => validRow(i, order(id)));

async function collect(run: AsyncIterable<RunItem>): Promise<RunItem[]> {
  const out: RunItem[] = [];
  for await (const item of run) out.push(item);
  return out;
}

describe('runEmbedded: the embedded engine', () => {
  it('reports every row in input order: CREATED, INVALID (never sent), FAILED, UNCERTAIN', async () => {
    world.sandbox.faults.forOrder('INV-0003', 'reset-after-create');
    const rows: JudgedRow[] = [
      validRow(0, order('INV-0000')),
      invalidRow(1),
      validRow(2, order('INV-0002', { channel: 'MAIL', recipient: 'nope' })),
      validRow(3, order('INV-0003')),
      ...ids(20).slice(4).map((id, i) => validRow(4 + i, order(id))),
    ];
    const run = runEmbedded({ rows: rowsOf(rows), ctx: world.t.ctx(), concurrency: 6 });
    const items = await collect(run);
    expect(items.map((i) => i.row.index)).toEqual(rows.map((r) => r.index));
    expect(items.map((i) => i.outcome.status).slice(0, 5)).toEqual(['CREATED', 'INVALID', 'FAILED', 'UNCERTAIN', 'CREATED']);
    expect(items[1]!.outcome).toMatchObject({ errorCode: 'INT_009', attempts: 0 });
    expect(items.filter((i) => i.outcome.status === 'CREATED')).toHaveLength(17);
    expect(await run.result).toEqual({});
    expect(creates()).toBe(19);
  });

  it('one row at a time: each outcome and the next row\'s claim share one fsync, and every outcome is durable when reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paybatch-commits-'));
    const commits: number[] = [];
    const ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST', onCommit: (lines) => commits.push(lines) });
    try {
      const seenDurable: boolean[] = [];
      for await (const item of runEmbedded({ rows: rowsOf(rowsFor(ids(20, 'ONE'))), ctx: world.t.ctx({ ledger }), concurrency: 1 })) {
        expect(item.outcome.status).toBe('CREATED');
        // Reported only once its line is on disk: the lines committed so far include this row's outcome.
        seenDurable.push(commits.reduce((a, b) => a + b, 0) >= 2 * (item.row.index + 1));
      }
      expect(seenDurable.every(Boolean)).toBe(true);
      expect(commits.reduce((a, b) => a + b, 0)).toBe(40);
      // 20 claims + 20 outcomes: one commit each would be 40; the slot is free once the outcome is queued, so the next
      // claim joins that commit (first claim alone, 19 pairs, last outcome alone).
      expect(commits.length).toBeLessThanOrEqual(22);
    } finally {
      await ledger.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('re-running the same rows sends nothing; an edited file sends only the fixed rows', async () => {
    const first = [validRow(0, order('INV-A')), validRow(1, order('INV-B', { channel: 'MAIL', recipient: 'typo@' })), validRow(2, order('INV-C'))];
    await collect(runEmbedded({ rows: rowsOf(first), ctx: world.t.ctx(), concurrency: 2 }));
    expect(creates()).toBe(3);
    await world.t.reopen();

    const again = await collect(runEmbedded({ rows: rowsOf(first.filter((r) => r.index !== 1)), ctx: world.t.ctx({ batchId: 'run-2' }), concurrency: 2 }));
    expect(again.map((i) => i.outcome)).toEqual([expect.objectContaining({ status: 'CREATED', earlier: true }), expect.objectContaining({ status: 'CREATED', earlier: true })]);
    expect(creates()).toBe(3);

    const fixed = [...first];
    fixed[1] = validRow(1, order('INV-B', { channel: 'MAIL', recipient: 'fixed@example.com' }));
    const third = await collect(runEmbedded({ rows: rowsOf(fixed), ctx: world.t.ctx({ batchId: 'run-3' }), concurrency: 2 }));
    expect(third.map((i) => [i.outcome.status, i.outcome.earlier ?? false])).toEqual([
      ['CREATED', true],
      ['CREATED', false],
      ['CREATED', true],
    ]);
    expect(creates()).toBe(4);
    expect(world.sandbox.counters().ordersCreated).toEqual({ 'INV-A': 1, 'INV-B': 1, 'INV-C': 1 });
  });

  it('--rate 8 with 20 workers: the sandbox never sees more than 8 creates in any sliding second', async () => {
    const run = runEmbedded({ rows: rowsOf(rowsFor(ids(20))), ctx: world.t.ctx(), concurrency: 20, perSecond: 8 });
    const items = await collect(run);
    expect(items.every((i) => i.outcome.status === 'CREATED')).toBe(true);
    expect(world.sandbox.counters().maxPerSecond.create).toBeLessThanOrEqual(8);
  });

  it('bad credentials abort the run: every valid row is PENDING (resumable), nothing in the ledger', async () => {
    const wrong = await setup(world.sandbox.url, { password: 'testpassword_WRONG' });
    try {
      const run = runEmbedded({ rows: rowsOf([invalidRow(0), ...rowsFor(ids(10)).map((r) => ({ ...r, index: r.index + 1 }))]), ctx: wrong.ctx(), concurrency: 3 });
      const items = await collect(run);
      expect(items).toHaveLength(11);
      expect(items[0]!.outcome.status).toBe('INVALID');
      expect(items.slice(1).every((i) => i.outcome.status === 'PENDING')).toBe(true);
      expect((await run.result).aborted).toMatchObject({ code: 'PB_AUTH' });
      const entries: LedgerEntry[] = [];
      for await (const e of wrong.ledger.entries()) entries.push(e);
      expect(entries).toEqual([]);
      expect(creates()).toBeLessThanOrEqual(3);
    } finally {
      await wrong.done();
    }
  });

  it('a run of technical failures trips the circuit breaker; the rest stays PENDING', async () => {
    const all = ids(10);
    for (const id of all) world.sandbox.faults.forOrder(id, 'http-500');
    const run = runEmbedded({ rows: rowsOf(rowsFor(all)), ctx: world.t.ctx(), concurrency: 1, breaker: { failures: 3 } });
    const items = await collect(run);
    expect(items.map((i) => i.outcome.status)).toEqual(['UNCERTAIN', 'UNCERTAIN', 'UNCERTAIN', ...Array(7).fill('PENDING')]);
    expect((await run.result).aborted).toMatchObject({ code: 'PB_CIRCUIT_OPEN' });
    expect(creates()).toBe(3);
  });

  it('a signal stops it cleanly: in-flight rows are recorded, the rest is PENDING, and a re-run sends exactly those', async () => {
    const all = ids(40);
    const ac = new AbortController();
    const run = runEmbedded({ rows: rowsOf(rowsFor(all)), ctx: world.t.ctx(), concurrency: 4, perSecond: 40, signal: ac.signal });
    const items: RunItem[] = [];
    for await (const item of run) {
      items.push(item);
      if (items.length === 5) ac.abort();
    }
    expect(items).toHaveLength(40);
    expect((await run.result).aborted).toMatchObject({ code: 'PB_INTERRUPTED_RUN' });
    const pending = items.filter((i) => i.outcome.status === 'PENDING').map((i) => i.row.judgement.ok && i.row.judgement.order.orderId);
    const done = items.filter((i) => i.outcome.status === 'CREATED');
    expect(pending.length).toBeGreaterThan(0);
    expect(done.length + pending.length).toBe(40);
    for (const i of done) expect((await world.t.ledger.get((i.row.judgement.ok && i.row.judgement.order.orderId) as string))!.state).toBe('CREATED');

    await world.t.reopen();
    const before = creates();
    const rerun = await collect(runEmbedded({ rows: rowsOf(rowsFor(all)), ctx: world.t.ctx({ batchId: 'run-2' }), concurrency: 4 }));
    expect(rerun.every((i) => i.outcome.status === 'CREATED')).toBe(true);
    expect(creates() - before).toBe(pending.length);
    expect(Object.values(world.sandbox.counters().ordersCreated).every((n) => n === 1)).toBe(true);
  });

  it('rows the ledger already answers do not queue behind rows waiting for the rate limiter', async () => {
    await collect(runEmbedded({ rows: rowsOf(rowsFor(['OLD-1', 'OLD-2', 'OLD-3'])), ctx: world.t.ctx(), concurrency: 3 }));
    // NEW-1 is throttled once (Retry-After) and holds the only slot; NEW-2 waits for it. Stopped as soon as NEW-1 is done.
    world.sandbox.faults.forOrder('NEW-1', 'http-503');
    const rows = rowsFor(['NEW-1', 'NEW-2', 'OLD-1', 'OLD-2', 'OLD-3']);
    const ac = new AbortController();
    const items: RunItem[] = [];
    for await (const item of runEmbedded({ rows: rowsOf(rows), ctx: world.t.ctx({ batchId: 'run-2' }), concurrency: 1, perSecond: 1, signal: ac.signal })) {
      items.push(item);
      ac.abort();
    }
    expect(items.map((i) => i.outcome.status)).toEqual(['CREATED', 'PENDING', 'CREATED', 'CREATED', 'CREATED']);
    expect(items.slice(2).every((i) => i.outcome.earlier)).toBe(true);
  });

  it('a ledger that cannot be used stops the run (no row is sent without its durable trace)', async () => {
    await world.t.ledger.close();
    const run = runEmbedded({ rows: rowsOf(rowsFor(ids(5))), ctx: world.t.ctx(), concurrency: 2 });
    const items = await collect(run);
    expect(items.map((i) => i.outcome.status)).toEqual(Array(5).fill('PENDING'));
    expect((await run.result).aborted).toMatchObject({ code: 'PB_LEDGER_CLOSED' });
    expect(creates()).toBe(0);
  });

  it('reads at most a window of rows ahead of the oldest unfinished one (flat memory)', async () => {
    let read = 0;
    async function* counted(): AsyncGenerator<JudgedRow> {
      for (const r of rowsFor(ids(200))) {
        read++;
        yield r;
      }
    }
    const run = runEmbedded({ rows: counted(), ctx: world.t.ctx(), concurrency: 2, window: 10 });
    let maxAhead = 0;
    let yielded = 0;
    for await (const _ of run) {
      yielded++;
      maxAhead = Math.max(maxAhead, read - yielded);
    }
    expect(yielded).toBe(200);
    expect(maxAhead).toBeLessThanOrEqual(10);
  });
});
