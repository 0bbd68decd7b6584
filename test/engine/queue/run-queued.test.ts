import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEmbedded } from '../../../src/engine/embedded/run-embedded.js';
import type { RunItem } from '../../../src/engine/run.js';
import { runQueued } from '../../../src/engine/queue/run-queued.js';
import { queueName } from '../../../src/engine/queue/keys.js';
import type { WorkerEvent } from '../../../src/engine/queue/worker.js';
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js';
import { removeDir, startRedis, type RedisServer } from '../../support/redis.js';
import { PASSWORD, SHOP, invalidRow, order, rowsOf, setup, validRow } from '../helpers.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
  removeDir(redis.dir);
});

/** What every run of this file shares: this file's Redis, the sandbox's demo shop, no UNCERTAIN row re-sent. */
const onThisRedis = (sandboxUrl: string) => ({
  redis: { url: redis.url, source: '--redis' as const },
  clientOptions: { baseUrl: sandboxUrl, shopId: SHOP, password: PASSWORD, timeoutMs: 2000 },
  retryUncertain: false,
});
const rowsFor = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => (i === 3 ? invalidRow(i) : validRow(i, order(`${prefix}-${i}`))));

async function collect(run: AsyncIterable<RunItem>): Promise<RunItem[]> {
  const out: RunItem[] = [];
  for await (const item of run) out.push(item);
  return out;
}

/** The report's content minus what differs by nature between two runs (the platform's ids and links). */
const content = (items: RunItem[]) =>
  items.map(({ row, outcome }) => ({ line: row.line, status: outcome.status, attempts: outcome.attempts, errorCode: outcome.errorCode, earlier: outcome.earlier ?? false, hasUrl: !!outcome.paymentURL }));

describe('paybatch run --redis: the same job through BullMQ', () => {
  it('two local workers send every row once, within the rate, and report like the embedded engine', async () => {
    const sandbox: Sandbox = await startSandbox({ latencyMs: 5 });
    const other: Sandbox = await startSandbox({ latencyMs: 5 });
    try {
      const prefix = `t-${randomUUID().slice(0, 8)}`;
      const rows = rowsFor(60, 'Q1');
      const queued = await collect(
        runQueued({
          ...onThisRedis(sandbox.url),
          rows: rowsOf(rows),
          batchId: 'batch-1',
          perSecond: 40,
          concurrency: 4,
          localWorkers: 2,
          prefix,
          pollMs: 50,
        }),
      );
      const c = sandbox.counters();
      expect(Object.values(c.ordersCreated).every((n) => n === 1)).toBe(true);
      expect(Object.keys(c.ordersCreated)).toHaveLength(59);
      expect(c.maxPerSecond.create).toBeLessThanOrEqual(40);

      const env = await setup(other.url);
      const local = await collect(runEmbedded({ rows: rowsOf(rows), ctx: env.ctx({ batchId: 'batch-1' }), concurrency: 4, perSecond: 40 }));
      expect(content(queued)).toEqual(content(local));
      expect(queued.map((i) => i.row.index)).toEqual(rows.map((r) => r.index));
      await env.done?.();

      // Running the same file again sends nothing: every row is answered from the Redis ledger.
      const again = await collect(
        runQueued({
          ...onThisRedis(sandbox.url),
          rows: rowsOf(rows),
          batchId: 'batch-2',
          localWorkers: 1,
          prefix,
          pollMs: 50,
        }),
      );
      expect(sandbox.counters().requests['Charge/CreatePaymentOrder']).toBe(59);
      expect(again.filter((i) => i.outcome.status === 'CREATED').every((i) => i.outcome.earlier)).toBe(true);
      // Job data holds no credentials.
      const conn = new Redis(redis.url);
      const jobKeys = (await conn.keys(`${prefix}:send-${SHOP}-TEST:*`)).filter((k) => /:batch-1\.[0-9a-f]+$/.test(k));
      // A job carries a few consecutive rows; every valid row is in exactly one job.
      const carried: string[] = [];
      for (const k of jobKeys) {
        const job = await conn.hgetall(k);
        expect(JSON.stringify(job)).not.toContain('testpassword_');
        const data = JSON.parse(job.data!) as { rows: { orderId: string }[] };
        expect(Object.keys(data).sort()).toEqual(['batchId', 'retryUncertain', 'rows']);
        expect(data.rows.length).toBeLessThanOrEqual(10);
        for (const row of data.rows) expect(Object.keys(row).sort()).toEqual(['fingerprint', 'orderId', 'request', 'sent']);
        carried.push(...data.rows.map((r) => r.orderId));
      }
      expect(jobKeys.length).toBeLessThan(59);
      expect(carried.sort()).toEqual(Object.keys(c.ordersCreated).sort());
      for (const k of await conn.keys(`${prefix}:*`)) if ((await conn.type(k)) === 'hash') expect(JSON.stringify(await conn.hgetall(k))).not.toContain(PASSWORD);
      conn.disconnect();
    } finally {
      await sandbox.stop();
      await other.stop();
    }
  }, 30_000);

  it('a listener of the local workers\' events hears every finished row once, with its status', async () => {
    const sandbox = await startSandbox({ latencyMs: 0 });
    try {
      const prefix = `t-${randomUUID().slice(0, 8)}`;
      const rows = rowsFor(12, 'EV');
      const events: WorkerEvent[] = [];
      const out = await collect(runQueued({ ...onThisRedis(sandbox.url), rows: rowsOf(rows), batchId: 'ev-1', concurrency: 4, localWorkers: 1, prefix, worker: { onEvent: (e) => events.push(e) } }));
      expect(out.filter((i) => i.outcome.status === 'CREATED')).toHaveLength(11);
      const valid = rows.filter((r) => r.judgement.ok).map((r) => (r.judgement.ok ? r.judgement.order.orderId : ''));
      const done = events.filter((e): e is Extract<WorkerEvent, { type: 'done' }> => e.type === 'done');
      expect(done.map((e) => e.orderId).sort()).toEqual([...valid].sort());
      expect(done.every((e) => e.status === 'CREATED' && e.batchId === 'ev-1')).toBe(true);
    } finally {
      await sandbox.stop();
    }
  }, 30_000);

  it('throttled by the platform (PSP_106): every worker pauses, throttled rows go back in the queue, all end CREATED once', async () => {
    // The platform allows 10 a second; the queue is told 40: the platform's PSP_106 has to do the limiting.
    const sandbox = await startSandbox({ throttlePerSecond: 10 });
    try {
      const rows = rowsFor(30, 'TH').filter((r) => r.judgement.ok);
      const out = await collect(
        runQueued({
          ...onThisRedis(sandbox.url),
          rows: rowsOf(rows),
          batchId: 'batch-th',
          perSecond: 40,
          concurrency: 4,
          localWorkers: 2,
          prefix: `t-${randomUUID().slice(0, 8)}`,
          pollMs: 50,
          // One attempt per job, so a throttled row ends its job throttled and takes the way back through the queue.
          worker: { retry: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 200 } },
        }),
      );
      const c = sandbox.counters();
      expect(c.errors.PSP_106).toBeGreaterThan(0);
      // A row throttled on its only attempt was recorded FAILED, went back in the queue, and was sent again.
      expect(Math.max(...out.map((i) => i.outcome.attempts))).toBeGreaterThan(1);
      expect(out.map((i) => i.outcome.status)).toEqual(Array(rows.length).fill('CREATED'));
      expect(Object.values(c.ordersCreated).every((n) => n === 1)).toBe(true);
    } finally {
      await sandbox.stop();
    }
  }, 30_000);

  it('stopped by a signal mid-run: in-flight requests are recorded, every row is reported, a re-run sends the rest once', async () => {
    const sandbox = await startSandbox({ latencyMs: 200 });
    try {
      const prefix = `t-${randomUUID().slice(0, 8)}`;
      const rows = rowsFor(40, 'SG');
      const stop = new AbortController();
      const base = {
        ...onThisRedis(sandbox.url),
        concurrency: 4,
        localWorkers: 1,
        prefix,
        pollMs: 50,
      };
      const first: RunItem[] = [];
      const run = runQueued({ ...base, rows: rowsOf(rows), batchId: 'sig-1', signal: stop.signal });
      for await (const item of run) {
        first.push(item);
        if (first.filter((i) => i.outcome.status === 'CREATED').length === 5) stop.abort();
      }
      expect((await run.result).aborted?.code).toBe('PB_INTERRUPTED_RUN');
      expect(first.map((i) => i.row.index)).toEqual(rows.map((r) => r.index));
      const statuses = new Set(first.map((i) => i.outcome.status));
      expect([...statuses].every((s) => ['CREATED', 'PENDING', 'INVALID'].includes(s))).toBe(true);
      expect(first.filter((i) => i.outcome.status === 'PENDING').length).toBeGreaterThan(0);
      // What reached the platform is what the report says was created.
      expect(first.filter((i) => i.outcome.status === 'CREATED').length).toBe(Object.keys(sandbox.counters().ordersCreated).length);

      const second = await collect(runQueued({ ...base, rows: rowsOf(rows), batchId: 'sig-2' }));
      expect(second.filter((i) => i.outcome.status === 'CREATED')).toHaveLength(39);
      expect(Object.values(sandbox.counters().ordersCreated).every((n) => n === 1)).toBe(true);
      expect(Object.keys(sandbox.counters().ordersCreated)).toHaveLength(39);
    } finally {
      await sandbox.stop();
    }
  }, 30_000);
  it('a worker never holds more claims than its concurrency, though BullMQ runs a few more of its jobs; the run starts on a small chunk and is woken by every finished row', async () => {
    const sandbox = await startSandbox({ latencyMs: 20 });
    const watcher = new Redis(redis.url);
    try {
      const prefix = `t-${randomUUID().slice(0, 8)}`;
      const rows = Array.from({ length: 400 }, (_, i) => validRow(i, order(`CS-${i}`)));
      const claimsKey = `${prefix}:ledger:{${SHOP}:TEST}:claims`;
      let most = 0;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          most = Math.max(most, await watcher.hlen(claimsKey));
          await new Promise((r) => setImmediate(r));
        }
      })();
      const enqueued: number[] = [];
      const out = await collect(
        runQueued({
          ...onThisRedis(sandbox.url),
          rows: rowsOf(rows),
          batchId: 'slots-1',
          perSecond: 1000,
          concurrency: 3,
          localWorkers: 1,
          prefix,
          // Were outcomes only read once a minute, this run would outlast the test: finished rows wake it.
          pollMs: 60_000,
          onEnqueued: (n) => enqueued.push(n),
        }),
      );
      watching = false;
      await watch;
      expect(out.map((i) => i.outcome.status)).toEqual(Array(rows.length).fill('CREATED'));
      expect(Object.values(sandbox.counters().ordersCreated).every((n) => n === 1)).toBe(true);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(3);
      // Workers get their first rows after 50 are read, not a thousand.
      expect(enqueued).toEqual([50, 150, 350, 400]);
    } finally {
      watcher.disconnect();
      await sandbox.stop();
    }
  }, 30_000);

  it('run twice with an expiry counted from each run (--expires-in): the second run sends nothing and notes no difference', async () => {
    const sandbox = await startSandbox({ latencyMs: 0 });
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    try {
      // The judge gives such rows an expiry from the run's clock: it differs between runs, and is not an edit of the row.
      const rows = (expiry: string) =>
        Array.from({ length: 5 }, (_, i) => {
          const r = validRow(i, order(`EXP-${i}`));
          if (!r.judgement.ok) throw new Error('valid row expected');
          r.judgement.order.request = { ...r.judgement.order.request, expirationDate: expiry };
          r.judgement.order.expirationDate = expiry;
          r.judgement.order.expiresFromDefault = true;
          return r;
        });
      const run = (batchId: string, expiry: string) => collect(runQueued({ ...onThisRedis(sandbox.url), rows: rowsOf(rows(expiry)), batchId, localWorkers: 1, prefix }));
      const first = await run('exp-1', '2027-01-01T10:00:00+00:00');
      const second = await run('exp-2', '2027-01-01T10:05:00+00:00');
      expect(first.map((i) => i.outcome.status)).toEqual(Array(5).fill('CREATED'));
      expect(second.map((i) => [i.outcome.status, i.outcome.earlier ?? false, i.outcome.note ?? ''])).toEqual(Array(5).fill(['CREATED', true, '']));
      expect(Object.values(sandbox.counters().ordersCreated)).toEqual(Array(5).fill(1));
    } finally {
      await sandbox.stop();
    }
  }, 30_000);

  it('the workers take the whole first chunk before the next one is added: the first wave leaves together', async () => {
    // BullMQ's worker starts none of the jobs it fetches until a fetch comes back empty or it holds its concurrency;
    // a producer adding chunk after chunk kept it fetching (one job at a time) while the first rows waited.
    const sandbox = await startSandbox({ latencyMs: 20 });
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const queue = new Queue(queueName({ shopId: SHOP, mode: 'TEST' }), { connection: { url: redis.url }, prefix });
    try {
      const rows = Array.from({ length: 300 }, (_, i) => validRow(i, order(`FC-${i}`)));
      const enqueued: number[] = [];
      const out = await collect(
        runQueued({ ...onThisRedis(sandbox.url), rows: rowsOf(rows), batchId: 'first-1', perSecond: 100_000, concurrency: 50, localWorkers: 1, prefix, onEnqueued: (n) => enqueued.push(n) }),
      );
      expect(out.map((i) => i.outcome.status)).toEqual(Array(rows.length).fill('CREATED'));
      expect(enqueued.slice(0, 2)).toEqual([50, 150]);
      // The jobs of the first chunk (rows 0–49) and of the second (rows 50–149).
      const jobs = await queue.getJobs(['completed']);
      const firstRow = (j: (typeof jobs)[number]) => Number((j.data as { rows: { orderId: string }[] }).rows[0]!.orderId.slice(3));
      const first = jobs.filter((j) => firstRow(j) < 50);
      const second = jobs.filter((j) => firstRow(j) >= 50 && firstRow(j) < 150);
      expect(first.length).toBeGreaterThanOrEqual(5);
      const lastTaken = Math.max(...first.map((j) => j.processedOn!));
      const nextAdded = Math.min(...second.map((j) => j.timestamp));
      expect(lastTaken).toBeLessThanOrEqual(nextAdded);
    } finally {
      await queue.close();
      await sandbox.stop();
    }
  }, 30_000);
});
