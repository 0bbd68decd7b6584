import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countDone } from '../../src/engine/queue/batch.js';
import { RedisLedger } from '../../src/ledger/redis/redis-ledger.js';
import type { LedgerEntry } from '../../src/ledger/ledger.js';
import { DEMO_SHOP_ID, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli, spawnCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { readReport, shopEnv, startWorker, until, writeInvoices, type WorkerProcess } from './queue-support.js';

let redis: RedisServer;
let conn: Redis;
let sandbox: Sandbox | undefined;
let workers: WorkerProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {});
});
afterEach(async () => {
  for (const w of workers) {
    if (w.child.signalCode === 'SIGSTOP') w.child.kill('SIGCONT');
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
  await Promise.all(workers.map((w) => w.exited));
  workers = [];
  await sandbox?.stop();
  sandbox = undefined;
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
  removeDir(redis.dir);
  for (const d of dirs) removeDir(d);
});

function setupBatch(rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'paybatch-queue-'));
  dirs.push(dir);
  const prefix = `t${randomUUID().slice(0, 8)}`;
  return { dir, prefix, file: writeInvoices(dir, rows) };
}

async function ledgerEntries(prefix: string): Promise<LedgerEntry[]> {
  const ledger = new RedisLedger({ redis: conn, shopId: DEMO_SHOP_ID, mode: 'TEST', prefix });
  const out: LedgerEntry[] = [];
  for await (const e of ledger.entries()) out.push(e);
  return out;
}

const duplicates = (s: Sandbox) => Object.entries(s.counters().ordersCreated).filter(([, n]) => n > 1);
const created = (s: Sandbox) => s.counters().requests['Charge/CreatePaymentOrder'] ?? 0;

describe('queue mode when things go wrong', () => {
  it('a queue-mode run that fails before sending (no such file, the API unreachable) says so in one line, exit 2, and ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paybatch-qfail-'));
    dirs.push(dir);
    // Its local worker thread, spawned as the command loads, must not keep the process up once the run has failed.
    const missing = await runCli(['run', join(dir, 'nope.csv'), '--state-dir', dir], { env: shopEnv('http://127.0.0.1:9', redis.url) });
    expect([missing.code, missing.stderr.trim()]).toEqual([2, `paybatch: ${join(dir, 'nope.csv')}: no such file`]);
    const { file } = setupBatch(3);
    const unreachable = await runCli(['run', file, '--redis', redis.url, '--workers', '2', '--state-dir', dir], { env: shopEnv('http://127.0.0.1:9', redis.url) });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/does not answer the credential check.*Nothing was sent/);
  });

  it('SIGTERM drains a worker: requests in flight finish and are recorded, the rest waits for another worker, nothing is sent twice', async () => {
    sandbox = await startSandbox({ latencyMs: 400 });
    const { dir, prefix, file } = setupBatch(20);
    const env = shopEnv(sandbox.url, redis.url);
    const first = await startWorker(env, ['--concurrency', '4', '--prefix', prefix]);
    workers.push(first);
    const batch = (await runCli(['enqueue', file, '--rate', '100', '--prefix', prefix], { env })).stdout.trim();
    await until(() => created(sandbox!) >= 5, 'some orders in flight');
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(first.output()).toContain('finishing requests in flight');

    // Every request that reached the platform is recorded; none is left SENDING.
    const entries = await ledgerEntries(prefix);
    expect(entries.filter((e) => e.state === 'SENDING')).toEqual([]);
    expect(new Set(entries.filter((e) => e.state === 'CREATED').map((e) => e.orderId))).toEqual(new Set(Object.keys(sandbox.counters().ordersCreated)));
    expect(entries.length).toBeLessThan(20);

    workers.push(await startWorker(env, ['--concurrency', '4', '--prefix', prefix]));
    const rep = await runCli(['report', batch, '--prefix', prefix], { env });
    expect(rep.stderr).not.toContain('internal error');
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows.map((r) => r.status)).toEqual(Array(20).fill('CREATED'));
    expect(duplicates(sandbox)).toEqual([]);
  }, 40_000);

  it('a second SIGTERM stops a draining worker at once: exit 143, its rows in flight read UNCERTAIN, none sent twice', async () => {
    sandbox = await startSandbox({ latencyMs: 3_000 });
    const { dir, prefix, file } = setupBatch(6);
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_TIMEOUT_MS: '20000' });
    // Short job locks and claim leases: once it is gone, its jobs and claims lapse in seconds rather than a minute.
    const first = await startWorker(env, ['--concurrency', '3', '--prefix', prefix, '--lock-ms', '2000', '--lease-ms', '4000']);
    workers.push(first);
    const batch = (await runCli(['enqueue', file, '--rate', '100', '--prefix', prefix], { env })).stdout.trim();
    await until(() => created(sandbox!) >= 3, 'three orders in flight');
    const t0 = Date.now();
    first.child.kill('SIGTERM');
    await until(() => first.output().includes('finishing requests in flight'), 'the worker draining');
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    // It did not wait for the answers (3 s away).
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(exit.code).toBe(143);
    expect(first.output()).toContain('stopping now; requests in flight stay SENDING');

    // What it left in flight is never sent again: a later worker reports those rows UNCERTAIN once their claims lapse.
    workers.push(await startWorker(env, ['--concurrency', '3', '--prefix', prefix, '--lock-ms', '1000']));
    const rep = await runCli(['report', batch, '--prefix', prefix], { env });
    expect(rep.stderr).not.toContain('internal error');
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r.status === 'UNCERTAIN').length).toBeGreaterThanOrEqual(3);
    expect(duplicates(sandbox)).toEqual([]);
  }, 90_000);

  it('a stalled worker (frozen past its lock) loses its jobs to another worker, and still no invoice is sent twice', async () => {
    sandbox = await startSandbox({ latencyMs: 300 });
    const { dir, prefix, file } = setupBatch(18);
    // The freeze stays shorter than the HTTP timeout, so woken up the worker reads its answers instead of timing out.
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_TIMEOUT_MS: '20000' });
    const args = ['--concurrency', '3', '--prefix', prefix, '--lock-ms', '1500', '--lease-ms', '30000'];
    workers = [await startWorker(env, args), await startWorker(env, args)];
    const batch = (await runCli(['enqueue', file, '--rate', '100', '--prefix', prefix], { env })).stdout.trim();
    await until(() => created(sandbox!) >= 4, 'first orders in flight');
    // SIGSTOP freezes the whole process, as a blocked event loop would: no lock renewal, no answer handled.
    workers[0]!.child.kill('SIGSTOP');
    const scope = { shopId: DEMO_SHOP_ID, mode: 'TEST' as const, prefix };
    // The other worker takes over every job, the frozen worker's included (their claims refuse a second POST).
    await until(async () => (await countDone(conn, scope, batch)) === 18, 'every job ended', 20_000);
    workers[0]!.child.kill('SIGCONT');
    const rep = await runCli(['report', batch, '--prefix', prefix], { env });
    expect(rep.stderr).not.toContain('internal error');
    expect(duplicates(sandbox)).toEqual([]);
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    // The frozen worker's requests were answered while it slept; woken, it records them: every row is CREATED.
    expect(rows.map((r) => r.status)).toEqual(Array(18).fill('CREATED'));
  }, 40_000);

  it('a worker killed mid-run: the run\'s progress says its rows wait for their lock to lapse, then the run ends', async () => {
    sandbox = await startSandbox({ latencyMs: 1000 });
    const { dir, file } = setupBatch(8);
    const env = shopEnv(sandbox.url, redis.url);
    // Queue mode on the default prefix (run has no --prefix): this test's own shop queue in this Redis.
    const dying = await startWorker(env, ['--concurrency', '4', '--lock-ms', '8000', '--lease-ms', '4000']);
    workers.push(dying);
    const run = spawnCli(['run', file, '--redis', redis.url, '--workers', '0', '--state-dir', dir], { env });
    run.stdin!.end();
    let stderr = '';
    run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ended = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
    await until(() => created(sandbox!) >= 4, 'four orders in flight at the first worker');
    dying.child.kill('SIGKILL');
    await dying.exited;
    workers.push(await startWorker(env, ['--concurrency', '4', '--lock-ms', '8000']));
    await until(() => /taken by workers and not finished; if a worker stopped, its rows go back to the queue once their lock lapses/.test(stderr), 'the progress line naming the lapsing lock', 20_000);
    expect(await ended).not.toBeNull();
    expect(stderr).not.toContain('internal error');
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.status === 'CREATED' || r.status === 'UNCERTAIN')).toBe(true);
    expect(duplicates(sandbox)).toEqual([]);
  }, 60_000);

  it('Redis restarting mid-run: workers and the waiting report recover on their own; no row lost or doubled', async () => {
    sandbox = await startSandbox({ latencyMs: 50 });
    const { dir, prefix, file } = setupBatch(60);
    const env = shopEnv(sandbox.url, redis.url);
    // A job whose fetch the restart cut (moved to active, the answer lost) is orphaned until its lock lapses and
    // BullMQ's stalled check hands it back: ~1 min with the default lock, 5-10 s with this one.
    const args = ['--concurrency', '3', '--prefix', prefix, '--lock-ms', '5000'];
    workers = [await startWorker(env, args), await startWorker(env, args)];
    const batch = (await runCli(['enqueue', file, '--rate', '25', '--prefix', prefix], { env })).stdout.trim();
    const report = spawnCli(['report', batch, '--prefix', prefix], { env });
    report.stdin!.end();
    let out = '';
    report.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    report.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const reported = new Promise<number | null>((resolve) => report.on('exit', (code) => resolve(code)));
    await until(() => created(sandbox!) >= 15, 'a quarter of the batch sent');
    await redis.restart();
    expect(await reported).toBe(1); // one INVALID row
    expect(out).not.toContain('internal error');
    expect(duplicates(sandbox)).toEqual([]);
    const rows = readReport(join(dir, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows.map((r) => r.status)).toEqual(Array(60).fill('CREATED'));
  }, 40_000);
});
