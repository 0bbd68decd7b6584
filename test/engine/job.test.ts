import { describe, expect, it } from 'vitest';
import { RunAbortedError } from '../../src/engine/errors.js';
import { INVOICE_EXISTS_CODE, sendOrder } from '../../src/engine/job.js';
import type { LyraApiError } from '../../src/lyra/errors.js';
import { engineWorld, order, setup } from './helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';
const world = engineWorld();

const creates = (): number => world.sandbox.counters().requests[CREATE] ?? 0;
const created = (orderId: string): number => world.sandbox.counters().ordersCreated[orderId] ?? 0;

describe('sendOrder: one row → Lyra → ledger', () => {
  it('a valid row becomes CREATED with its payment URL, and the ledger holds it', async () => {
    const out = await sendOrder(world.t.ctx(), order('INV-1'));
    expect(out).toMatchObject({ status: 'CREATED', attempts: 1, paymentOrderStatus: 'RUNNING' });
    expect(out.paymentOrderId).toMatch(/^[0-9a-f]{32}$/);
    expect(out.paymentURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/t\//);
    expect(await world.t.ledger.get('INV-1')).toMatchObject({ state: 'CREATED', paymentOrderId: out.paymentOrderId, batchId: 'run-1' });
    expect(created('INV-1')).toBe(1);
  });

  it('a re-run sends nothing for a created row and reports the original order; an edited row gets a note', async () => {
    const first = await sendOrder(world.t.ctx(), order('INV-2'));
    await world.t.reopen();
    const again = await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-2'));
    expect(again).toMatchObject({ status: 'CREATED', earlier: true, paymentOrderId: first.paymentOrderId, paymentURL: first.paymentURL });
    expect(again.note).toBeUndefined();
    const edited = await sendOrder(world.t.ctx({ batchId: 'run-3' }), order('INV-2', { amountMinor: 999 }));
    expect(edited).toMatchObject({ status: 'CREATED', earlier: true, paymentOrderId: first.paymentOrderId });
    expect(edited.note).toContain('paybatch update');
    expect(creates()).toBe(1);
  });

  it('a platform refusal is FAILED with its codes, and a later run may send the fixed row', async () => {
    const bad = order('INV-3', { channel: 'MAIL', recipient: 'not-an-email' });
    const out = await sendOrder(world.t.ctx(), bad);
    expect(out).toMatchObject({ status: 'FAILED', errorCode: 'PSP_1032', attempts: 1 });
    expect(out.technical).toBeUndefined();
    const fixed = await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-3', { channel: 'MAIL' }));
    expect(fixed).toMatchObject({ status: 'CREATED', attempts: 2 });
    expect(created('INV-3')).toBe(1);
  });

  it('PSP_106 throttling is retried with backoff (and reported to onRetrySafe) until the order is created', async () => {
    world.sandbox.faults.forOrder('INV-4', 'psp-106', { times: 2 });
    const seen: string[] = [];
    const out = await sendOrder(world.t.ctx({ onRetrySafe: (e: LyraApiError) => seen.push(e.code) }), order('INV-4'));
    expect(out).toMatchObject({ status: 'CREATED', attempts: 3 });
    expect(seen).toEqual(['PSP_106', 'PSP_106']);
    expect(created('INV-4')).toBe(1);
  });

  it('HTTP 503 on every attempt ends FAILED (nothing exists) and counts as technical; a later run sends it', async () => {
    world.sandbox.faults.forOrder('INV-5', 'http-503', { times: 3 });
    const out = await sendOrder(world.t.ctx({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, sleep: async () => undefined }), order('INV-5'));
    expect(out).toMatchObject({ status: 'FAILED', errorCode: 'PB_HTTP_503', attempts: 3, technical: true });
    expect(created('INV-5')).toBe(0);
    expect(await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-5'))).toMatchObject({ status: 'CREATED', attempts: 4 });
  });

  it.each(['reset-after-create', 'timeout', 'http-500'] as const)('%s: the outcome is unknown → UNCERTAIN, never re-sent without --retry-uncertain', async (fault) => {
    world.sandbox.faults.forOrder('INV-6', fault);
    const out = await sendOrder(world.t.ctx(), order('INV-6'));
    expect(out).toMatchObject({ status: 'UNCERTAIN', attempts: 1, technical: true });
    expect(out.errorMessage).toContain('--retry-uncertain');
    expect(creates()).toBe(1);

    await world.t.reopen();
    const rerun = await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-6'));
    expect(rerun).toMatchObject({ status: 'UNCERTAIN' });
    expect(rerun.errorMessage).toMatch(/^not re-sent/);
    expect(creates()).toBe(1);

    const forced = await sendOrder(world.t.ctx({ batchId: 'run-3', retryUncertain: true }), order('INV-6'));
    expect(forced).toMatchObject({ status: 'CREATED', attempts: 2 });
    expect(creates()).toBe(2);
  });

  it('INVOICE: an unknown outcome is retried (a reused reference is refused), and "reference exists" means created, id lost', async () => {
    world.sandbox.faults.forOrder('INV-7', 'reset-after-create');
    const out = await sendOrder(world.t.ctx(), order('INV-7', { channel: 'INVOICE' }));
    expect(out).toMatchObject({ status: 'UNCERTAIN', errorCode: INVOICE_EXISTS_CODE, attempts: 2 });
    expect(out.errorMessage).toContain('the order exists but its id was lost');
    expect(created('INV-7')).toBe(1);
    // Not re-sent by a later run either: the platform said it exists.
    const later = await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-7', { channel: 'INVOICE' }));
    expect(later).toMatchObject({ status: 'UNCERTAIN', errorCode: INVOICE_EXISTS_CODE });
    expect(later.errorMessage).toMatch(/^not re-sent: the order exists but its id was lost/);
    expect(creates()).toBe(2);
  });

  it('INVOICE: an unknown outcome where nothing was created is retried into CREATED', async () => {
    world.sandbox.faults.forOrder('INV-8', 'timeout-before-create');
    const out = await sendOrder(world.t.ctx(), order('INV-8', { channel: 'INVOICE' }));
    expect(out).toMatchObject({ status: 'CREATED', attempts: 2 });
    expect(created('INV-8')).toBe(1);
  });

  it('INVOICE: a row left UNCERTAIN by an earlier run is re-sent without the flag, and settled either way', async () => {
    const once = { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } };
    world.sandbox.faults.forOrder('INV-12', 'timeout'); // created, answer lost
    world.sandbox.faults.forOrder('INV-13', 'timeout-before-create'); // nothing created
    expect(await sendOrder(world.t.ctx(once), order('INV-12', { channel: 'INVOICE' }))).toMatchObject({ status: 'UNCERTAIN', errorCode: 'PB_TIMEOUT' });
    expect(await sendOrder(world.t.ctx(once), order('INV-13', { channel: 'INVOICE' }))).toMatchObject({ status: 'UNCERTAIN', errorCode: 'PB_TIMEOUT' });
    await world.t.reopen();
    const exists = await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-12', { channel: 'INVOICE' }));
    expect(exists).toMatchObject({ status: 'UNCERTAIN', errorCode: INVOICE_EXISTS_CODE, attempts: 2 });
    expect(exists.errorMessage).toContain('an earlier run got no answer (PB_TIMEOUT)');
    expect(await sendOrder(world.t.ctx({ batchId: 'run-2' }), order('INV-13', { channel: 'INVOICE' }))).toMatchObject({ status: 'CREATED', attempts: 2 });
    expect(world.sandbox.counters().ordersCreated).toMatchObject({ 'INV-12': 1, 'INV-13': 1 });
  });

  it('bad credentials stop the run (RunAbortedError PB_AUTH) and leave the row as if never claimed', async () => {
    const wrong = await setup(world.sandbox.url, { password: 'testpassword_WRONG' });
    try {
      const err = await sendOrder(wrong.ctx(), order('INV-9')).catch((e: unknown) => e);
      expect(RunAbortedError.is(err)).toBe(true);
      expect((err as RunAbortedError).code).toBe('PB_AUTH');
      expect((err as RunAbortedError).exitCode).toBe(3);
      expect((err as Error).message).not.toContain('WRONG');
      expect(await wrong.ledger.get('INV-9')).toBeUndefined();
    } finally {
      await wrong.done();
    }
  });

  it('a stop before the POST leaves the row PENDING and unclaimed; nothing is sent', async () => {
    const ac = new AbortController();
    ac.abort();
    const out = await sendOrder(world.t.ctx({ signal: ac.signal }), order('INV-10'));
    expect(out.status).toBe('PENDING');
    expect(await world.t.ledger.get('INV-10')).toBeUndefined();
    expect(creates()).toBe(0);
  });

  it('a stop during a retry backoff releases the claim (nothing exists) and the row is PENDING', async () => {
    world.sandbox.faults.forOrder('INV-11', 'psp-106');
    const ac = new AbortController();
    const out = await sendOrder(world.t.ctx({ signal: ac.signal, onRetrySafe: () => ac.abort() }), order('INV-11'));
    expect(out.status).toBe('PENDING');
    expect(await world.t.ledger.get('INV-11')).toBeUndefined();
  });
});
