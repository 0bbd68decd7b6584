import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID } from '../../src/sandbox/server.js';
import { runCli, type CliResult } from '../support/cli.js';
import { makeWorld, type World } from '../follow/world.js';

const bin = fileURLToPath(new URL('../../bin/paybatch.js', import.meta.url));

/** Runs bin/paybatch.js itself, by its shebang, as `npx paybatch` does. */
function runBin(args: string[], env: Record<string, string | undefined>, cwd: string): Promise<CliResult> {
  const full: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) full[k] = v;
  const child = spawn(bin, args, { cwd, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('settings: the environment wins over the env file, flags over both (as Node and dotenv do)', () => {
  let w: World;
  let input: string;

  beforeAll(async () => {
    w = await makeWorld();
    input = w.file('invoices.csv', 'orderId,amount,currency,channel\nENV-1,10.00,EUR,URL\n');
  });
  afterAll(() => w.close());

  it('an env file with only the shop id keeps the API URL and the password of the environment', async () => {
    const envFile = w.file('shop.env', `PAYBATCH_SHOP_ID=${DEMO_SHOP_ID}\n`);
    const r = await runCli(['run', input, '--env-file', envFile], { env: { ...w.env, PAYBATCH_SHOP_ID: undefined } });
    expect(r.stderr).not.toContain('no Lyra API given');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CREATED\s+1/);
  });

  it('a variable set in the environment beats the file; --shop-id beats both', async () => {
    const envFile = w.file('other.env', `PAYBATCH_SHOP_ID=${DEMO_SHOP_ID}\nPAYBATCH_API_URL=http://127.0.0.1:9\n`);
    const fromEnv = await runCli(['status', input, '--env-file', envFile], { env: { ...w.env, PAYBATCH_SHOP_ID: 'not-a-number' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toBe('paybatch: shop id "not-a-number" in PAYBATCH_SHOP_ID / --shop-id is not numeric (the "User" of the REST API keys)\n');
    const fromFlag = await runCli(['status', input, '--env-file', envFile, '--shop-id', DEMO_SHOP_ID], { env: { ...w.env, PAYBATCH_SHOP_ID: 'not-a-number' } });
    expect(fromFlag.code, fromFlag.stderr).toBe(0);
  });

  it('a missing env file is one paybatch line and exit 2, also through bin/paybatch.js (not Node\'s own "not found", exit 9)', async () => {
    for (const r of [await runBin(['status', input, '--env-file', 'nope.env'], w.env, w.dir), await runCli(['run', input, '--env-file', 'nope.env'], { env: w.env, cwd: w.dir })]) {
      expect(r.stderr).toBe('paybatch: --env-file nope.env: no such file\n');
      expect(r.code).toBe(2);
    }
  });

  it('without a password the message names the variable and no flag that does not exist', async () => {
    const r = await runCli(['run', input], { env: { ...w.env, PAYBATCH_PASSWORD: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('set PAYBATCH_PASSWORD');
    expect(r.stderr).not.toContain('--password');
  });

  it('PAYBATCH_LOG_LEVEL is checked before anything starts: one line naming the levels, exit 2', async () => {
    for (const command of [['worker', '--redis', 'redis://127.0.0.1:9'], ['ipn', '--port', '0']]) {
      const r = await runCli(command, { env: { ...w.env, PAYBATCH_LOG_LEVEL: 'loud' } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('paybatch: PAYBATCH_LOG_LEVEL=loud: use one of trace, debug, info, warn, error, fatal, silent\n');
    }
  });
});
