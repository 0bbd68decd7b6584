import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runEmbedded } from '../../src/engine/embedded/run-embedded.js';
import type { RunItem } from '../../src/engine/run.js';
import { INTERRUPTED_CODE, openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';
import { LyraClient } from '../../src/lyra/client.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { order, PASSWORD, rowsOf, SHOP, validRow } from './helpers.js';

let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  // Some latency, so the kill lands while requests are in flight.
  sandbox = await startSandbox({ port: 0, latencyMs: 15 });
  dir = await mkdtemp(join(tmpdir(), 'paybatch-kill-'));
});
afterAll(async () => {
  await sandbox.stop();
  await rm(dir, { recursive: true, force: true });
});

it('kill -9 in the middle of a run, then a re-run: no orderId is created twice and every row has a definite status', async () => {
  const N = 150;
  const script = fileURLToPath(new URL('./fixtures/run-until-killed.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, sandbox.url, dir, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const reported = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.on('exit', () => reject(new Error(`the run ended before it was killed: ${stderr}`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [, id, status] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        reported.set(id!, status!);
        if (reported.size === 40) {
          child.removeAllListeners('exit');
          child.on('exit', () => resolve());
          child.kill('SIGKILL');
        }
      }
    });
  });

  // The re-run: same state directory, a new batch.
  const ledger = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST' });
  const client = new LyraClient({ baseUrl: sandbox.url, shopId: SHOP, password: PASSWORD });
  const rows = Array.from({ length: N }, (_, i) => validRow(i, order(`K-${String(i).padStart(4, '0')}`)));
  const items: RunItem[] = [];
  try {
    for await (const item of runEmbedded({
      rows: rowsOf(rows),
      ctx: { client, ledger, batchId: 'rerun', retryUncertain: false, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } },
      concurrency: 8,
    })) {
      items.push(item);
    }
  } finally {
    await ledger.close();
    await client.close();
  }

  const created = sandbox.counters().ordersCreated;
  expect(items).toHaveLength(N);
  for (const { row, outcome } of items) {
    const id = row.judgement.ok ? row.judgement.order.orderId : '?';
    expect(Number(created[id] ?? 0), id).toBeLessThanOrEqual(1);
    if (outcome.status === 'CREATED') expect(created[id], id).toBe(1);
    else {
      // Only rows that were in flight at the kill may be uncertain.
      expect(outcome, id).toMatchObject({ status: 'UNCERTAIN', errorCode: INTERRUPTED_CODE });
    }
    if (reported.get(id) === 'CREATED') expect(outcome, id).toMatchObject({ status: 'CREATED', earlier: true });
  }
  expect(items.filter((i) => i.outcome.status === 'UNCERTAIN').length).toBeLessThanOrEqual(8);
});
