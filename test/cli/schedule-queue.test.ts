import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { shopEnv, startWorker, until } from './queue-support.js';

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
});
