import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_PROD_PASSWORD, DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { readReport } from '../cli/queue-support.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redis.js';

// The crossings users make without thinking — embedded ↔ queue, another state folder, another machine, a Redis that
// crashed — each counted at the platform: every invoice is created exactly once.

let sandbox: Sandbox;
let redis: RedisServer;
let dir: string;
const CREATE = 'Charge/CreatePaymentOrder';

beforeAll(async () => {
  [sandbox, redis] = await Promise.all([startSandbox({ port: 0 }), startRedis()]);
});
afterAll(async () => {
  await Promise.all([sandbox.stop(), redis.stop()]);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'paybatch-crossing-'));
  sandbox.resetCounters();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PAYBATCH_API_URL: sandbox.url,
    PAYBATCH_PLATFORM: undefined,
    PAYBATCH_SHOP_ID: DEMO_SHOP_ID,
    PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD,
    PAYBATCH_STATE_DIR: join(dir, 'state-A'),
    PAYBATCH_LEDGER: undefined,
    REDIS_URL: undefined,
    ...extra,
  };
}

let tagCount = 0;
function invoices(n: number, name = 'invoices.csv'): { file: string; ids: string[] } {
  const tag = `X${++tagCount}${Date.now().toString(36).slice(-4)}`;
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${String(i + 1).padStart(3, '0')}`);
  const file = join(dir, name);
  writeFileSync(file, `invoice,amount,currency,channel\n${ids.map((id, i) => `${id},${(10 + i).toFixed(2)},EUR,URL`).join('\n')}\n`);
  return { file, ids };
}

/** Orders the sandbox created for these ids, per id. */
const createdOf = (ids: string[]) => ids.map((id) => sandbox.counters().ordersCreated[id] ?? 0);
const creates = () => sandbox.counters().requests[CREATE] ?? 0;

describe('one invoice, one order: switching engines on one machine', () => {
  it('embedded, then the same file in queue mode: nothing is sent again; the local orders are carried over to Redis once, and said', async () => {
    const { file, ids } = invoices(12);
    const first = await runCli(['run', file], { env: env() });
    expect(first.code).toBe(0);
    expect(createdOf(ids)).toEqual(ids.map(() => 1));

    const queued = await runCli(['run', file, '--redis', redis.url, '--json'], { env: env() });
    expect(queued.stderr).toContain('carried the 12 orders of shop 69876357 TEST over from');
    expect(queued.stderr).toMatch(/ledger of record of shop 69876357 TEST is redis:\/\/127\.0\.0\.1:\d+ from now on/);
    expect(queued.code).toBe(0);
    expect(JSON.parse(queued.stdout)).toMatchObject({ engine: 'queue', statuses: { CREATED: 12 } });
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
    expect(readReport(join(dir, 'invoices.report.csv')).map((r) => r.status)).toEqual(ids.map(() => 'CREATED'));

    // And back: the embedded engine follows the ledger of record this machine remembers (the Redis).
    const back = await runCli(['run', file, '--json'], { env: env() });
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ engine: 'embedded', statuses: { CREATED: 12 } });
    expect(back.stderr).not.toContain('carried');
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
  }, 60_000);

  it('queue mode first, then without --redis: the embedded run and status use the Redis ledger; with Redis down, one line and exit 2, never NOT_SENT', async () => {
    const own = await startRedis();
    try {
      const { file, ids } = invoices(8);
      const queued = await runCli(['run', file, '--redis', own.url], { env: env() });
      expect(queued.code).toBe(0);
      const embedded = await runCli(['run', file, '--json'], { env: env() });
      expect(embedded.code).toBe(0);
      expect(JSON.parse(embedded.stdout)).toMatchObject({ engine: 'embedded', statuses: { CREATED: 8 } });
      expect(createdOf(ids)).toEqual(ids.map(() => 1));

      const status = await runCli(['status', file], { env: env() });
      expect(status.stderr).toBe('');
      expect(status.stdout).not.toContain('NOT_SENT');
      expect(status.stdout).toContain('RUNNING');

      await own.stop();
      const down = await runCli(['status', file], { env: env() });
      expect(down.code).toBe(2);
      expect(down.stderr.trim().split('\n')).toHaveLength(1);
      expect(down.stderr).toMatch(/^paybatch: the ledger of record of shop 69876357 TEST is the Redis remembered in .*ledger-of-record\.json/);
      const rerun = await runCli(['run', file], { env: env() });
      expect(rerun.code).toBe(2);
      expect(createdOf(ids)).toEqual(ids.map(() => 1));
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('PAYBATCH_LEDGER=local after the orders moved to Redis is refused with the way back', async () => {
    const { file } = invoices(3);
    expect((await runCli(['run', file], { env: env() })).code).toBe(0);
    expect((await runCli(['run', file, '--redis', redis.url], { env: env() })).code).toBe(0);
    const local = await runCli(['run', file], { env: env({ PAYBATCH_LEDGER: 'local' }) });
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/were carried over to redis:\/\/.* which is their ledger of record now/);
    expect(creates()).toBe(3);
  }, 60_000);

  it('a machine that began in queue mode (no local orders): PAYBATCH_LEDGER=local is refused too, the file moved away is not sent again', async () => {
    const { file, ids } = invoices(3);
    expect((await runCli(['run', file, '--redis', redis.url], { env: env() })).code).toBe(0);
    const moved = join(dir, 'moved.csv');
    copyFileSync(file, moved);
    const local = await runCli(['run', moved], { env: env({ PAYBATCH_LEDGER: 'local' }) });
    expect(local.code).toBe(2);
    expect(local.stderr.trim().split('\n')).toHaveLength(1);
    expect(local.stderr).toMatch(/^paybatch: the ledger of record of shop 69876357 TEST is redis:\/\/127\.0\.0\.1:\d+ \(remembered in .*ledger-of-record\.json\), and PAYBATCH_LEDGER=local names another/);
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
  }, 60_000);

  it('PAYBATCH_LEDGER naming another Redis than the one this machine remembers is refused: an empty Redis would send everything again', async () => {
    const other = await startRedis();
    try {
      const { file, ids } = invoices(3);
      expect((await runCli(['run', file, '--redis', redis.url], { env: env() })).code).toBe(0);
      const moved = join(dir, 'moved.csv');
      copyFileSync(file, moved);
      const elsewhere = await runCli(['run', moved], { env: env({ PAYBATCH_LEDGER: other.url }) });
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toMatch(/and PAYBATCH_LEDGER=redis:\/\/127\.0\.0\.1:\d+ names another: unset PAYBATCH_LEDGER/);
      expect(createdOf(ids)).toEqual(ids.map(() => 1));
      // The same Redis, named by the setting, is of course accepted.
      const same = await runCli(['run', moved], { env: env({ PAYBATCH_LEDGER: redis.url }) });
      expect(same.code).toBe(0);
      expect(createdOf(ids)).toEqual(ids.map(() => 1));
    } finally {
      await other.stop();
    }
  }, 60_000);
});

describe('one invoice, one order: another state folder, another machine', () => {
  it('state folder A, then B with the report beside the input: CREATED rows are confirmed with the platform and adopted, nothing is sent', async () => {
    const { file, ids } = invoices(10);
    expect((await runCli(['run', file], { env: env() })).code).toBe(0);
    const firstReport = readReport(join(dir, 'invoices.report.csv'));
    expect(firstReport[0]).toMatchObject({ shopId: DEMO_SHOP_ID, mode: 'TEST' });

    const b = await runCli(['run', file, '--json'], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
    expect(b.stderr).toContain('10 order(s) unknown to the ledger');
    expect(b.code).toBe(0);
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
    const again = readReport(join(dir, 'invoices.report.csv'));
    expect(again.map((r) => r.paymentOrderId)).toEqual(firstReport.map((r) => r.paymentOrderId));
    // Adopted for good: a third run in B needs no report.
    rmSync(join(dir, 'invoices.report.csv'));
    expect((await runCli(['run', file], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) })).code).toBe(0);
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
  }, 60_000);

  it('a report of another mode is never trusted: its rows are sent in this mode', async () => {
    const { file, ids } = invoices(4);
    expect((await runCli(['run', file], { env: env({ PAYBATCH_PASSWORD: DEMO_PROD_PASSWORD }) })).code).toBe(0);
    const test = await runCli(['run', file], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
    expect(test.stderr).toContain('4 row(s) were sent to another shop or mode: not used as evidence for shop 69876357 TEST');
    expect(test.code).toBe(0);
    // One order per mode: the PRODUCTION one and the TEST one.
    expect(createdOf(ids)).toEqual(ids.map(() => 2));
  }, 60_000);

  it('a report whose payment orders the platform does not know: the rows are not sent, they are UNCERTAIN with the reason', async () => {
    const other = await startSandbox({ port: 0 });
    try {
      const { file, ids } = invoices(3);
      expect((await runCli(['run', file], { env: env({ PAYBATCH_API_URL: other.url }) })).code).toBe(0);
      const r = await runCli(['run', file, '--json'], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ statuses: { UNCERTAIN: 3 } });
      expect(createdOf(ids)).toEqual(ids.map(() => 0));
      const rows = readReport(join(dir, 'invoices.report.csv'));
      expect(rows.map((x) => x.errorCode)).toEqual(ids.map(() => 'PB_REPORTED_NOT_FOUND'));
      expect(rows[0]!.errorMessage).toMatch(/says CREATED as .* but the platform does not know that payment order \(PSP_1000\)/);
    } finally {
      await other.stop();
    }
  }, 60_000);

  it('a report given with --previous-report counts as well, and a missing one is one line, exit 2', async () => {
    const { file, ids } = invoices(5);
    expect((await runCli(['run', file], { env: env() })).code).toBe(0);
    const kept = join(dir, 'kept.report.csv');
    copyFileSync(join(dir, 'invoices.report.csv'), kept);
    rmSync(join(dir, 'invoices.report.csv'));
    const missing = await runCli(['run', file, '--previous-report', join(dir, 'nope.csv')], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^paybatch: the earlier report .*nope\.csv cannot be read/);
    const r = await runCli(['run', file, '--previous-report', kept], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
    expect(r.code).toBe(0);
    expect(createdOf(ids)).toEqual(ids.map(() => 1));
  }, 60_000);
});

describe('moving to a new machine from a state folder whose ledger went to Redis', () => {
  it('ledger import --from-state-dir refuses the old folder\'s stale local copy and names the Redis to use', async () => {
    const before = invoices(2, 'before.csv');
    expect((await runCli(['run', before.file], { env: env() })).code).toBe(0);
    const queued = invoices(3, 'queued.csv');
    expect((await runCli(['run', queued.file, '--redis', redis.url], { env: env() })).code).toBe(0);

    const newMachine = env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') });
    const imported = await runCli(['ledger', 'import', '--from-state-dir', join(dir, 'state-A')], { env: newMachine });
    expect(imported.code).toBe(2);
    expect(imported.stderr.trim().split('\n')).toHaveLength(1);
    expect(imported.stderr).toMatch(/--from-state-dir .*state-A: the ledger of record of shop 69876357 TEST there is redis:\/\/127\.0\.0\.1:\d+, its local database only what was carried over to it: on this machine set PAYBATCH_LEDGER=redis:/);
    expect(existsSync(join(dir, 'state-B', '69876357-TEST.sqlite'))).toBe(false);

    // The way it names: the new machine uses the Redis, and the queued file moved there sends nothing.
    const moved = join(dir, 'moved.csv');
    copyFileSync(queued.file, moved);
    const rerun = await runCli(['run', moved], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B'), PAYBATCH_LEDGER: redis.url }) });
    expect(rerun.code).toBe(0);
    expect(createdOf([...before.ids, ...queued.ids])).toEqual([...before.ids, ...queued.ids].map(() => 1));
  }, 60_000);
});

describe('follow-up commands from a state folder that never ran the batch', () => {
  it('status of a file this ledger knows nothing of says which ledger it read and how to point at the right one', async () => {
    const { file } = invoices(3);
    expect((await runCli(['run', file, '--redis', redis.url], { env: env() })).code).toBe(0);
    const fresh = await runCli(['status', file], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-B') }) });
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toMatch(/NOT_SENT\s+3/);
    expect(fresh.stderr.trim().split('\n')).toHaveLength(1);
    expect(fresh.stderr).toMatch(/^paybatch: none of the 3 orders of .*invoices\.csv is in the ledger of record .*state-B.*69876357-TEST\.sqlite: if they were sent from another state folder or machine, point this one at its ledger \(PAYBATCH_LEDGER=redis:\/\/\.\.\. or --redis, --state-dir\) or paybatch ledger import/);

    const there = await runCli(['status', file], { env: env({ PAYBATCH_STATE_DIR: join(dir, 'state-C'), PAYBATCH_LEDGER: redis.url }) });
    expect(there.code).toBe(0);
    expect(there.stderr).toBe('');
    expect(there.stdout).toMatch(/RUNNING\s+3/);
  }, 60_000);
});

describe('one invoice, one order: Redis', () => {
  it('a Redis that could forget claims is refused before anything is sent, unless the operator accepts the risk by name', async () => {
    const loose = await startRedis(['--appendfsync', 'everysec']);
    try {
      const { file, ids } = invoices(2);
      const r = await runCli(['run', file, '--redis', loose.url], { env: env() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^paybatch: Redis at .* has appendfsync everysec \(a crash can lose the last second of claims\).*appendfsync always/);
      expect(creates()).toBe(0);
      const accepted = await runCli(['run', file, '--redis', loose.url, '--redis-may-lose-claims'], { env: env() });
      expect(accepted.code).toBe(0);
      expect(createdOf(ids)).toEqual([1, 1]);
    } finally {
      await loose.stop();
    }
  }, 60_000);

  it('status and reconcile on such a Redis say how to accept the risk in a way they take, and then work', async () => {
    const loose = await startRedis(['--appendfsync', 'everysec']);
    try {
      const { file } = invoices(2);
      const accepted = { PAYBATCH_REDIS_MAY_LOSE_CLAIMS: 'yes' };
      expect((await runCli(['run', file, '--redis', loose.url], { env: env(accepted) })).code).toBe(0);

      // status was given the Redis; reconcile finds it remembered as the ledger of record.
      for (const args of [['status', file, '--redis', loose.url], ['reconcile', '--out', join(dir, 'reconcile.csv')]]) {
        const refused = await runCli(args, { env: env() });
        expect(refused.code).toBe(2);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
        expect(refused.stderr).toMatch(/has appendfsync everysec .*PAYBATCH_REDIS_MAY_LOSE_CLAIMS=yes/);
        // Neither names a flag it refuses, nor asks to start a Redis that is running.
        expect(refused.stderr).not.toMatch(/\/ --redis-may-lose-claims|Start it/);
        const done = await runCli(args, { env: env(accepted) });
        expect(done.code, done.stderr).toBe(0);
      }
    } finally {
      await loose.stop();
    }
  }, 60_000);

  it('redis-server killed with SIGKILL mid-run and restarted on its AOF: the run finishes, the re-run sends nothing, every invoice once', async () => {
    const own = await startRedis();
    const slow = await startSandbox({ port: 0, latencyMs: 40 });
    try {
      const { file, ids } = invoices(150);
      const e = env({ PAYBATCH_API_URL: slow.url });
      const child = spawnCli(['run', file, '--redis', own.url, '--rate', '100', '--concurrency', '4', '--json'], { env: e });
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const start = Date.now();
      while (Object.keys(slow.counters().ordersCreated).length < 30) {
        if (Date.now() - start > 20_000) throw new Error(`no progress: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await own.stop(true);
      await new Promise((r) => setTimeout(r, 300));
      await own.restart();
      // The run goes on once Redis is back and ends by itself: a job whose fetch Redis answered just before dying is
      // handed back by its worker at once, not after its lock lapses (a minute or more).
      const restartedAt = Date.now();
      const code = await exited;
      expect(Date.now() - restartedAt).toBeLessThan(30_000);
      expect([0, 1]).toContain(code);
      expect(stderr).not.toContain('internal error');
      const counts = ids.map((id) => slow.counters().ordersCreated[id] ?? 0);
      expect(counts.filter((n) => n > 1)).toEqual([]);

      const rerun = await runCli(['run', file, '--redis', own.url, '--json'], { env: e });
      expect([0, 1]).toContain(rerun.code);
      const after = ids.map((id) => slow.counters().ordersCreated[id] ?? 0);
      expect(after.filter((n) => n > 1)).toEqual([]);
      // Whatever was UNCERTAIN stays so (never re-sent); everything else exists exactly once.
      const report = readReport(join(dir, 'invoices.report.csv'));
      for (const [i, row] of report.entries()) {
        if (row.status === 'CREATED') expect(after[i], row.invoice).toBe(1);
        else expect(row.status, `${row.invoice}: ${row.errorMessage}`).toBe('UNCERTAIN');
      }
      expect(report.filter((r) => r.status === 'CREATED').length).toBeGreaterThan(140);
      expect(JSON.parse(stdout)).toMatchObject({ engine: 'queue' });
    } finally {
      await Promise.all([own.stop(), slow.stop()]);
    }
  }, 150_000);
});

describe('the report carries where it was sent', () => {
  it('shopId, mode and batchId on every row, so a later run can tell evidence from noise', async () => {
    const { file } = invoices(2);
    const r = await runCli(['run', file, '--json'], { env: env() });
    const batchId = JSON.parse(r.stdout).batchId as string;
    const rows = readReport(join(dir, 'invoices.report.csv'));
    expect(rows.map((x) => [x.shopId, x.mode, x.batchId])).toEqual([
      [DEMO_SHOP_ID, 'TEST', batchId],
      [DEMO_SHOP_ID, 'TEST', batchId],
    ]);
    expect(existsSync(join(dir, 'state-A', `${DEMO_SHOP_ID}-TEST.sqlite`))).toBe(true);
    expect(readFileSync(join(dir, 'invoices.report.csv'), 'utf8')).not.toContain('testpassword_');
  }, 30_000);
});

describe('a worker answers to the ledger of record too', () => {
  it('a worker whose queue is not on the Redis PAYBATCH_LEDGER names refuses to start, in one line', async () => {
    const r = await runCli(['worker', '--redis', redis.url], { env: env({ PAYBATCH_LEDGER: 'local' }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^paybatch: PAYBATCH_LEDGER names the local ledger as the ledger of record, and this worker's queue is on redis:\/\/127\.0\.0\.1:\d+: a worker claims in its queue's Redis/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
