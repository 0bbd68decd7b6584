import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/app/run-batch.js';
import { followBatch } from '../../src/engine/queue/run-queued.js';
import { judgeFile } from '../../src/orders/judge-file.js';
import { parseSendWindow } from '../../src/orders/send-window.js';
import type { RedisTarget } from '../../src/redis/connect.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { readReport } from '../cli/queue-support.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';

let sandbox: Sandbox;
let redis: RedisServer;
let dir: string;
beforeAll(async () => {
  [sandbox, redis] = await Promise.all([startSandbox({ port: 0 }), startRedis()]);
  dir = mkdtempSync(join(tmpdir(), 'paybatch-window-'));
});
afterAll(async () => {
  await sandbox.stop();
  await redis.stop();
  removeDir(redis.dir);
  rmSync(dir, { recursive: true, force: true });
});

// Sunday 10:00 and Monday 09:00 in Paris.
const SUNDAY = new Date('2026-06-07T08:00:00Z');
const MONDAY = new Date('2026-06-08T07:00:00Z');

describe.each([
  ['the embedded engine', 'W', false],
  ['the queue engine', 'QW', true],
])('rows outside their send window, with %s', (_engine, prefix, queued) => {
  it('wait as PENDING in input order while the others are sent, are sent by the run once the window opens (the clock moved), and are reported as sent by a later run outside it', async () => {
    const work = join(dir, prefix);
    mkdirSync(work);
    const file = join(work, 'invoices.csv');
    const ids = [1, 2, 3, 4, 5].map((n) => `${prefix}-${n}`);
    writeFileSync(
      file,
      ['invoice,amount,currency,channel,phone', `${ids[0]},10.00,EUR,URL,`, `${ids[1]},11.00,EUR,SMS,+33612345678`, `${ids[2]},12.00,EUR,URL,`, `${ids[3]},13.00,EUR,SMS,+33612345679`, `${ids[4]},14.00,EUR,URL,`].join('\n') + '\n',
    );
    const window = parseSendWindow('SMS mon-sat 08:00-20:00 Europe/Paris');
    const target: RedisTarget = { url: redis.url, source: '--redis' };
    const batch = (now: Date) =>
      runBatch({
        file,
        judge: { now },
        lyra: { baseUrl: sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD },
        stateDir: join(work, 'state'),
        concurrency: 4,
        perSecond: 100,
        retryUncertain: false,
        sendWindow: window,
        files: { report: join(work, 'r.csv'), toFix: join(work, 'f.csv'), summary: join(work, 'r.json') },
        now: () => now,
        ...(queued ? { redis: target, localWorkers: 1 } : {}),
      });
    const statuses = () => readReport(join(work, 'r.csv')).map((r) => [r.invoice, r.status, r.errorCode]);

    const sunday = await batch(SUNDAY);
    expect(sunday.exitCode).toBe(1);
    expect(statuses()).toEqual([
      [ids[0], 'CREATED', ''],
      [ids[1], 'PENDING', 'PB_SEND_WINDOW'],
      [ids[2], 'CREATED', ''],
      [ids[3], 'PENDING', 'PB_SEND_WINDOW'],
      [ids[4], 'CREATED', ''],
    ]);
    expect(readReport(join(work, 'r.csv'))[1]!.errorMessage).toContain('outside the send window (SMS mon-sat 08:00-20:00 Europe/Paris)');
    expect(sandbox.counters().ordersCreated[ids[1]!]).toBeUndefined();
    if (queued) {
      // The batch itself says so: `paybatch report BATCH` (on any machine) reports the held rows as the run did.
      const { source, rows } = await judgeFile(file, { now: SUNDAY });
      const followed: string[] = [];
      try {
        for await (const item of followBatch({ redis: target, scope: { shopId: DEMO_SHOP_ID, mode: 'TEST' }, batchId: sunday.batchId, rows })) followed.push(`${item.outcome.status} ${item.outcome.errorCode ?? ''}`.trim());
      } finally {
        source.close();
      }
      expect(followed).toEqual(['CREATED', 'PENDING PB_SEND_WINDOW', 'CREATED', 'PENDING PB_SEND_WINDOW', 'CREATED']);
    }

    // Monday 09:00 in Paris: the same run sends them, and nothing twice.
    const monday = await batch(MONDAY);
    expect(monday.exitCode).toBe(0);
    expect(monday.sentByThisRun).toBe(2);
    expect(statuses().map((s) => s[1])).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED', 'CREATED']);
    expect(ids.map((id) => sandbox.counters().ordersCreated[id])).toEqual([1, 1, 1, 1, 1]);

    // The next Sunday's run finds them sent: CREATED, not waiting.
    const again = await batch(new Date(SUNDAY.getTime() + 7 * 86_400_000));
    expect([again.exitCode, again.sentByThisRun]).toEqual([0, 0]);
    expect(statuses().map((s) => s[1])).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED', 'CREATED']);
  }, 60_000);
});
