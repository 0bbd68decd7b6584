import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRun } from '../../src/app/run-history.js';
import { ConsoleAuth } from '../../src/console/auth.js';
import { createConsoleApp } from '../../src/console/app.js';
import { createConsoleMetrics, type ConsoleMetrics } from '../../src/console/metrics.js';
import { DEFAULT_RETENTION, sweepUploads, uploadsDir } from '../../src/console/uploads.js';
import { openLedgerStore, type LedgerStore } from '../../src/follow/context.js';
import { createLogger } from '../../src/log/logger.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';
import { makeWorld, type World } from '../follow/world.js';

const PASSWORD = 'console-secret-for-tests';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('the console keeps uploads for a while, then removes them', () => {
  let w: World;
  let store: LedgerStore;
  let metrics: ConsoleMetrics;
  let app: Hono;
  /** The console's clock: the uploads are stamped with it and an old check is refused by it. */
  const clock = { now: Date.now() };
  const stop = new AbortController();
  /** A script's request: the password as a bearer token, and the console's own Origin on posts. */
  const call = (path: string, init: RequestInit = {}) => app.request(path, { ...init, redirect: 'manual', headers: { authorization: `Bearer ${PASSWORD}`, origin: 'http://localhost' } });
  const upload = async (name: string, text: string): Promise<string> => {
    const form = new FormData();
    form.append('file', new Blob([text]), name);
    const r = await call('/send', { method: 'POST', body: form });
    expect(r.status).toBe(303);
    return r.headers.get('location')!.split('/').pop()!;
  };
  const folders = () => (existsSync(uploadsDir(w.stateDir)) ? readdirSync(uploadsDir(w.stateDir)).sort() : []);
  const sweepAt = (at: number) => sweepUploads({ stateDir: w.stateDir, now: new Date(at), retention: DEFAULT_RETENTION });

  beforeAll(async () => {
    w = await makeWorld();
    store = await openLedgerStore({ stateDir: w.stateDir, shopId: DEMO_SHOP_ID, mode: 'TEST', env: {} });
    metrics = createConsoleMetrics({ stateDir: w.stateDir, apiPathPrefix: '/api-payment/V4' });
    const lyra = { baseUrl: w.sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD, timeoutMs: 2000 };
    app = createConsoleApp({
      auth: new ConsoleAuth(PASSWORD),
      stateDir: w.stateDir,
      store,
      metrics,
      logger: createLogger({ level: 'silent' }),
      send: { lyra, stateDir: w.stateDir, concurrency: 4, perSecond: 50, retryUncertain: false },
      follow: { ...lyra, stateDir: w.stateDir, rate: 10, concurrency: 4 },
      signal: stop.signal,
      defaults: {},
      maxUploadBytes: 1024 * 1024,
      retention: DEFAULT_RETENTION,
      now: () => new Date(clock.now),
    });
  });

  afterAll(async () => {
    stop.abort();
    metrics?.close();
    await store?.close();
    await w?.close();
  });

  it('a check never sent goes after 24 h; a sent file stays while its batch runs and 30 days after it ended', async () => {
    const t0 = clock.now;
    // One file is sent; its first row's answer is lost, so its batch runs until the client gives up on it.
    w.sandbox.faults.forOrder('KEEP-1', 'timeout');
    const sent = await upload('sent.csv', 'invoice,amount,currency,channel\nKEEP-1,10.00,EUR,URL\nKEEP-2,20.00,EUR,URL\n');
    const abandoned = await upload('abandoned.csv', 'invoice,amount,currency,channel\nGONE-1,10.00,EUR,URL\n');
    const go = await call(`/uploads/${sent}/send`, { method: 'POST' });
    expect(go.status).toBe(303);
    const batchId = go.headers.get('location')!.split('/').pop()!;
    await expect.poll(async () => (await findRun(w.stateDir, batchId))?.state).toBe('running');

    expect(await sweepAt(t0 + 23 * HOUR)).toEqual([]);
    // A year on, the running batch keeps its folder; the check never sent is gone.
    expect(await sweepAt(t0 + 365 * DAY)).toEqual([abandoned]);
    expect(folders()).toEqual([sent]);
    expect((await call(`/uploads/${abandoned}`)).status).toBe(404);

    await expect.poll(async () => (await findRun(w.stateDir, batchId))?.state, { timeout: 15_000 }).toBe('finished');
    const ended = Date.parse((await findRun(w.stateDir, batchId))!.endedAt!);
    expect(await sweepAt(ended + 29 * DAY)).toEqual([]);
    expect(await (await call(`/batches/${batchId}`)).text()).toContain('KEEP-1');
    expect(await sweepAt(ended + 30 * DAY + 1000)).toEqual([sent]);
    expect(folders()).toEqual([]);
    // The batch is still listed; its page says why its rows are not shown, and its orders are in the ledger still.
    const page = await (await call(`/batches/${batchId}`)).text();
    expect(page).toContain('the report is no longer kept');
    expect((await w.entry('KEEP-2'))?.state).toBe('CREATED');
  });

  it('a check older than 24 h is not sent, even before the sweep removes it', async () => {
    const id = await upload('late.csv', 'invoice,amount,currency,channel\nLATE-1,10.00,EUR,URL\n');
    clock.now += 24 * HOUR;
    const r = await call(`/uploads/${id}/send`, { method: 'POST' });
    expect(r.status).toBe(410);
    expect(await r.text()).toContain('more than 1 day old');
    expect(w.sandbox.counters().ordersCreated['LATE-1']).toBeUndefined();
  });

  it('a file that cannot be checked is not kept', async () => {
    const before = folders();
    const form = new FormData();
    form.append('file', new Blob(['PK\u0003\u0004 not really a workbook']), 'broken.xlsx');
    const r = await call('/send', { method: 'POST', body: form });
    expect(r.status).toBe(400);
    expect(folders()).toEqual(before);
  });
});
