import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { runCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { startWorker, type WorkerProcess } from '../cli/queue-support.js';
import { makeWorld, type World } from '../follow/world.js';

const TOKEN = 'scrape-token-for-tests';

describe('paybatch worker --metrics-port: each queue worker serves its own figures for Prometheus', () => {
  let w: World;
  let redis: RedisServer;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    [w, redis] = await Promise.all([makeWorld(), startRedis()]);
  }, 60_000);

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await w?.close();
    await redis?.stop();
    if (redis) removeDir(redis.dir);
  });

  it('refuses to serve metrics that no token guards', async () => {
    const r = await runCli(['worker', '--redis', redis.url, '--metrics-port', '0'], { env: { ...w.env, PAYBATCH_METRICS_TOKEN: undefined, PAYBATCH_CONSOLE_PASSWORD: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--metrics-port: set PAYBATCH_METRICS_TOKEN');
  });

  it('counts the API calls and rows of the batch it sent; without the token, 401', async () => {
    worker = await startWorker({ ...w.env, PAYBATCH_METRICS_TOKEN: TOKEN, PAYBATCH_CONSOLE_PASSWORD: undefined }, ['--redis', redis.url, '--metrics-port', '0']);
    const url = worker.output().match(/metrics (http:\/\/\S+\/metrics)/)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    // A batch whose rows only this worker sends (the run starts no worker of its own).
    const file = w.file('queued.csv', 'invoice,amount,currency,channel\nWM-1,10.00,EUR,URL\nWM-2,20.00,EUR,URL\nWM-3,30.00,EUR,URL\n');
    const run = await runCli(['run', file, '--redis', redis.url, '--workers', '0'], { env: w.env });
    expect(run.code, run.stderr).toBe(0);

    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('paybatch_');
    expect((await fetch(url.replace(/\/metrics$/, '/healthz'))).status).toBe(200);

    const text = await (await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const families = parsePrometheusTextFormat(text);
    const jobs = families.find((f) => f.name === 'paybatch_worker_jobs_total')!.metrics as { labels: Record<string, string>; value: string }[];
    expect(jobs.map((m) => [m.labels.status, Number(m.value)])).toEqual([['CREATED', 3]]);
    expect(families.find((f) => f.name === 'paybatch_api_request_duration_seconds')?.type).toBe('HISTOGRAM');
    const creates = text.match(/^paybatch_api_request_duration_seconds_count\{service="Charge\/CreatePaymentOrder",status="200"\} (\d+)$/m);
    expect(Number(creates?.[1])).toBe(3);
    expect(families.find((f) => f.name === 'paybatch_throttle_pauses_total')?.type).toBe('COUNTER');
    // Every request's wait for the queue's shared limiter, one observation each.
    const waited = text.match(/^paybatch_limiter_wait_seconds_count (\d+)$/m);
    expect(Number(waited?.[1])).toBe(3);
    // The rows are the batch's: counted by the process that ran it, never twice across targets.
    expect(families.find((f) => f.name === 'paybatch_orders_total')).toBeUndefined();
  });
});
