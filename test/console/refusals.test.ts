import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { spawnCli } from '../support/cli.js';
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
});
