import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/app/run-batch.js';
import { parseSendWindow } from '../../src/orders/send-window.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { readReport } from '../cli/queue-support.js';

let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'paybatch-window-'));
});
afterAll(async () => {
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('rows outside their send window', () => {
  it('wait as PENDING in input order while the others are sent, and are sent by the run once the window opens (the clock moved)', async () => {
    const file = join(dir, 'invoices.csv');
    writeFileSync(
      file,
      ['invoice,amount,currency,channel,phone', 'W-1,10.00,EUR,URL,', 'W-2,11.00,EUR,SMS,+33612345678', 'W-3,12.00,EUR,URL,', 'W-4,13.00,EUR,SMS,+33612345679', 'W-5,14.00,EUR,URL,'].join('\n') + '\n',
    );
    const window = parseSendWindow('SMS mon-sat 08:00-20:00 Europe/Paris');
    const batch = (now: Date) =>
      runBatch({
        file,
        judge: { now },
        lyra: { baseUrl: sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD },
        stateDir: join(dir, 'state'),
        concurrency: 4,
        perSecond: 100,
        retryUncertain: false,
        sendWindow: window,
        files: { report: join(dir, 'r.csv'), toFix: join(dir, 'f.csv'), summary: join(dir, 'r.json') },
        now: () => now,
      });

    // Sunday 10:00 in Paris: the SMS rows wait.
    const sunday = await batch(new Date('2026-06-07T08:00:00Z'));
    expect(sunday.exitCode).toBe(1);
    const first = readReport(join(dir, 'r.csv'));
    expect(first.map((r) => [r.invoice, r.status, r.errorCode])).toEqual([
      ['W-1', 'CREATED', ''],
      ['W-2', 'PENDING', 'PB_SEND_WINDOW'],
      ['W-3', 'CREATED', ''],
      ['W-4', 'PENDING', 'PB_SEND_WINDOW'],
      ['W-5', 'CREATED', ''],
    ]);
    expect(first[1]!.errorMessage).toContain('outside the send window (SMS mon-sat 08:00-20:00 Europe/Paris)');
    expect(sandbox.counters().ordersCreated['W-2']).toBeUndefined();

    // Monday 09:00 in Paris: the same run sends them, and nothing twice.
    const monday = await batch(new Date('2026-06-08T07:00:00Z'));
    expect(monday.exitCode).toBe(0);
    expect(monday.sentByThisRun).toBe(2);
    expect(readReport(join(dir, 'r.csv')).map((r) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED', 'CREATED']);
    expect(['W-1', 'W-2', 'W-3', 'W-4', 'W-5'].map((id) => sandbox.counters().ordersCreated[id])).toEqual([1, 1, 1, 1, 1]);
  }, 30_000);
});
