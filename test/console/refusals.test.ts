import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { listRuns } from '../../src/app/run-history.js';
import { runCli, spawnCli } from '../support/cli.js';
import { makeWorld, waitForLine, type World } from '../follow/world.js';

/** Debian's chromium (.ci/run installs it): playwright-core drives it, no browser download. */
const CHROMIUM = process.env.PAYBATCH_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'console-secret-for-tests';

describe('paybatch serve: a refusal keeps what the user typed', () => {
  let w: World;
  let serve: ChildProcess;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    w = await makeWorld();
    serve = spawnCli(['serve', '--port', '0', '--rate', '50'], { env: { ...w.env, PAYBATCH_CONSOLE_PASSWORD: PASSWORD } });
    serve.stderr!.resume();
    const line = await waitForLine(serve, 'stdout', /paybatch serve: console/);
    base = line.match(/console (http:\/\/\S+?)\/? /)![1]!;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await expect(page.locator('h1').textContent()).resolves.toBe('Batches');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
    }
    await w?.close();
  });

  /** Fills the send form as an ops user does, uploads `name`, and returns the refusal shown. */
  const upload = async (name: string, content: string, typed: { currency: string; channel: string; expiresIn: string }): Promise<string> => {
    await page.goto(`${base}/send`);
    await page.fill('input[name=currency]', typed.currency);
    await page.selectOption('select[name=channel]', typed.channel);
    await page.fill('input[name=expiresIn]', typed.expiresIn);
    await page.setInputFiles('input[name=file]', { name, mimeType: 'application/octet-stream', buffer: Buffer.from(content) });
    await page.click('text=Check the file');
    await expect(page.locator('h1').textContent()).resolves.toBe('Send a file');
    return (await page.locator('.error').textContent()) ?? '';
  };
  const shown = async () => ({
    currency: await page.inputValue('input[name=currency]'),
    channel: await page.inputValue('select[name=channel]'),
    expiresIn: await page.inputValue('input[name=expiresIn]'),
    files: await page.locator('input[name=file]').evaluate((el) => (el as unknown as { files: { length: number } | null }).files?.length ?? 0),
  });

  it('a file that is not a workbook is refused, and the form still holds the currency, channel and expiry', async () => {
    const typed = { currency: 'USD', channel: 'SMS', expiresIn: '15d' };
    const refusal = await upload('march.xlsx', 'PK\u0003\u0004 not really a workbook', typed);
    expect(refusal).toContain('march.xlsx');
    // The values are there to correct the file and try again; the refused file is not.
    expect(await shown()).toEqual({ ...typed, files: 0 });
  });

  it('a file without an amount column is refused, and the form still holds what was typed', async () => {
    const typed = { currency: 'XPF', channel: 'MAIL', expiresIn: '2w' };
    const refusal = await upload('march.csv', 'invoice,currency,channel\nA-1,EUR,URL\n', typed);
    expect(refusal).toContain('no amount column');
    expect(await shown()).toEqual({ ...typed, files: 0 });
  });

  it('a typed value that tries to be markup comes back as text in its field, never as an element', async () => {
    const typed = { currency: '"><b id="injected">EUR', channel: '', expiresIn: "30d' autofocus onfocus='x" };
    const refusal = await upload('march.csv', 'invoice,amount\nA-1,10.00\n', typed);
    expect(refusal).toContain('not an ISO 4217 currency code');
    expect(await shown()).toEqual({ ...typed, files: 0 });
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.locator('input[name=expiresIn]').getAttribute('onfocus')).toBeNull();
  });

  describe('change expiry', () => {
    const DAY = 86_400_000;
    /** A UTC date `days` from today, as the date field sends it. */
    const dateIn = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
    let batchId: string;
    let expiryBefore: string | null | undefined;
    const act = (expiresOn: string, confirmed: boolean) =>
      fetch(`${base}/batches/${batchId}/act`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PASSWORD}`, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['action', 'expire'], ['orderId', 'EXP-1'], ['expiresOn', expiresOn], ...(confirmed ? [['confirmed', 'yes']] : [])] as [string, string][]).toString(),
      });
    const order = async () => w.sandbox.order((await w.entry('EXP-1'))!.paymentOrderId!)!.order;

    beforeAll(async () => {
      // A batch sent from the CLI into the console's state directory: its order waits for payment.
      const r = await runCli(['run', w.file('expiry.csv', 'invoice,amount,currency,channel\nEXP-1,12.00,EUR,URL\n')], { env: w.env });
      expect(r.code, r.stderr).toBe(0);
      batchId = (await listRuns(w.stateDir)).find((run) => run.file.endsWith('expiry.csv'))!.batchId;
      expiryBefore = (await order()).expirationDate;
      w.sandbox.resetCounters();
    });

    it('a date already past is refused by the console, in one line naming it, before the confirmation', async () => {
      const yesterday = dateIn(-1);
      const r = await act(yesterday, false);
      expect(r.status).toBe(400);
      const page = await r.text();
      expect(page).toContain(`The expiration date ${yesterday} is already past: choose a date in the next 90 days`);
      expect(page).not.toContain('Please confirm');
    });

    it('a confirmation posted with a past date (a page left open overnight) changes nothing on the platform', async () => {
      const r = await act(dateIn(-1), true);
      expect(r.status).toBe(400);
      expect(await r.text()).toContain('is already past');
      expect(w.sandbox.counters().requests['Charge/PaymentOrder/Update']).toBeUndefined();
      expect((await order()).expirationDate).toBe(expiryBefore);
    });

    it('a date more than 90 days away is refused with the latest possible', async () => {
      const far = dateIn(91);
      const r = await act(far, false);
      expect(r.status).toBe(400);
      expect(await r.text()).toMatch(new RegExp(`The expiration date ${far} is more than 90 days away .*: the latest possible is \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC`));
    });

    it('today is accepted (it ends at 23:59:59 UTC) and the order gets the new expiry', async () => {
      const today = dateIn(0);
      const ask = await act(today, false);
      expect(ask.status).toBe(200);
      expect(await ask.text()).toContain(`to ${today} 23:59:59 UTC?`);
      const done = await act(today, true);
      expect(done.status).toBe(200);
      expect(await done.text()).toMatch(/EXP-1<\/td><td><span class="status OK">OK</);
      expect(Date.parse((await order()).expirationDate!)).toBe(Date.parse(`${today}T23:59:59Z`));
    });
  });
});
