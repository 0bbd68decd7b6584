import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { readReport } from '../follow/csv.js';
import { makeWorld, waitForLine, type World } from '../follow/world.js';

const PASSWORD = 'console-secret-for-tests';

/** Orders the sandbox created per invoice of `prefix`, by invoice. */
const created = (w: World, prefix: string): [string, number][] => Object.entries(w.sandbox.counters().ordersCreated).filter(([id]) => id.startsWith(`${prefix}-`)).sort();

/** A job folder beside its invoices: a 6-field schedule firing every 2 seconds, reports into runs/. */
function everyTwoSeconds(w: World, prefix: string): string {
  writeFileSync(join(w.dir, 'monthly.csv'), `invoice,amount,currency,channel\n${prefix}-1,12.50,EUR,URL\n${prefix}-2,30.00,EUR,URL\n`);
  mkdirSync(join(w.dir, 'jobs'));
  writeFileSync(join(w.dir, 'jobs', 'monthly.json'), JSON.stringify({ schedule: '*/2 * * * * *', timezone: 'Europe/Paris', file: '../monthly.csv', output: '../runs' }));
  return join(w.dir, 'jobs');
}

describe('paybatch serve --schedules: the job files fire inside the console\'s process', () => {
  let w: World | undefined;
  let redis: RedisServer | undefined;
  let serve: ChildProcess | undefined;

  afterEach(async () => {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve!.once('exit', r));
    }
    await w?.close();
    if (redis) {
      await redis.stop();
      removeDir(redis.dir);
    }
    [w, redis, serve] = [undefined, undefined, undefined];
  });

  /** Starts serve; resolves with its base URL. */
  const start = async (args: string[]): Promise<string> => {
    serve = spawnCli(['serve', '--port', '0', ...args], { env: { ...w!.env, PAYBATCH_CONSOLE_PASSWORD: PASSWORD } });
    serve.stderr!.resume();
    return (await waitForLine(serve, 'stdout', /paybatch serve: console/)).match(/console (http:\/\/\S+?)\/? /)![1]!;
  };
  const page = async (base: string, path: string): Promise<string> => (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${PASSWORD}` } })).text();
  /** The batch list's first finished run started by the job, as the page shows it. */
  const scheduledRow = async (base: string): Promise<string | undefined> => {
    const rows = (await page(base, '/')).split('<tr class="').slice(1);
    return rows.find((r) => r.startsWith('finished') && r.includes('schedule monthly'));
  };

  it('embedded: a slot runs the job, its batch is listed as started by the job, and its report is in the job\'s output', async () => {
    w = await makeWorld();
    const base = await start(['--schedules', everyTwoSeconds(w, 'SE')]);
    await expect.poll(() => scheduledRow(base), { timeout: 20_000, interval: 500 }).toBeDefined();
    const row = (await scheduledRow(base))!;
    expect(row).toContain('monthly.csv');
    expect(row).toContain('CREATED 2');
    expect(row).toContain('42.50 EUR');

    const reports = readdirSync(join(w.dir, 'runs')).filter((f) => f.endsWith('.report.csv'));
    expect(reports.length).toBeGreaterThan(0);
    const report = readReport(join(w.dir, 'runs', reports.sort()[0]!));
    expect(report.map((r) => [r.invoice, r.status])).toEqual([['SE-1', 'CREATED'], ['SE-2', 'CREATED']]);
    // Slot after slot runs the same file: every invoice was sent once.
    expect(created(w, 'SE')).toEqual([['SE-1', 1], ['SE-2', 1]]);
  });

  it('--redis: the jobs are registered as job schedulers, serve takes the slots, its worker threads send', async () => {
    [w, redis] = await Promise.all([makeWorld(), startRedis()]);
    const base = await start(['--redis', redis.url, '--workers', '1', '--schedules', everyTwoSeconds(w, 'SQ')]);
    await expect.poll(() => scheduledRow(base), { timeout: 30_000, interval: 500 }).toBeDefined();
    const row = (await scheduledRow(base))!;
    expect(row).toContain('CREATED 2');
    const batchId = row.match(/href="\/batches\/([^"]+)"/)![1]!;
    expect(await page(base, `/batches/${batchId}`)).toContain('started by schedule monthly, queue engine');
    expect(created(w, 'SQ')).toEqual([['SQ-1', 1], ['SQ-2', 1]]);
  });
});
