import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../../src/engine/local.js';
import { openFileLedger } from '../../src/ledger/file-journal.js';
import { LyraClient } from '../../src/lyra/client.js';
import { judgeFile } from '../../src/orders/judge-file.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { toJudgeFileOptions } from '../../src/cli/input-options.js';
import { runCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { readReport, shopEnv, startSandboxProcess, startWorker, until, writeInvoices, type WorkerProcess } from './queue-support.js';

let redis: RedisServer;
let sandbox: Sandbox | undefined;
let stopLater: (() => Promise<void>) | undefined;
let workers: WorkerProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  workers = [];
  await sandbox?.stop();
  await stopLater?.();
  stopLater = undefined;
});
afterAll(async () => {
  await redis.stop();
  removeDir(redis.dir);
  for (const d of dirs) removeDir(d);
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'paybatch-queue-'));
  dirs.push(d);
  return d;
}

const duplicates = (s: Sandbox): [string, number][] => Object.entries(s.counters().ordersCreated).filter(([, n]) => n > 1);

describe('queue mode across processes: paybatch enqueue, three paybatch workers, paybatch report', () => {
  it('sends every invoice exactly once, never above the rate in any sliding second, and reports like the embedded engine', async () => {
    const sb = await startSandboxProcess(['--latency', '30']);
    stopLater = sb.stop;
    const dir = tempDir();
    const file = writeInvoices(dir, 120);
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const env = shopEnv(sb.url, redis.url);
    workers = await Promise.all([0, 1, 2].map(() => startWorker(env, ['--concurrency', '4', '--prefix', prefix])));

    const enq = await runCli(['enqueue', file, '--rate', '30', '--prefix', prefix], { env });
    expect(enq.stderr).toContain('120 queued');
    const batch = enq.stdout.trim();
    const rep = await runCli(['report', batch, '--prefix', prefix, '--out', join(dir, 'queue.report.csv')], { env });
    expect(rep.stderr).not.toContain('internal error');
    expect(rep.code).toBe(1); // one INVALID row

    const c = await sb.counters();
    expect(Object.entries(c.ordersCreated).filter(([, n]) => n > 1)).toEqual([]);
    expect(Object.keys(c.ordersCreated)).toHaveLength(120);
    expect(c.maxPerSecond.create).toBeLessThanOrEqual(30);
    // Every worker took part: the load was shared.
    for (const w of workers) w.child.kill('SIGTERM');
    const ends = await Promise.all(workers.map((w) => w.exited));
    expect(ends.map((e) => e.code)).toEqual([0, 0, 0]);
    for (const w of workers) expect(w.output()).toMatch(/stopped: \d+ CREATED/);

    // The embedded engine on the same file (its own sandbox and file ledger) gives the same report content.
    const other = await startSandbox();
    const client = new LyraClient({ baseUrl: other.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD, timeoutMs: 2000 });
    const ledger = await openFileLedger({ dir: join(dir, 'state'), shopId: DEMO_SHOP_ID, mode: 'TEST' });
    const { rows } = await judgeFile(file, toJudgeFileOptions({}, new Date()));
    const local: { line: number; status: string; attempts: number; errorCode: string }[] = [];
    for await (const { row, outcome } of runLocal({ rows, ctx: { client, ledger, batchId: batch, retryUncertain: false, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } }, concurrency: 8 })) {
      local.push({ line: row.line, status: outcome.status, attempts: outcome.attempts, errorCode: outcome.errorCode ?? '' });
    }
    await ledger.close();
    await client.close();
    await other.stop();
    const queued = readReport(join(dir, 'queue.report.csv'));
    expect(queued.map((r, i) => ({ line: local[i]!.line, status: r.status, attempts: Number(r.attempts), errorCode: r.errorCode }))).toEqual(local);
    expect(queued.filter((r) => r.status === 'CREATED').every((r) => /^[0-9a-f]{32}$/.test(r.paymentOrderId!))).toBe(true);
  }, 40_000);

  it('a worker killed with -9 mid-run: the others finish the batch, nothing is sent twice, its in-flight rows read UNCERTAIN', async () => {
    const sandbox = await startSandbox({ latencyMs: 300 });
    stopLater = () => sandbox.stop();
    const dir = tempDir();
    const file = writeInvoices(dir, 60);
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const env = shopEnv(sandbox.url, redis.url);
    const args = ['--concurrency', '3', '--prefix', prefix, '--lock-ms', '2000', '--lease-ms', '2500'];
    workers = await Promise.all([0, 1, 2].map(() => startWorker(env, args)));

    const enq = await runCli(['enqueue', file, '--rate', '40', '--prefix', prefix], { env });
    const batch = enq.stdout.trim();
    await until(() => (sandbox.counters().requests['Charge/CreatePaymentOrder'] ?? 0) >= 12, 'a dozen orders sent');
    workers[0]!.child.kill('SIGKILL');
    const rep = await runCli(['report', batch, '--prefix', prefix, '--json'], { env });
    expect(rep.stderr).not.toContain('internal error');

    expect(duplicates(sandbox)).toEqual([]);
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows).toHaveLength(60);
    const uncertain = rows.filter((r) => r.status === 'UNCERTAIN');
    // At most what the killed worker had in flight; each of them says why.
    expect(uncertain.length).toBeLessThanOrEqual(3);
    for (const r of uncertain) expect(r.errorCode).toBe('PB_SENDING');
    expect(rows.filter((r) => r.status === 'CREATED').length + uncertain.length).toBe(60);
  }, 40_000);
});
