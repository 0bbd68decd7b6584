import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli } from '../support/cli.js';
import { freePort, removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { readReport, shopEnv, startWorker, writeInvoices } from './queue-support.js';
import { Redis } from 'ioredis';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';
import { queueKeys } from '../../src/engine/queue/keys.js';

let redis: RedisServer;
let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  [redis, sandbox] = await Promise.all([startRedis(), startSandbox()]);
  dir = mkdtempSync(join(tmpdir(), 'paybatch-queue-'));
});
afterAll(async () => {
  await sandbox.stop();
  await redis.stop();
  removeDir(redis.dir);
  removeDir(dir);
});

describe('queue commands say what is wrong in one line', () => {
  it('a worker without Redis names the flag and the variable', async () => {
    const r = await runCli(['worker'], { env: shopEnv(sandbox.url, '', { REDIS_URL: undefined }) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('paybatch: queue mode needs Redis: pass --redis redis://host:6379 or set REDIS_URL');
  });

  it('a Redis that is not there: the URL (without its password) and where it came from', async () => {
    const port = await freePort();
    const r = await runCli(['enqueue', writeInvoices(dir, 2)], { env: shopEnv(sandbox.url, `redis://:hunter2@127.0.0.1:${port}`) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^paybatch: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`));
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // The cause as the system gave it, not ioredis' "Connection is closed.." after it gave up.
    expect(r.stderr).toContain(`: connect ECONNREFUSED 127.0.0.1:${port}. Is redis-server running?`);
  });

  it('a Redis that may evict keys is refused, with the fix', async () => {
    const lru = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    try {
      const r = await runCli(['worker', '--redis', lru.url], { env: shopEnv(sandbox.url, '') });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('CONFIG SET maxmemory-policy noeviction');
    } finally {
      await lru.stop();
      removeDir(lru.dir);
    }
  });
});

describe('a batch nobody can send', () => {
  it('report --no-wait shows progress and exits 4 while no worker runs', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const env = shopEnv(sandbox.url, redis.url);
    const batch = (await runCli(['enqueue', writeInvoices(dir, 5, 'NW'), '--prefix', prefix], { env })).stdout.trim();
    const r = await runCli(['report', batch, '--no-wait', '--prefix', prefix], { env });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain(`batch ${batch}: 0 of 5 rows finished (1 invalid, not queued)`);
  });

  it('a worker whose password the platform refuses stops the batch: the worker exits 3, the report says STOPPED, nothing is sent', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const sub = mkdtempSync(join(dir, 'auth-'));
    const env = shopEnv(sandbox.url, redis.url);
    const file = writeInvoices(sub, 6, 'AU');
    const batch = (await runCli(['enqueue', file, '--prefix', prefix], { env })).stdout.trim();
    const before = sandbox.counters().ordersCreated;
    const worker = await runCli(['worker', '--prefix', prefix], { env: { ...env, PAYBATCH_PASSWORD: 'testpassword_NOTTHEONE' } });
    expect(worker.code).toBe(3);
    expect(worker.stderr).toMatch(/refused the shop id or password/);
    expect(worker.stderr + worker.stdout).not.toContain('testpassword_');

    const rep = await runCli(['report', batch, '--prefix', prefix], { env });
    expect(rep.code).toBe(3);
    expect(rep.stdout).toContain('STOPPED');
    const rows = readReport(join(sub, 'invoices.report.csv')).filter((r) => r.status !== 'INVALID');
    expect(rows.map((r) => r.status)).toEqual(Array(6).fill('PENDING'));
    expect(sandbox.counters().ordersCreated).toEqual(before);
  }, 30_000);
});

describe('only a shop that authenticated gets its orders sent', () => {
  it('enqueue with a password the platform refuses: exit 2 in one line, nothing queued', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_PASSWORD: 'testpassword_NOTTHEONE' });
    const r = await runCli(['enqueue', writeInvoices(mkdtempSync(join(dir, 'enq-')), 3, 'EA'), '--prefix', prefix], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/refused the shop id and password/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('NOTTHEONE');
    const client = new Redis(redis.url);
    try {
      expect(await client.keys(`${prefix}*`)).toEqual([]);
    } finally {
      client.disconnect();
    }
  });

  it('a batch whose seal is not the shop\'s (forged in Redis): the worker sends none of it, exits 3 naming the batch', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const env = shopEnv(sandbox.url, redis.url);
    const sub = mkdtempSync(join(dir, 'seal-'));
    const batch = (await runCli(['enqueue', writeInvoices(sub, 4, 'SE'), '--prefix', prefix], { env })).stdout.trim();
    const client = new Redis(redis.url);
    try {
      const key = queueKeys({ shopId: DEMO_SHOP_ID, mode: 'TEST', prefix }).batch(batch);
      expect(await client.hget(key, 'seal')).toMatch(/^"[0-9a-f]{64}"$/);
      await client.hset(key, 'seal', JSON.stringify('0'.repeat(64)));
    } finally {
      client.disconnect();
    }
    const before = sandbox.counters().ordersCreated;
    const worker = await startWorker(env, ['--prefix', prefix]);
    const exited = await worker.exited;
    expect(exited.code).toBe(3);
    expect(worker.output()).toContain(`batch ${batch} was not queued with this shop's password`);
    expect(sandbox.counters().ordersCreated).toEqual(before);
  }, 30_000);
});

describe('a queue machine whose settings are all in one env file', () => {
  it('enqueue, worker and report read REDIS_URL from --env-file, as run does: the batch is sent and reported', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const sub = mkdtempSync(join(dir, 'envfile-'));
    const envFile = join(sub, 'shop.env');
    writeFileSync(envFile, `PAYBATCH_API_URL=${sandbox.url}\nPAYBATCH_SHOP_ID=${DEMO_SHOP_ID}\nPAYBATCH_PASSWORD=${DEMO_TEST_PASSWORD}\nREDIS_URL=${redis.url}\n`);
    // Nothing of the shop or the queue in the environment: only the file says where Redis is.
    const env = { ...shopEnv('', ''), PAYBATCH_API_URL: undefined, PAYBATCH_SHOP_ID: undefined, PAYBATCH_PASSWORD: undefined, REDIS_URL: undefined, PAYBATCH_STATE_DIR: join(sub, 'state') };
    const file = writeInvoices(sub, 3, 'EF');
    const enq = await runCli(['enqueue', file, '--env-file', envFile, '--prefix', prefix], { env });
    expect(enq.code).toBe(0);
    const batch = enq.stdout.trim();
    expect(batch).toMatch(/^b\d{8}T\d{6}Z-[0-9a-z]{4}$/);
    const worker = await startWorker(env, ['--env-file', envFile, '--prefix', prefix]);
    try {
      const rep = await runCli(['report', batch, '--env-file', envFile, '--prefix', prefix], { env });
      expect(rep.code).toBe(1); // the row without an invoice number is INVALID
      expect(readReport(join(sub, 'invoices.report.csv')).map((r) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED', 'INVALID']);
      expect(['EF-0000', 'EF-0001', 'EF-0002'].map((id) => sandbox.counters().ordersCreated[id])).toEqual([1, 1, 1]);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 60_000);
});
