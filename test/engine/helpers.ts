import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobContext, OrderToSend } from '../../src/engine/job.js';
import { openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { LyraClient } from '../../src/lyra/client.js';
import type { ChannelType, PaymentOrderRequest } from '../../src/lyra/types.js';
import type { JudgedRow } from '../../src/orders/types.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';

export const SHOP = '69876357';
export const PASSWORD = 'testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M';

/** A valid order for the sandbox: URL by default, MAIL / INVOICE on request. */
export function order(orderId: string, opts: { channel?: ChannelType; amountMinor?: number; recipient?: string } = {}): OrderToSend {
  const channel = opts.channel ?? 'URL';
  const amountMinor = opts.amountMinor ?? 12345;
  const recipient = opts.recipient ?? (channel === 'MAIL' ? 'jane@example.com' : '');
  const request: PaymentOrderRequest = { amount: amountMinor, currency: 'EUR', orderId, channelOptions: { channelType: channel } };
  if (channel === 'MAIL') request.channelOptions!.mailOptions = { recipient, subject: 'Your invoice' };
  return { orderId, request, sent: { amountMinor, currency: 'EUR', channel, recipient } };
}

export function validRow(index: number, o: OrderToSend): JudgedRow {
  return {
    index,
    line: index + 2,
    cells: [o.orderId, String(o.sent.amountMinor)],
    judgement: { ok: true, order: { orderId: o.orderId, channel: o.sent.channel, amountMinor: o.sent.amountMinor, currency: o.sent.currency, recipient: o.sent.recipient, request: o.request } },
  };
}

export function invalidRow(index: number): JudgedRow {
  return { index, line: index + 2, cells: ['', 'abc'], judgement: { ok: false, problem: { code: 'INT_009', field: 'amount', column: 'Montant', message: 'amount "abc" is not a number' } } };
}

export async function* rowsOf(rows: JudgedRow[]): AsyncGenerator<JudgedRow> {
  for (const r of rows) yield r;
}

/** A fresh state directory, ledger and client per test; `done()` closes and removes them. */
export async function setup(baseUrl: string, opts: { password?: string; timeoutMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'paybatch-engine-'));
  const client = new LyraClient({ baseUrl, shopId: SHOP, password: opts.password ?? PASSWORD, timeoutMs: opts.timeoutMs ?? 2000 });
  let ledger: Ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
  const ctx = (over: Partial<JobContext> = {}): JobContext => ({
    client,
    ledger,
    batchId: over.batchId ?? 'run-1',
    retryUncertain: false,
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    ...over,
  });
  return {
    dir,
    client,
    get ledger() {
      return ledger;
    },
    ctx,
    /** Closes and reopens the ledger, as a later run would. */
    async reopen() {
      await ledger.close();
      ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
    },
    async done() {
      await ledger.close();
      await client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The world of an engine test file: one sandbox for the file; before each test its faults and counters cleared and a
 * fresh state directory, ledger and client (`t`), closed after it.
 */
export function engineWorld(): { readonly sandbox: Sandbox; readonly t: Awaited<ReturnType<typeof setup>> } {
  let sandbox: Sandbox;
  let t: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox.stop();
  });
  beforeEach(async () => {
    sandbox.faults.clear();
    sandbox.resetCounters();
    t = await setup(sandbox.url, { timeoutMs: 500 });
  });
  afterEach(async () => {
    await t.done();
  });
  return {
    get sandbox() {
      return sandbox;
    },
    get t() {
      return t;
    },
  };
}
