import { createServer, type Server } from 'node:http';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { runCli, spawnCli } from '../support/cli.js';
import { readReport } from '../follow/csv.js';
import { makeWorld, waitForLine, type World } from '../follow/world.js';

/** Debian's chromium (.ci/run installs it): playwright-core drives it, no browser download. */
const CHROMIUM = process.env.PAYBATCH_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'console-secret-for-tests';
/** Set to a folder (docs/console) to save a screenshot of each page there. */
const SHOTS = process.env.PAYBATCH_SCREENSHOTS;
/** Report columns that differ between two sends of the same file: the orders are new ones. */
const PER_SEND = new Set(['paymentOrderId', 'paymentURL', 'batchId']);

describe('paybatch serve: the ops console in a real browser', () => {
  let w: World;
  let serve: ChildProcess;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let file: string;
  let batchUrl: string;
  let forger: Server;

  const shot = async (name: string): Promise<void> => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    w = await makeWorld();
    // The sample with errors, plus a few good rows and a cell that tries to be markup.
    const sample = readFileSync(new URL('../../samples/errors.csv', import.meta.url), 'utf8').trimEnd();
    file = w.file('errors.csv', `${sample}\nOK-1,10.00,EUR,URL,,,fr_FR,,,,,\nOK-2,20.00,EUR,URL,,,fr_FR,,,,,\n<script>alert(1)</script>,5.00,EUR,URL,,,fr_FR,,,,,\n`);
    serve = spawnCli(['serve', '--port', '0', '--rate', '50'], { env: { ...w.env, PAYBATCH_CONSOLE_PASSWORD: PASSWORD } });
    serve.stderr!.resume();
    const line = await waitForLine(serve, 'stdout', /paybatch serve: console/);
    base = line.match(/console (http:\/\/\S+?)\/? /)![1]!;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    forger?.close();
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
    }
    await w?.close();
  });

  it('refuses every page without a login, and a wrong password', async () => {
    const home = await fetch(`${base}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toBe('/login');
    const act = await fetch(`${base}/batches/x/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(act.status).toBe(401);
    expect(home.headers.get('content-security-policy')).toMatch(/default-src 'none'/);

    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/login`);
    await shot('login');
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button[type=submit]');
    await expect(page.locator('.error').textContent()).resolves.toContain('Wrong password');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Batches');
  });

  it('uploads the file with errors and shows the validation before anything is sent', async () => {
    await page.goto(`${base}/send`);
    await shot('send');
    await page.setInputFiles('input[name=file]', file);
    await page.click('text=Check the file');
    await expect(page.locator('h1').textContent()).resolves.toBe('Check of errors.csv');
    await shot('validation');
    // What `paybatch validate` says of the same file, row for row.
    const out = join(w.dir, 'cli-validation.csv');
    const checked = await runCli(['validate', file, '--out', out], { env: w.env });
    expect(checked.code, checked.stderr).toBe(1);
    const invalid = readReport(out).filter((r) => r.status === 'INVALID');
    const shown = await page.locator('table.invalid tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    // A message may name "the latest possible" expiry to the minute, from each check's own clock.
    const minute = (m: string | undefined) => (m ?? '').replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/g, 'YYYY-MM-DD hh:mm');
    expect(shown.map((c) => [c[0], c[2], minute(c[3])])).toEqual(invalid.map((r) => [r.line, r.errorCode, minute(r.errorMessage)]));
    expect(await page.locator('.summary').textContent()).toContain(`INVALID ${invalid.length}`);
    expect(w.sandbox.counters().requests['Charge/CreatePaymentOrder']).toBeUndefined();
  });

  it('sends after the confirmation, shows the progress to the end, and the report is the CLI\'s', async () => {
    await page.click('button.danger');
    await page.waitForURL(/\/batches\/b[0-9TZ]+-/);
    batchUrl = page.url();
    await expect.poll(async () => {
      await page.reload();
      return page.locator('.facts').textContent();
    }, { timeout: 20_000 }).toMatch(/State\s*finished/);
    await shot('batch');
    // The markup in a cell is text on the page, never an element.
    expect(await page.locator('table.rows td', { hasText: '<script>alert(1)</script>' }).count()).toBeGreaterThan(0);
    expect(await page.locator('script').count()).toBe(0);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.downloads >> text=report')]);
    const fromConsole = readReport((await download.path())!);
    // The reconciliation export is `paybatch reconcile --batch`: every order this batch sent, amounts as money.
    const [recon] = await Promise.all([page.waitForEvent('download'), page.click('.downloads >> text=reconciliation export')]);
    const reconRows = readReport((await recon.path())!);
    const createdIds = fromConsole.filter((x) => x.status === 'CREATED').map((x) => x.paymentOrderId);
    expect(reconRows.filter((x) => x.paymentOrderId).map((x) => x.paymentOrderId).sort()).toEqual([...createdIds].sort());
    expect(reconRows.every((x) => /^\d+(\.\d+)?$/.test(x.amount!) && x.currency)).toBe(true);

    // The CLI sends the same file from another state directory (so its ledger sends everything again).
    const cliFile = join(w.dir, 'cli', 'errors.csv');
    mkdirSync(join(w.dir, 'cli'), { recursive: true });
    copyFileSync(file, cliFile);
    const r = await runCli(['run', cliFile, '--state-dir', join(w.dir, 'cli-state')], { env: w.env });
    expect(r.code, r.stderr).toBe(1);
    const fromCli = readReport(cliFile.replace(/\.csv$/, '.report.csv'));
    const same = (rows: Record<string, string>[]) => rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !PER_SEND.has(k)).map(([k, v]) => [k, k === 'errorMessage' ? v.replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/g, 'YYYY-MM-DD hh:mm') : v])));
    expect(same(fromConsole)).toEqual(same(fromCli));
    expect(fromConsole.filter((x) => x.status === 'CREATED').length).toBeGreaterThan(0);

    // The batch list shows it, started from the console, with its counts.
    await page.goto(`${base}/`);
    const row = page.locator('table.batches tbody tr').first();
    expect(await row.textContent()).toContain('console');
    expect(await row.textContent()).toContain(`CREATED ${fromConsole.filter((x) => x.status === 'CREATED').length}`);
  });

  it('cancels one order after a confirmation that says what will happen', async () => {
    await page.goto(batchUrl);
    const box = page.locator('input[name=orderId][value="OK-1"]');
    await box.check();
    await page.click('button[value=cancel]');
    const confirmation = await page.locator('.confirm').textContent();
    expect(confirmation).toContain('Cancel 1 order, 10.00 EUR');
    expect(confirmation).toContain('no longer be able to pay');
    await shot('confirm');
    await page.click('button.danger');
    const result = await page.locator('table.rows tbody tr').first().textContent();
    expect(result).toContain('OK-1');
    expect(result).toContain('CANCELLED');
    const entry = await w.entry('OK-1');
    expect(entry?.paymentOrderStatus).toBe('CANCELLED');
    expect(w.sandbox.order(entry!.paymentOrderId!)?.order.paymentOrderStatus).toBe('CANCELLED');
    expect(w.sandbox.order((await w.entry('OK-2'))!.paymentOrderId!)?.order.paymentOrderStatus).toBe('RUNNING');
  });

  it('refuses a forged cross-site form, even from a logged-in browser', async () => {
    const target = `${batchUrl}/act`;
    forger = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${target}"><input name="action" value="cancel"><input name="confirmed" value="yes"><input name="orderId" value="OK-2"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => forger.listen(0, '127.0.0.1', r));
    const evil = await context.newPage();
    const answer = evil.waitForResponse((res) => res.url() === target);
    await evil.goto(`http://127.0.0.1:${(forger.address() as { port: number }).port}/`);
    expect((await answer).status()).toBe(403);
    await evil.close();
    expect((await w.entry('OK-2'))?.paymentOrderStatus).toBe('RUNNING');
  });

  it('/metrics needs the token and is Prometheus text whose counters match the batch; an unsigned IPN is refused and counted', async () => {
    const ipn = await fetch(`${base}/ipn`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'kr-answer=%7B%7D' });
    expect(ipn.status).toBe(400);
    // /healthz is open, and says nothing but that the process answers.
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    // /metrics asks for the token, as Prometheus sends it.
    const anonymous = await fetch(`${base}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await anonymous.text()).not.toContain('paybatch_');
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);

    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${PASSWORD}` } })).text();
    const families = parsePrometheusTextFormat(text);
    const family = (name: string) => families.find((f) => f.name === name)!;
    const summary = JSON.parse(readFileSync(join(w.dir, 'cli', 'errors.report.json'), 'utf8')) as { statuses: Record<string, number>; errorCodesByStatus: Record<string, Record<string, number>> };
    const byStatus: Record<string, number> = {};
    for (const m of family('paybatch_orders_total').metrics as { labels: Record<string, string>; value: string }[]) {
      byStatus[m.labels.status!] = (byStatus[m.labels.status!] ?? 0) + Number(m.value);
      if (m.labels.error_code) expect(Number(m.value)).toBe(summary.errorCodesByStatus[m.labels.status!]![m.labels.error_code]);
    }
    expect(byStatus).toEqual(summary.statuses);
    const refused = (family('paybatch_ipn_notifications_total').metrics as { labels: Record<string, string>; value: string }[]).find((m) => m.labels.result === 'refused');
    expect(Number(refused!.value)).toBe(1);
    expect(Number((family('paybatch_batches_running').metrics[0] as { value: string }).value)).toBe(0);
    // The parser keeps a labelled histogram's buckets but not its labels: its _count sample is read from the text.
    expect(family('paybatch_api_request_duration_seconds').type).toBe('HISTOGRAM');
    const creates = text.match(/^paybatch_api_request_duration_seconds_count\{service="Charge\/CreatePaymentOrder",status="200"\} (\d+)$/m);
    expect(Number(creates?.[1])).toBe(summary.statuses.CREATED);
    expect(family('paybatch_limiter_wait_seconds').type).toBe('HISTOGRAM');

    // A scraper with a stale token locks itself out of /metrics, and nobody out of the console.
    for (let i = 0; i < 4; i++) expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer a-stale-token-xyz' } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${PASSWORD}` } })).status).toBe(429);
    expect((await fetch(`${base}/`, { headers: { authorization: `Bearer ${PASSWORD}` } })).status).toBe(200);
  });

  it('lists a batch run from the CLI in the same state directory', async () => {
    const cliFile = w.file('monthly.csv', 'invoice,amount,currency,channel\nCLI-1,7.00,EUR,URL\n');
    const r = await runCli(['run', cliFile], { env: w.env });
    expect(r.code, r.stderr).toBe(0);
    await page.goto(`${base}/`);
    const row = page.locator('table.batches tbody tr').first();
    expect(await row.textContent()).toContain('monthly.csv');
    expect(await row.textContent()).toContain('cli');
    expect(existsSync(join(w.stateDir, 'runs'))).toBe(true);
    writeFileSync(join(w.dir, 'done'), '');
  });

  it('acts only on the orders of the batch whose page the form came from', async () => {
    // The CLI batch's order, posted (an edited form, a script) to the console batch's action: refused, left RUNNING.
    const post = (orderId: string) =>
      fetch(`${batchUrl}/act`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PASSWORD}`, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['action', 'cancel'], ['confirmed', 'yes'], ['orderId', 'OK-2'], ['orderId', orderId]]).toString(),
      });
    const refused = await post('CLI-1');
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('CLI-1: not an order of batch');
    const cli = await w.entry('CLI-1');
    expect(cli?.paymentOrderStatus).toBe('RUNNING');
    expect(w.sandbox.order(cli!.paymentOrderId!)?.order.paymentOrderStatus).toBe('RUNNING');
    // Nothing of the selection was done, not even the batch's own order.
    expect((await w.entry('OK-2'))?.paymentOrderStatus).toBe('RUNNING');
  });

  it('settles an UNCERTAIN row from its batch page: the order found on the platform is CREATED in the ledger', async () => {
    // The platform creates SET-1 but the answer is lost: the run reports it UNCERTAIN. Then its buyer pays it.
    w.sandbox.faults.forOrder('SET-1', 'reset-after-create', { service: 'Charge/CreatePaymentOrder' });
    const r = await runCli(['run', w.file('settle.csv', 'invoice,amount,currency,channel\nSET-1,15.00,EUR,URL\nSET-2,25.00,EUR,URL\n')], { env: w.env });
    expect(r.code, r.stderr).toBe(1);
    expect((await w.entry('SET-1'))?.state).toBe('UNCERTAIN');
    const [order] = w.sandbox.ordersByOrderId('SET-1');
    await w.sandbox.pay(order!.order.paymentOrderId);

    await page.goto(`${base}/`);
    await page.locator('table.batches tbody tr').first().locator('a').click();
    const first = page.locator('table.rows tbody tr').first();
    expect(await first.textContent()).toMatch(/SET-1\s*UNCERTAIN/);
    await first.locator('input[name=orderId]').check();
    await page.click('button[value=settle]');
    const confirmation = await page.locator('.confirm').textContent();
    expect(confirmation).toContain('Read 1 order, 15.00 EUR of batch');
    expect(confirmation).toContain('Nothing is sent to buyers; an UNCERTAIN order found on the platform becomes CREATED');
    await page.click('button.danger');
    await expect(page.locator('h1').textContent()).resolves.toBe('Settled');
    await shot('settled');
    const result = await page.locator('table.rows tbody tr').first().textContent();
    expect(result).toMatch(/SET-1\s*FOUND/);
    expect(result).toContain('15.00 EUR');

    // The ledger holds the order that exists, paid; nothing was sent again.
    const entry = await w.entry('SET-1');
    expect(entry).toMatchObject({ state: 'CREATED', paymentOrderId: order!.order.paymentOrderId, paymentOrderStatus: 'PAID' });
    expect(w.sandbox.counters().ordersCreated['SET-1']).toBe(1);
    // The batch page shows it paid, and the reconciliation export of the batch lists it with its payment order.
    await page.click('text=Back to the batch');
    expect(await page.locator('table.rows tbody tr', { hasText: 'SET-1' }).textContent()).toContain('PAID');
    const [recon] = await Promise.all([page.waitForEvent('download'), page.click('.downloads >> text=reconciliation export')]);
    const settled = readReport((await recon.path())!).find((x) => x.orderId === 'SET-1');
    expect(settled).toMatchObject({ paymentOrderId: order!.order.paymentOrderId, amount: '15.00', currency: 'EUR' });
    await page.goto(`${base}/`);
    await shot('batches');
  });
});
