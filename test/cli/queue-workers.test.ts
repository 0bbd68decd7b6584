import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
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
  it('paybatch run --redis with three worker processes: every invoice once, never above the rate in any sliding second, the same report as the embedded run', async () => {
    const sb = await startSandboxProcess(['--latency', '30']);
    stopLater = sb.stop;
    const dir = tempDir();
    const file = writeInvoices(dir, 120, 'QR');
    const env = shopEnv(sb.url, redis.url);
    workers = await Promise.all([0, 1, 2].map(() => startWorker(env, ['--concurrency', '4'])));

    // The producer: `run` in queue mode with no worker of its own; the three workers send.
    const run = await runCli(['run', file, '--redis', redis.url, '--workers', '0', '--rate', '30', '--json'], { env });
    expect(run.stderr).not.toContain('internal error');
    expect(run.code).toBe(1); // one INVALID row
    expect(JSON.parse(run.stdout)).toMatchObject({ engine: 'queue', statuses: { CREATED: 120, INVALID: 1 } });

    const c = await sb.counters();
    expect(Object.entries(c.ordersCreated).filter(([, n]) => n > 1)).toEqual([]);
    expect(Object.keys(c.ordersCreated)).toHaveLength(120);
    expect(c.maxPerSecond.create).toBeLessThanOrEqual(30);
    for (const w of workers) w.child.kill('SIGTERM');
    const ends = await Promise.all(workers.map((w) => w.exited));
    expect(ends.map((e) => e.code)).toEqual([0, 0, 0]);
    // The load was shared: every worker sent some.
    for (const w of workers) expect(w.output()).toMatch(/stopped: [1-9]\d* CREATED/);
    // One logger for the long-running processes, as for paybatch ipn: JSON lines, the counts as fields.
    for (const w of workers) {
      const lines = w.output().trim().split('\n').map((l) => JSON.parse(l) as { name: string; event: string; rows?: Record<string, number> });
      expect(lines.every((l) => l.name === 'paybatch-worker')).toBe(true);
      expect(lines.find((l) => l.event === 'worker.stopped')?.rows?.CREATED).toBeGreaterThan(0);
    }

    // The embedded engine on the same file (its own sandbox and state directory) writes the same report, row for row,
    // but for the platform's ids and links.
    const other = await startSandbox();
    const dir2 = tempDir();
    const file2 = join(dir2, 'invoices.csv');
    copyFileSync(file, file2);
    const local = await runCli(['run', file2, '--state-dir', join(dir2, 'state'), '--rate', '30'], { env: { ...shopEnv(other.url, redis.url), REDIS_URL: undefined } });
    await other.stop();
    expect(local.code).toBe(1);
    const strip = (rows: Record<string, string>[]) => rows.map(({ paymentOrderId, paymentURL, batchId, ...rest }) => ({ ...rest, hasId: !!paymentOrderId, hasUrl: !!paymentURL, hasBatch: !!batchId }));
    expect(strip(readReport(join(dir, 'invoices.report.csv')))).toEqual(strip(readReport(join(dir2, 'invoices.report.csv'))));
  }, 60_000);

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
