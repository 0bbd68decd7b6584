import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { Queue } from '../../src/engine/queue/bullmq.js';
import { readReport, shopEnv, startWorker, until, type WorkerProcess } from './queue-support.js';

let redis: RedisServer;
let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  [redis, sandbox] = await Promise.all([startRedis(), startSandbox()]);
  dir = mkdtempSync(join(tmpdir(), 'paybatch-schedule-queue-'));
});
afterAll(async () => {
  await sandbox.stop();
  await redis.stop();
  removeDir(redis.dir);
  removeDir(dir);
});

/** A test's job scheduler removed, so that later tests' workers do not run its slots. */
async function unregister(name: string): Promise<void> {
  const r = new Redis(redis.url);
  const q = new Queue('schedules', { connection: r, prefix: 'paybatch' });
  try {
    await q.removeJobScheduler(name);
  } finally {
    await q.close();
    r.disconnect();
  }
}

describe('paybatch schedule --redis: job schedulers that paybatch workers run', () => {
  it('registering twice keeps one scheduler; two workers run each slot once and send every invoice once; --prune unregisters', async () => {
    mkdirSync(join(dir, 'jobs'));
    const lines = ['invoice,amount,currency,channel'];
    for (let i = 0; i < 10; i++) lines.push(`QS-${i},${20 + i}.00,EUR,URL`);
    writeFileSync(join(dir, 'invoices.csv'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'jobs', 'every2s.json'), JSON.stringify({ schedule: '*/2 * * * * *', timezone: 'Europe/Paris', file: '../invoices.csv' }));
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_WEBHOOK_SECRET: undefined });
    const first = await runCli(['schedule', join(dir, 'jobs'), '--redis', redis.url], { env });
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^every2s: registered on redis:\/\/127\.0\.0\.1:\d+ \("\*\/2 \* \* \* \* \*", Europe\/Paris\), next \S+ Europe\/Paris\n$/);
    // Edited and registered again (another machine, a restart): updated, not added.
    writeFileSync(join(dir, 'jobs', 'every2s.json'), JSON.stringify({ schedule: '*/3 * * * * *', timezone: 'Europe/Paris', file: '../invoices.csv' }));
    expect((await runCli(['schedule', join(dir, 'jobs'), '--redis', redis.url], { env })).code).toBe(0);
    const r = new Redis(redis.url);
    try {
      expect(await r.zcard('paybatch:schedules:repeat')).toBe(1);
      const workers = await Promise.all([startWorker(env, ['--schedules']), startWorker(env, ['--schedules'])]);
      const runs = () => workers.flatMap((w) => w.output().split('\n').filter((l) => l.includes('"schedule.run.end"')).map((l) => JSON.parse(l) as { slot: string; outcome: string }));
      await until(() => runs().length >= 2, 'two slots run', 30_000);
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      const slots = runs().map((x) => x.slot);
      expect(new Set(slots).size).toBe(slots.length);
      expect(runs().every((x) => x.outcome === 'done')).toBe(true);
      const created = Object.entries(sandbox.counters().ordersCreated).filter(([id]) => id.startsWith('QS-'));
      expect(created.map(([, n]) => n)).toEqual(Array(10).fill(1));

      const list = await runCli(['schedule', join(dir, 'jobs'), '--redis', redis.url, '--list'], { env });
      expect(list.stdout).toMatch(/^every2s {2}"\*\/3 \* \* \* \* \*" {2}next \S+ Europe\/Paris {2}last: done \(exit 0\) at \S+ Europe\/Paris: invoices\.csv: 10 CREATED, \d+ sent\n$/);

      rmSync(join(dir, 'jobs', 'every2s.json'));
      writeFileSync(join(dir, 'jobs', 'other.json'), JSON.stringify({ schedule: '0 8 1 * *', file: '../invoices.csv' }));
      const pruned = await runCli(['schedule', join(dir, 'jobs'), '--redis', redis.url, '--prune'], { env });
      expect(pruned.stdout).toContain('every2s: unregistered (no job file for it)');
      expect(await r.zrange('paybatch:schedules:repeat', 0, -1)).toEqual(['other']);
    } finally {
      r.disconnect();
    }
  });

  it('a worker on another key prefix is refused the slots in one line: their runs queue under the default prefix, where it would not send', async () => {
    const env = shopEnv(sandbox.url, redis.url);
    const r = await runCli(['worker', '--schedules', '--prefix', 'elsewhere'], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("paybatch: --schedules cannot be used with --prefix: a slot's run queues its rows under the default prefix, which this worker would not serve\n");
  });

  it('a worker killed mid-batch of a slot: another worker takes the slot over, every invoice is sent once, the slot\'s report is written, nothing stays PENDING', async () => {
    // Slow answers, so the batch is mid-way when the worker dies.
    const slow = await startSandbox({ latencyMs: 1000 });
    const workers: WorkerProcess[] = [];
    const r = new Redis(redis.url);
    try {
      const work = join(dir, 'killed');
      mkdirSync(join(work, 'jobs'), { recursive: true });
      const lines = ['invoice,amount,currency,channel'];
      for (let i = 0; i < 12; i++) lines.push(`SK-${i},${30 + i}.00,EUR,URL`);
      writeFileSync(join(work, 'invoices.csv'), `${lines.join('\n')}\n`);
      // One slot, a few seconds from now: the day's only firing of this pattern.
      const at = new Date(Math.ceil((Date.now() + 5000) / 1000) * 1000);
      const pattern = `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
      writeFileSync(join(work, 'jobs', 'killed.json'), JSON.stringify({ schedule: pattern, timezone: 'UTC', file: '../invoices.csv', output: '../runs' }));
      const env = shopEnv(slow.url, redis.url, { PAYBATCH_WEBHOOK_SECRET: undefined });
      expect((await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url], { env })).code).toBe(0);
      // Short locks and leases, so the takeover happens within the test rather than after BullMQ's 30 s.
      const args = ['--schedules', '--concurrency', '2', '--lock-ms', '3000', '--lease-ms', '4000'];
      const sent = () => Object.entries(slow.counters().ordersCreated).filter(([id]) => id.startsWith('SK-'));
      const dying = await startWorker(env, args);
      workers.push(dying);
      await until(() => sent().length >= 3, 'the slot\'s batch under way', 20_000);
      expect(dying.output()).toContain('"event":"schedule.run.start"');
      dying.child.kill('SIGKILL');
      await dying.exited;
      expect(sent().length).toBeLessThan(12);

      const heir = await startWorker(env, args);
      workers.push(heir);
      const slotEnd = () => heir.output().split('\n').filter((l) => l.includes('"schedule.run.end"')).map((l) => JSON.parse(l) as { slot: string; outcome: string; exitCode: number });
      await until(() => slotEnd().length >= 1, 'the slot run again to its end by the other worker', 60_000);
      const end = slotEnd()[0]!;
      expect(end.slot).toBe(at.toISOString());

      // Every invoice reached the platform once: the killed worker's in-flight requests included, none again.
      expect(sent().map(([, n]) => n)).toEqual(Array(12).fill(1));
      const report = join(work, 'runs', `killed-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}.report.csv`);
      expect(existsSync(report)).toBe(true);
      const rows = readReport(report);
      expect(rows.map((x) => x.invoice)).toEqual(lines.slice(1).map((l) => l.split(',')[0]));
      // What the killed worker had in flight may or may not have been answered: UNCERTAIN, never PENDING or sent again.
      const uncertain = rows.filter((x) => x.status === 'UNCERTAIN');
      expect(uncertain.length).toBeLessThanOrEqual(2);
      for (const u of uncertain) expect(u.errorCode).toBe('PB_SENDING');
      expect(rows.filter((x) => x.status === 'CREATED').length + uncertain.length).toBe(12);
      expect(end).toMatchObject(uncertain.length ? { outcome: 'failed', exitCode: 1 } : { outcome: 'done', exitCode: 0 });

      // The killed worker's jobs, of its batch and of its slot, were all taken over: nothing waits in a queue.
      const sends = new Queue(`send-${DEMO_SHOP_ID}-TEST`, { connection: r, prefix: 'paybatch' });
      const slots = new Queue('schedules', { connection: r, prefix: 'paybatch' });
      try {
        await until(async () => {
          const [a, b] = await Promise.all([sends.getJobCounts('waiting', 'active', 'delayed', 'prioritized'), slots.getJobCounts('waiting', 'active')]);
          return Object.values(a).every((n) => n === 0) && Object.values(b).every((n) => n === 0);
        }, 'the queues to be empty', 20_000);
      } finally {
        await Promise.all([sends.close(), slots.close()]);
      }
      const list = await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url, '--list'], { env });
      expect(list.stdout).toContain(`last: ${end.outcome} (exit ${end.exitCode}) at`);
      expect(list.stdout).toContain('invoices.csv: ');
    } finally {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      r.disconnect();
      await slow.stop();
    }
  }, 120_000);

  it('a worker given its settings only by --env-file runs the slots with them, and signs the webhook with the secret of that file', async () => {
    const work = join(dir, 'env-file');
    mkdirSync(join(work, 'jobs'), { recursive: true });
    writeFileSync(join(work, 'invoices.csv'), 'invoice,amount,currency,channel\nEF-1,12.50,EUR,URL\nEF-2,7.00,EUR,URL\n');
    const bodies: { signature: string; body: string }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push({ signature: String(req.headers['x-paybatch-signature']), body });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const secret = 'webhook-secret-of-the-env-file';
    const envFile = join(work, 'shop.env');
    writeFileSync(envFile, `PAYBATCH_API_URL=${sandbox.url}\nPAYBATCH_SHOP_ID=${DEMO_SHOP_ID}\nPAYBATCH_PASSWORD=${DEMO_TEST_PASSWORD}\nPAYBATCH_WEBHOOK_SECRET=${secret}\n`);
    writeFileSync(join(work, 'jobs', 'by-env-file.json'), JSON.stringify({ schedule: '*/2 * * * * *', timezone: 'UTC', file: '../invoices.csv', output: '../runs', notify: { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } }));
    // Nothing of the shop in the environment: the operator keeps it all in shop.env, as docs/queue-mode.md shows.
    const bare = { PAYBATCH_API_URL: undefined, PAYBATCH_PLATFORM: undefined, PAYBATCH_SHOP_ID: undefined, PAYBATCH_PASSWORD: undefined, PAYBATCH_WEBHOOK_SECRET: undefined, REDIS_URL: redis.url };
    expect((await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url, '--env-file', envFile], { env: bare })).code).toBe(0);
    const worker = await startWorker(bare, ['--schedules', '--env-file', envFile]);
    try {
      const ends = () => worker.output().split('\n').filter((l) => l.includes('"schedule.run.end"')).map((l) => JSON.parse(l) as { job: string; outcome: string; msg: string });
      await until(() => ends().some((e) => e.job === 'by-env-file') && bodies.length >= 1, 'a slot run and notified', 20_000);
      expect(ends().find((e) => e.job === 'by-env-file')).toMatchObject({ outcome: 'done' });
      expect(worker.output()).not.toContain('schedule.webhook.failed');
      const first = bodies[0]!;
      expect(first.signature).toBe(`sha256=${createHmac('sha256', secret).update(first.body).digest('hex')}`);
      expect(JSON.parse(first.body)).toMatchObject({ job: 'by-env-file', outcome: 'done' });
      expect(worker.output()).not.toContain(secret);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await unregister('by-env-file');
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  }, 60_000);

  it('a slot whose job file became malformed, then was removed, is one error line naming the file each time, and --list shows it', async () => {
    const work = join(dir, 'broken');
    mkdirSync(join(work, 'jobs'), { recursive: true });
    writeFileSync(join(work, 'invoices.csv'), 'invoice,amount,currency,channel\nBR-1,12.50,EUR,URL\n');
    const file = join(work, 'jobs', 'broken.json');
    writeFileSync(file, JSON.stringify({ schedule: '*/2 * * * * *', timezone: 'UTC', file: '../invoices.csv', output: '../runs' }));
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_WEBHOOK_SECRET: undefined });
    expect((await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url], { env })).code).toBe(0);
    writeFileSync(file, '{ "schedule": "*/2 * * * * *", oops');
    const worker = await startWorker(env, ['--schedules']);
    try {
      const failed = () => worker.output().split('\n').filter((l) => l.includes('"schedule.slot.failed"')).map((l) => JSON.parse(l) as { level: number; job: string; msg: string });
      await until(() => failed().length >= 1, 'the malformed slot to be reported', 20_000);
      expect(failed()[0]).toMatchObject({ level: 50, job: 'broken' });
      expect(failed()[0]!.msg).toMatch(/^broken: slot \S+Z not run: .*broken\.json: not valid JSON/);
      rmSync(file);
      await until(() => failed().some((f) => f.msg.includes('no such job file')), 'the next slot, without its file, to be reported', 20_000);
      writeFileSync(file, JSON.stringify({ schedule: '*/2 * * * * *', timezone: 'UTC', file: '../invoices.csv', output: '../runs' }));
      const list = await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url, '--list'], { env });
      expect(list.stdout).toMatch(/last: failed .*at \S+ UTC: .*no such job file/);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await unregister('broken');
    }
  }, 60_000);

  it('registering says the next slot as it will fire, to the second', async () => {
    const work = join(dir, 'next');
    mkdirSync(join(work, 'jobs'), { recursive: true });
    writeFileSync(join(work, 'invoices.csv'), 'invoice,amount,currency,channel\nNX-1,12.50,EUR,URL\n');
    writeFileSync(join(work, 'jobs', 'monthly.json'), JSON.stringify({ schedule: '0 8 1 * *', timezone: 'UTC', file: '../invoices.csv' }));
    const env = shopEnv(sandbox.url, redis.url, { PAYBATCH_WEBHOOK_SECRET: undefined });
    try {
      const r = await runCli(['schedule', join(work, 'jobs'), '--redis', redis.url], { env });
      expect(r.stdout).toMatch(/^monthly: registered on redis:\/\/127\.0\.0\.1:\d+ \("0 8 1 \* \*", UTC\), next \d{4}-\d{2}-01T08:00:00 UTC\n$/);
    } finally {
      await unregister('monthly');
    }
  });
});
