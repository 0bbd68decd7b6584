import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { readReport } from './queue-support.js';
import { runCli } from '../support/cli.js';

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'paybatch-ledger-cli-'));
  sandbox.resetCounters();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const env = (state: string, extra: Record<string, string | undefined> = {}) => ({
  PAYBATCH_API_URL: sandbox.url,
  PAYBATCH_PLATFORM: undefined,
  PAYBATCH_SHOP_ID: DEMO_SHOP_ID,
  PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD,
  PAYBATCH_STATE_DIR: join(dir, state),
  PAYBATCH_LEDGER: undefined,
  REDIS_URL: undefined,
  ...extra,
});

let n = 0;
function invoices(): { file: string; ids: string[] } {
  const tag = `L${++n}${Date.now().toString(36).slice(-4)}`;
  const ids = [`${tag}-1`, `${tag}-2`, `${tag}-3`];
  const file = join(dir, 'invoices.csv');
  writeFileSync(file, `invoice,amount,currency,channel,email,subject\n${ids[0]},1234.50,EUR,MAIL,ann@example.com,Your invoice\n${ids[1]},1500,JPY,URL,,\n${ids[2]},12.5,TND,URL,,\n`);
  return { file, ids };
}
const createdOf = (ids: string[]) => ids.map((id) => sandbox.counters().ordersCreated[id] ?? 0);

describe('paybatch ledger: moving to a new machine', () => {
  it('export as JSON Lines on the old machine, import on the new one: the same file sends nothing there', async () => {
    const { file, ids } = invoices();
    expect((await runCli(['run', file], { env: env('old') })).code).toBe(0);
    const where = await runCli(['ledger', 'where'], { env: env('old') });
    expect(where.stdout.trim()).toBe(join(dir, 'old', `${DEMO_SHOP_ID}-TEST.sqlite`));

    const backup = join(dir, 'ledger.jsonl');
    const exp = await runCli(['ledger', 'export', '--out', backup], { env: env('old') });
    expect(exp.code).toBe(0);
    expect(exp.stdout).toContain('3 orders of shop 69876357 TEST');
    expect(readFileSync(backup, 'utf8').trim().split('\n')).toHaveLength(3);

    const imp = await runCli(['ledger', 'import', backup], { env: env('new') });
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain('3 orders added, 0 updated, 0 already known');
    const again = await runCli(['ledger', 'import', backup], { env: env('new') });
    expect(again.stdout).toContain('0 orders added, 0 updated, 3 already known');

    rmSync(join(dir, 'invoices.report.csv'));
    const run = await runCli(['run', file], { env: env('new') });
    expect(run.code).toBe(0);
    expect(createdOf(ids)).toEqual([1, 1, 1]);
    expect(readReport(join(dir, 'invoices.report.csv')).map((r) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED']);
  }, 60_000);

  it('the CSV export shows amounts as money in their currency and reads back to the same ledger', async () => {
    const { file } = invoices();
    expect((await runCli(['run', file], { env: env('old') })).code).toBe(0);
    const csv = join(dir, 'ledger.csv');
    expect((await runCli(['ledger', 'export', '--out', csv], { env: env('old') })).code).toBe(0);
    const rows = readReport(csv);
    expect(rows.map((r) => [r.amount, r.currency])).toEqual([
      ['1234.50', 'EUR'],
      ['1500', 'JPY'],
      ['12.500', 'TND'],
    ]);
    expect((await runCli(['ledger', 'import', csv], { env: env('copy') })).stdout).toContain('3 orders added');
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    await runCli(['ledger', 'export', '--out', a], { env: env('old') });
    await runCli(['ledger', 'export', '--out', b], { env: env('copy') });
    const read = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(read(b)).toEqual(read(a));
  }, 60_000);

  it('--from-state-dir merges another folder\'s ledger; a broken export is one line naming file and line', async () => {
    const { file, ids } = invoices();
    expect((await runCli(['run', file], { env: env('old') })).code).toBe(0);
    const merged = await runCli(['ledger', 'import', '--from-state-dir', join(dir, 'old')], { env: env('new') });
    expect(merged.stdout).toContain('3 orders added');
    rmSync(join(dir, 'invoices.report.csv'));
    expect((await runCli(['run', file], { env: env('new') })).code).toBe(0);
    expect(createdOf(ids)).toEqual([1, 1, 1]);

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"orderId":"A","state":"CREATED","attempts":1,"fingerprint":"","sent":{},"updatedAt":"x"}\n{oops\n');
    const r = await runCli(['ledger', 'import', bad], { env: env('new') });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`paybatch: ${bad}, line 2: not a JSON ledger entry\n`);
  }, 60_000);
});

describe('paybatch ledger purge', () => {
  it('forgets the e-mail address of settled orders, keeps the guard: a re-run still sends nothing', async () => {
    const { file, ids } = invoices();
    expect((await runCli(['run', file], { env: env('s') })).code).toBe(0);
    expect((await runCli(['cancel', file, '--yes', '--only', ids[0]!], { env: env('s') })).code).toBe(0);
    const purge = await runCli(['ledger', 'purge', '--older-than', '0d'], { env: env('s') });
    expect(purge.code).toBe(0);
    expect(purge.stdout).toMatch(/^1 settled orders last changed before/);
    const out = join(dir, 'after.jsonl');
    await runCli(['ledger', 'export', '--out', out], { env: env('s') });
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('ann@example.com');
    expect(text).toContain(ids[0]);
    rmSync(join(dir, 'invoices.report.csv'));
    expect((await runCli(['run', file], { env: env('s') })).code).toBe(0);
    expect(createdOf(ids)).toEqual([1, 1, 1]);
  }, 60_000);
});

describe('paybatch ledger: a wrong path is one line, exit 2, and nothing made up', () => {
  it('importing a file that is not there, or a folder, names it', async () => {
    const missing = join(dir, 'nope.jsonl');
    const r = await runCli(['ledger', 'import', missing], { env: env('s') });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`paybatch: ${missing}: no such file\n`);
    const folder = await runCli(['ledger', 'import', dir], { env: env('s') });
    expect(folder.code).toBe(2);
    expect(folder.stderr).toBe(`paybatch: ${dir}: this is a folder, not a file\n`);
  });

  it('exporting JSON Lines into a folder that does not exist names the file', async () => {
    const out = join(dir, 'no-such-folder', 'ledger.jsonl');
    const r = await runCli(['ledger', 'export', '--out', out], { env: env('s') });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`paybatch: ${out}: cannot write the file (ENOENT)\n`);
  });

  it('--from-state-dir with a folder that holds no ledger of the shop: refused, and no empty ledger is created there', async () => {
    const typo = join(dir, 'old-machin');
    const r = await runCli(['ledger', 'import', '--from-state-dir', typo], { env: env('new') });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`paybatch: --from-state-dir ${typo}: no ledger of shop ${DEMO_SHOP_ID} TEST there (${DEMO_SHOP_ID}-TEST.sqlite); name the state directory of the old machine\n`);
    expect(existsSync(typo)).toBe(false);
  });
});
