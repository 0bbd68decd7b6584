import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { readReport, startWorker } from './queue-support.js';
import { runCli } from '../support/cli.js';
import { removeDir, startRedis } from '../support/redis.js';

let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'paybatch-window-cli-'));
});
afterAll(async () => {
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
});

const shop = { PAYBATCH_PLATFORM: undefined, PAYBATCH_SHOP_ID: DEMO_SHOP_ID, PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD, REDIS_URL: undefined };
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

describe('paybatch run --send-window', () => {
  it('holds the SMS rows on a day outside the window: PENDING with the reason, the others sent, exit 1', async () => {
    const file = join(dir, 'invoices.csv');
    writeFileSync(file, 'invoice,amount,currency,channel,phone\nSW-1,10.00,EUR,URL,\nSW-2,11.00,EUR,SMS,+33612345678\n');
    // Every day but today (UTC), all day long: today is outside.
    const notToday = DAYS.filter((_, i) => i !== new Date().getUTCDay()).join(',');
    const r = await runCli(['run', file, '--send-window', `SMS ${notToday} 00:00-24:00 UTC`], { env: { ...shop, PAYBATCH_API_URL: sandbox.url } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const rows = readReport(join(dir, 'invoices.report.csv'));
    expect(rows.map((x) => [x.status, x.errorCode])).toEqual([
      ['CREATED', ''],
      ['PENDING', 'PB_SEND_WINDOW'],
    ]);
    expect(sandbox.counters().ordersCreated['SW-2']).toBeUndefined();
  }, 30_000);

  it('a window it cannot read is one line and exit 2 before anything is sent', async () => {
    const file = join(dir, 'other.csv');
    writeFileSync(file, 'invoice,amount,currency,channel\nSW-9,10.00,EUR,URL\n');
    const bad = await runCli(['run', file, '--send-window', 'SMS weekdays 08:00-20:00'], { env: { ...shop, PAYBATCH_API_URL: sandbox.url } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^paybatch: --send-window "SMS weekdays 08:00-20:00": "weekdays" is not a day/);
    expect(sandbox.counters().ordersCreated['SW-9']).toBeUndefined();
  }, 30_000);

  it('in queue mode too: the producer holds the SMS rows back, and `paybatch report BATCH` says they wait', async () => {
    const redis = await startRedis();
    try {
      const file = join(dir, 'queued.csv');
      writeFileSync(file, 'invoice,amount,currency,channel,phone\nSWQ-1,10.00,EUR,URL,\nSWQ-2,11.00,EUR,SMS,+33612345678\n');
      const notToday = DAYS.filter((_, i) => i !== new Date().getUTCDay()).join(',');
      const env = { ...shop, PAYBATCH_API_URL: sandbox.url, REDIS_URL: redis.url };
      const r = await runCli(['run', file, '--send-window', `SMS ${notToday} 00:00-24:00 UTC`, '--json'], { env });
      expect(r.stderr).not.toContain('send-window');
      expect(r.code).toBe(1);
      const { batchId, engine } = JSON.parse(r.stdout) as { batchId: string; engine: string };
      expect(engine).toBe('queue');
      const held = [
        ['CREATED', ''],
        ['PENDING', 'PB_SEND_WINDOW'],
      ];
      expect(readReport(join(dir, 'queued.report.csv')).map((x) => [x.status, x.errorCode])).toEqual(held);
      expect(sandbox.counters().ordersCreated['SWQ-2']).toBeUndefined();

      const report = await runCli(['report', batchId, '--out', join(dir, 'followed.csv'), '--fix-out', join(dir, 'followed.tofix.csv'), '--summary-out', join(dir, 'followed.json')], { env });
      expect(report.code).toBe(1);
      expect(readReport(join(dir, 'followed.csv')).map((x) => [x.status, x.errorCode])).toEqual(held);
    } finally {
      await redis.stop();
      removeDir(redis.dir);
    }
  }, 60_000);
});

describe('paybatch enqueue --send-window', () => {
  it('the SMS row gets no job, the worker sends the rest, the report says the SMS row waits', async () => {
    const redis = await startRedis();
    try {
      const file = join(dir, 'enqueued.csv');
      writeFileSync(file, 'invoice,amount,currency,channel,phone\nSWE-1,10.00,EUR,URL,\nSWE-2,11.00,EUR,SMS,+33612345678\n');
      const notToday = DAYS.filter((_, i) => i !== new Date().getUTCDay()).join(',');
      const env = { ...shop, PAYBATCH_API_URL: sandbox.url, REDIS_URL: redis.url };
      const enqueued = await runCli(['enqueue', file, '--send-window', `SMS ${notToday} 00:00-24:00 UTC`], { env });
      expect(enqueued.code).toBe(0);
      expect(enqueued.stderr).toContain('2 rows, 1 queued for shop');
      expect(enqueued.stderr).toContain('1 outside the send window (not queued: PENDING until an enqueue inside it)');
      const batchId = enqueued.stdout.trim();

      const worker = await startWorker(env);
      try {
        const report = await runCli(['report', batchId, '--out', join(dir, 'enqueued.out.csv'), '--fix-out', join(dir, 'enqueued.tofix.csv'), '--summary-out', join(dir, 'enqueued.json')], { env });
        expect(report.code).toBe(1);
        expect(readReport(join(dir, 'enqueued.out.csv')).map((x) => [x.invoice, x.status, x.errorCode])).toEqual([
          ['SWE-1', 'CREATED', ''],
          ['SWE-2', 'PENDING', 'PB_SEND_WINDOW'],
        ]);
      } finally {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
      expect(sandbox.counters().ordersCreated['SWE-1']).toBe(1);
      expect(sandbox.counters().ordersCreated['SWE-2']).toBeUndefined();
    } finally {
      await redis.stop();
      removeDir(redis.dir);
    }
  }, 60_000);

  it('a window it cannot read: one line, exit 2, nothing queued', async () => {
    const file = join(dir, 'bad-enqueue.csv');
    writeFileSync(file, 'invoice,amount,currency,channel\nSWE-9,10.00,EUR,URL\n');
    const bad = await runCli(['enqueue', file, '--send-window', 'SMS mon-fri 8-20'], { env: { ...shop, PAYBATCH_API_URL: sandbox.url, REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^paybatch: --send-window "SMS mon-fri 8-20": "8-20" is not a time range such as 08:00-20:00/);
  }, 30_000);
});
