import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { spawnCli } from '../support/cli.js';
import { removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { makeWorld, waitForLine, type World } from '../follow/world.js';

const PASSWORD = 'console-secret-for-tests';
const METRICS_TOKEN = 'scrape-token-for-tests';

describe('paybatch serve --redis: a console batch through the queue', () => {
  let w: World;
  let redis: RedisServer;
  let serve: ChildProcess;
  let base: string;
  /** A script's requests: the token instead of a session, and its own site as Origin (a form post without one is refused). */
  const headers = (): Record<string, string> => ({ authorization: `Bearer ${PASSWORD}`, origin: base });

  beforeAll(async () => {
    [w, redis] = await Promise.all([makeWorld(), startRedis()]);
    serve = spawnCli(['serve', '--port', '0', '--redis', redis.url, '--workers', '1'], { env: { ...w.env, PAYBATCH_CONSOLE_PASSWORD: PASSWORD, PAYBATCH_METRICS_TOKEN: METRICS_TOKEN } });
    serve.stderr!.resume();
    base = (await waitForLine(serve, 'stdout', /paybatch serve: console/)).match(/console (http:\/\/\S+?)\/? /)![1]!;
  }, 60_000);

  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
    }
    await w?.close();
    await redis?.stop();
    if (redis) removeDir(redis.dir);
  });

  it('sends the upload through BullMQ workers, and /metrics carries BullMQ\'s queue metrics', async () => {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(w.file('q.csv', 'invoice,amount,currency,channel\nQ-1,10.00,EUR,URL\nQ-2,20.00,EUR,URL\nQ-3,abc,EUR,URL\n'))]), 'q.csv');
    const checked = await fetch(`${base}/send`, { method: 'POST', body: form, headers: headers(), redirect: 'manual' });
    expect(checked.status).toBe(303);
    const upload = checked.headers.get('location')!;
    const page = await (await fetch(`${base}${upload}`, { headers: headers() })).text();
    expect(page).toContain('VALID 2');
    expect(page).toContain('INVALID 1');

    const sent = await fetch(`${base}${upload}/send`, { method: 'POST', headers: headers(), redirect: 'manual' });
    expect(sent.status).toBe(303);
    const batch = sent.headers.get('location')!;
    await expect
      .poll(async () => (await (await fetch(`${base}${batch}`, { headers: headers() })).text()).match(/<dt>State<\/dt><dd>(\w+)/)?.[1], { timeout: 20_000 })
      .toBe('finished');
    // The metrics token opens /metrics, and nothing of the console.
    expect((await fetch(`${base}/`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(401);
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    const families = parsePrometheusTextFormat(text);
    expect(families.find((f) => f.name === 'bullmq_job_count')?.type).toBe('GAUGE');
    const orders = families.find((f) => f.name === 'paybatch_orders_total')!.metrics;
    expect(orders.filter((m) => m.labels?.status === 'CREATED').reduce((n, m) => n + Number(m.value), 0)).toBe(2);
    expect(orders.filter((m) => m.labels?.status === 'INVALID').reduce((n, m) => n + Number(m.value), 0)).toBe(1);
    const batchPage = await (await fetch(`${base}${batch}`, { headers: headers() })).text();
    expect(batchPage).toContain('queue engine');
  });

  it('a form post without the site\'s Origin is refused, even with the token', async () => {
    const r = await fetch(`${base}/send`, { method: 'POST', body: new FormData(), headers: { authorization: `Bearer ${PASSWORD}` } });
    expect(r.status).toBe(403);
  });
});
