import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli, spawnCli } from '../support/cli.js';
import { freePort } from '../support/redis.js';
import { waitUntil } from '../support/wait.js';

const CREATE = 'Charge/CreatePaymentOrder';
let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-run-'));
  sandbox.resetCounters();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}) {
  return {
    PAYBATCH_API_URL: sandbox.url,
    PAYBATCH_SHOP_ID: DEMO_SHOP_ID,
    PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD,
    PAYBATCH_STATE_DIR: join(dir, 'state'),
    PAYBATCH_PLATFORM: undefined as unknown as string,
    REDIS_URL: undefined as unknown as string,
    ...extra,
  };
}

type Row = Record<string, string>;
async function readReport(file: string): Promise<Row[]> {
  return parse(await readFile(file), { columns: true, bom: true, skip_empty_lines: true }) as Row[];
}
const creates = () => sandbox.counters().requests[CREATE] ?? 0;
const duplicates = () => Object.entries(sandbox.counters().ordersCreated).filter(([, n]) => n > 1);

/** `n` URL invoices with ids prefixed by `tag` (unique per test: the sandbox lives across tests). */
function invoices(tag: string, n: number, extra: (i: number) => string = () => ''): string {
  const lines = ['invoice,amount,currency,channel,email,message'];
  for (let i = 1; i <= n; i++) lines.push(extra(i) || `${tag}-${String(i).padStart(4, '0')},${(10 + i).toFixed(2)},EUR,URL,,`);
  return `${lines.join('\n')}\n`;
}

describe('paybatch run', () => {
  it('given the sample invoices on every channel, creates one order per row and reports every payment URL in input order', async () => {
    const file = join(dir, 'invoices.csv');
    await copyFile(new URL('../../samples/invoices.csv', import.meta.url), file);
    const r = await runCli(['run', file], { env: env() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = await readReport(join(dir, 'invoices.report.csv'));
    const input = parse(await readFile(file), { columns: true }) as Row[];
    expect(report.map((x) => x.invoice)).toEqual(input.map((x) => x.invoice));
    for (const row of report) {
      expect(row.status).toBe('CREATED');
      expect(row.paymentOrderId).toMatch(/^[0-9a-f]{32}$/);
      expect(row.paymentURL.startsWith(`${sandbox.url}/t/`)).toBe(true);
      expect(row.paymentOrderStatus).toBe('RUNNING');
    }
    expect(new Set(report.map((x) => x.channelType))).toEqual(new Set(['MAIL', 'SMS', 'WHATSAPP', 'INVOICE', 'URL']));
    expect(creates()).toBe(20);
    expect(duplicates()).toEqual([]);
    const summary = JSON.parse(await readFile(join(dir, 'invoices.report.json'), 'utf8'));
    expect(summary.statuses).toEqual({ CREATED: 20 });
    expect(summary.exitCode).toBe(0);
    expect(r.stdout).toContain('CREATED  20');
    expect(r.stdout).not.toContain(DEMO_TEST_PASSWORD);
  });

  it('run twice: the second run sends nothing and reports the original orders', async () => {
    const file = join(dir, 'month.csv');
    await writeFile(file, invoices('TWICE', 12));
    expect((await runCli(['run', file, '--expires-in', '30d'], { env: env() })).code).toBe(0);
    const first = await readReport(join(dir, 'month.report.csv'));
    const before = creates();
    const again = await runCli(['run', file, '--expires-in', '30d'], { env: env() });
    expect(again.code).toBe(0);
    expect(creates()).toBe(before);
    const second = await readReport(join(dir, 'month.report.csv'));
    expect(second.map((x) => [x.invoice, x.paymentOrderId, x.paymentURL])).toEqual(first.map((x) => [x.invoice, x.paymentOrderId, x.paymentURL]));
    // A relative expiry is computed anew by every run: that is not an edit of the row.
    expect(second.map((x) => x.note)).toEqual(second.map(() => ''));

    // A second later (a new expiry to the second), one amount edited: its note names the amount, not the expiry.
    await new Promise((r) => setTimeout(r, 1_100));
    await writeFile(file, invoices('TWICE', 12).replace('TWICE-0003,13.00', 'TWICE-0003,9.00'));
    expect((await runCli(['run', file, '--expires-in', '30d'], { env: env() })).code).toBe(0);
    const third = await readReport(join(dir, 'month.report.csv'));
    expect(third.filter((x) => x.note).map((x) => [x.invoice, x.note.replace(/ on \d{4}-\d\d-\d\d/, '').split(';')[0]])).toEqual([
      ['TWICE-0003', 'this row differs from the order sent (amount 13.00 EUR → 9.00 EUR)'],
    ]);
    expect(creates()).toBe(before);
  });

  it('an edited file: fixing the invalid rows and running again sends only those rows', async () => {
    const file = join(dir, 'edited.csv');
    const bad = (i: number) => (i === 3 ? 'EDIT-0003,12.345,EUR,URL,,' : i === 5 ? 'EDIT-0005,,EUR,URL,,' : '');
    await writeFile(file, invoices('EDIT', 6, bad));
    const r1 = await runCli(['run', file], { env: env() });
    expect(r1.code).toBe(1);
    const report1 = await readReport(join(dir, 'edited.report.csv'));
    expect(report1.map((x) => x.status)).toEqual(['CREATED', 'CREATED', 'INVALID', 'CREATED', 'INVALID', 'CREATED']);
    expect(report1[2].errorCode).toBe('INT_009');
    // The rows to fix say why, in a column that reading ignores: the file is fixed in a spreadsheet and run as it is.
    const toFixPath = join(dir, 'edited.tofix.csv');
    const toFix = await readReport(toFixPath);
    expect(Object.keys(toFix[0]!)).toEqual(['invoice', 'amount', 'currency', 'channel', 'email', 'message', 'paybatchError']);
    expect(toFix.map((x) => x.invoice)).toEqual(['EDIT-0003', 'EDIT-0005']);
    expect(toFix[0]!.paybatchError).toMatch(/^amount: the amount "12.345" is ambiguous/);
    expect(toFix[1]!.paybatchError).toMatch(/^amount: the amount is empty/);
    expect(creates()).toBe(4);
    expect(r1.stdout).toContain('sent by this run: 4 of 6 rows');

    const fixed = (await readFile(toFixPath, 'utf8')).replace('EDIT-0003,12.345,', 'EDIT-0003,13.00,').replace('EDIT-0005,,', 'EDIT-0005,15.00,');
    await writeFile(toFixPath, fixed);
    const rFix = await runCli(['run', toFixPath], { env: env() });
    expect(rFix.stderr).toBe('');
    expect(rFix.code).toBe(0);
    expect(creates()).toBe(6);
    expect(rFix.stdout).toContain('sent by this run: 2 of 2 rows');

    await writeFile(file, invoices('EDIT', 6));
    const r2 = await runCli(['run', file], { env: env() });
    expect(r2.code).toBe(0);
    expect(creates()).toBe(6);
    expect(duplicates()).toEqual([]);
    expect(existsSync(join(dir, 'edited.tofix.csv.partial'))).toBe(false);
    // A re-run that sends nothing does not read like the first run.
    expect(r2.stdout).toContain('sent by this run: 0 of 6 rows: every order of the file already exists, nothing was sent again');
    expect(JSON.parse(await readFile(join(dir, 'edited.report.json'), 'utf8'))).toMatchObject({ sentByThisRun: 0 });

    // Two amounts changed after the orders went out: reported, not re-sent, and the way to change them is named.
    // The report and the totals show the orders that exist; the edit is in the note beside them.
    await writeFile(file, invoices('EDIT', 6).replace('EDIT-0001,11.00', 'EDIT-0001,99.00').replace('EDIT-0002,12.00', 'EDIT-0002,2.00'));
    const r3 = await runCli(['run', file], { env: env() });
    expect(r3.code).toBe(0);
    expect(creates()).toBe(6);
    const report3 = await readReport(join(dir, 'edited.report.csv'));
    expect(report3[0]).toMatchObject({ status: 'CREATED', orderAmount: '11.00', currencyCode: 'EUR' });
    expect(report3[0].note).toContain('amount 11.00 EUR → 99.00 EUR');
    expect(report3[0].note).toContain('paybatch update');
    expect(report3[1]).toMatchObject({ orderAmount: '12.00' });
    expect(report3[2].note).toBe('');
    // 11 + 12 + 13 + 14 + 15 + 16: the orders that exist, not the file's 99 and 2.
    expect(r3.stdout).toMatch(/CREATED\s+6\s+EUR 81\.00 \(6 rows\)/);
    expect(r3.stdout).toContain('NOTE: 2 CREATED rows differ from the order sent earlier');
    const summary3 = JSON.parse(await readFile(join(dir, 'edited.report.json'), 'utf8'));
    expect(summary3).toMatchObject({ differFromOrders: 2, totals: { CREATED: { EUR: { minor: 8100, major: '81.00', rows: 6 } } } });
  });

  it('validate after a run leaves the run\'s report, rows to fix and summary as they were', async () => {
    const file = join(dir, 'kept.csv');
    await writeFile(file, invoices('KEPT', 3, (i) => (i === 2 ? 'KEPT-0002,,EUR,URL,,' : '')));
    const r = await runCli(['run', file], { env: env() });
    expect(r.code).toBe(1);
    const written = ['kept.report.csv', 'kept.tofix.csv', 'kept.report.json'];
    const before = await Promise.all(written.map((f) => readFile(join(dir, f), 'utf8')));
    expect(before[0]).toContain(`${sandbox.url}/t/`);
    const v = await runCli(['validate', file]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`report: ${join(dir, 'kept.validation.csv')}`);
    expect(await Promise.all(written.map((f) => readFile(join(dir, f), 'utf8')))).toEqual(before);
    expect((await readReport(join(dir, 'kept.validation.csv'))).map((x) => x.status)).toEqual(['VALID', 'INVALID', 'VALID']);
    expect(existsSync(join(dir, 'kept.validation.tofix.csv'))).toBe(true);
  });

  it('a re-run that sends nothing because a row is UNCERTAIN does not claim every order exists', async () => {
    const file = join(dir, 'lost.csv');
    await writeFile(file, invoices('LOST', 2));
    sandbox.faults.forOrder('LOST-0002', 'http-500');
    expect((await runCli(['run', file], { env: env() })).code).toBe(1);
    const again = await runCli(['run', file], { env: env() });
    expect(again.code).toBe(1);
    // LOST-0002 may or may not exist: the summary says only what it knows, and the ATTENTION line says the rest.
    expect(again.stdout).toContain('sent by this run: 0 of 2 rows\n');
    expect(again.stdout).not.toContain('every order of the file already exists');
    expect(again.stdout).toContain('ATTENTION: 1 order(s) may or may not exist (UNCERTAIN) and were not sent again: LOST-0002');
  });

  it('faults end in the right statuses, and a re-run never re-sends an uncertain order without --retry-uncertain', async () => {
    const file = join(dir, 'faults.csv');
    // FLT-0006 passes our checks but the platform refuses its 1100-character SMS text (PSP_1038): FAILED.
    const rows = ['invoice,amount,currency,channel,phone,message'];
    for (let i = 1; i <= 5; i++) rows.push(`FLT-000${i},1${i}.00,EUR,URL,,`);
    rows.push(`FLT-0006,16.00,EUR,SMS,+33612345678,${'x'.repeat(1100)}`);
    await writeFile(file, `${rows.join('\n')}\n`);
    sandbox.faults.forOrder('FLT-0001', 'reset-after-create');
    sandbox.faults.forOrder('FLT-0002', 'http-500');
    sandbox.faults.forOrder('FLT-0003', 'timeout');
    sandbox.faults.forOrder('FLT-0004', 'psp-106', { times: 2 });
    const r = await runCli(['run', file, '--timeout-ms', '1500'], { env: env() });
    expect(r.code).toBe(1);
    const report = await readReport(join(dir, 'faults.report.csv'));
    const by = Object.fromEntries(report.map((x) => [x.invoice, x]));
    expect(by['FLT-0001'].status).toBe('UNCERTAIN');
    expect(by['FLT-0001'].errorCode).toBe('PB_RESET');
    expect(by['FLT-0002'].status).toBe('UNCERTAIN');
    expect(by['FLT-0003'].status).toBe('UNCERTAIN');
    expect(by['FLT-0003'].errorCode).toBe('PB_TIMEOUT');
    expect(by['FLT-0004'].status).toBe('CREATED');
    expect(by['FLT-0004'].attempts).toBe('3');
    expect(by['FLT-0005'].status).toBe('CREATED');
    expect(by['FLT-0006'].status).toBe('FAILED');
    expect(by['FLT-0006'].errorCode).toBe('PSP_1038');
    // UNCERTAIN first: the person reading the summary sees them before anything else.
    expect(r.stdout.indexOf('UNCERTAIN')).toBeLessThan(r.stdout.indexOf('CREATED'));
    expect(r.stdout).toContain('FLT-0001');

    const before = creates();
    const again = await runCli(['run', file, '--timeout-ms', '1500'], { env: env() });
    expect(again.code).toBe(1);
    // Only the FAILED row (nothing was created for it) is sent again.
    expect(creates()).toBe(before + 1);
    const report2 = await readReport(join(dir, 'faults.report.csv'));
    expect(report2.filter((x) => x.status === 'UNCERTAIN').map((x) => x.invoice)).toEqual(['FLT-0001', 'FLT-0002', 'FLT-0003']);
    expect(report2[0].errorMessage).toContain('--retry-uncertain');

    const forced = await runCli(['run', file, '--retry-uncertain'], { env: env() });
    expect(forced.code).toBe(1); // FLT-0006 still fails
    expect(creates()).toBe(before + 1 + 4);
    // The operator asked for it: FLT-0001 and FLT-0003 (created before their answer was lost) now exist twice.
    expect(sandbox.counters().ordersCreated['FLT-0001']).toBe(2);
  });

  it('with `paybatch ipn` receiving payments beside it, the next run reports what the buyers did', async () => {
    const file = join(dir, 'paid.csv');
    await writeFile(file, invoices('PAID', 3));
    const port = await freePort();
    const receiver = spawnCli(['ipn', '--port', String(port)], { env: env() });
    receiver.stdin!.end();
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        receiver.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('listening')) resolve();
        });
        receiver.on('exit', (c) => reject(new Error(`ipn exited ${c}`)));
      });
      const r = await runCli(['run', file, '--ipn-url', `http://127.0.0.1:${port}/`], { env: env() });
      expect(r.code).toBe(0);
      const report = await readReport(join(dir, 'paid.report.csv'));
      const paid = await sandbox.pay(report[0].paymentOrderId);
      const refused = await sandbox.pay(report[2].paymentOrderId, { refuse: true });
      expect([paid.ipn?.delivered, refused.ipn?.delivered]).toEqual([true, true]);
      const again = await runCli(['run', file], { env: env() });
      expect(again.code).toBe(0);
      const after = await readReport(join(dir, 'paid.report.csv'));
      expect(after.map((x) => x.paymentOrderStatus)).toEqual(['PAID', 'RUNNING', 'REFUSED']);
    } finally {
      receiver.kill('SIGTERM');
      await new Promise((res) => receiver.on('close', res));
    }
  });

  it('never starts more requests than --rate in any sliding second', async () => {
    const file = join(dir, 'rate.csv');
    await writeFile(file, invoices('RATE', 45));
    const r = await runCli(['run', file, '--rate', '15', '--concurrency', '20'], { env: env() });
    expect(r.code).toBe(0);
    const { maxPerSecond } = sandbox.counters();
    expect(maxPerSecond.create).toBeLessThanOrEqual(15);
    expect(maxPerSecond.create).toBeGreaterThanOrEqual(10);
  });

  it('one request that hangs holds only its own place: every other row is sent meanwhile, with no timer warnings', async () => {
    const file = join(dir, 'hang.csv');
    await writeFile(file, invoices('HANG', 30));
    sandbox.faults.forOrder('HANG-0001', 'timeout');
    const child = spawnCli(['run', file, '--rate', '10', '--timeout-ms', '9000'], { env: env() });
    child.stdin!.end();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    // 30 rows at 10 a second take about 3 s; the hung request keeps its place for 9 s.
    await waitUntil(() => creates() >= 30, 'every row sent while one request hangs', { timeoutMs: 7000 });
    expect(child.exitCode).toBeNull();
    expect(await closed).toBe(1);
    expect(stderr).not.toContain('TimeoutOverflowWarning');
    const report = await readReport(join(dir, 'hang.report.csv'));
    expect(report.filter((x) => x.status === 'CREATED')).toHaveLength(29);
    expect(report[0].status).toBe('UNCERTAIN');
    expect(sandbox.counters().maxPerSecond.create).toBeLessThanOrEqual(10);
  });

  it('an output path that cannot take the report is refused before anything is sent: exit 2, one line naming it', async () => {
    const file = join(dir, 'outs.csv');
    await writeFile(file, invoices('OUTS', 5));
    const target = join(dir, 'kept.csv');
    await writeFile(target, 'kept\n');
    await symlink(target, join(dir, 'link.csv'));
    execFileSync('mkfifo', [join(dir, 'pipe.csv')]);
    await mkdir(join(dir, 'folder'));
    const cases: [string[], RegExp][] = [
      [['--out', join(dir, 'missing', 'r.csv')], /--out .*missing.*the folder .* does not exist/],
      [['--out', join(dir, 'link.csv')], /--out .*link\.csv is a symbolic link/],
      [['--out', join(dir, 'pipe.csv')], /--out .*pipe\.csv is a FIFO/],
      [['--out', join(dir, 'folder')], /--out .*folder is a folder/],
      [['--fix-out', join(dir, 'missing', 'f.csv')], /--fix-out .*does not exist/],
      [['--summary-out', join(dir, 'kept.csv', 's.json')], /--summary-out .*not a folder/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['run', file, ...args], { env: env() });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Nothing was sent');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(creates()).toBe(0);
    expect((await lstat(join(dir, 'link.csv'))).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('kept\n');
    expect((await lstat(join(dir, 'pipe.csv'))).isFIFO()).toBe(true);
  });

  it('a state folder that cannot hold the ledger is refused before anything is sent: exit 2, naming the setting', async () => {
    const file = join(dir, 'state.csv');
    await writeFile(file, invoices('STATE', 3));
    await writeFile(join(dir, 'not-a-folder'), '');
    for (const stateDir of [join(dir, 'not-a-folder'), join(dir, 'not-a-folder', 'state')]) {
      const r = await runCli(['run', file], { env: env({ PAYBATCH_STATE_DIR: stateDir }) });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`the state folder ${stateDir} (--state-dir or PAYBATCH_STATE_DIR)`);
      expect(r.stderr).not.toContain('internal error');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(creates()).toBe(0);
  });

  it('an orderId a spreadsheet would run as a formula is INVALID, never sent; the report reads back as the orders sent', async () => {
    const file = join(dir, 'formula.csv');
    await writeFile(file, invoices('FORM', 5, (i) => ['', '=1+1,11.00,EUR,URL,,', '@SUM(1),12.00,EUR,URL,,', '-1+A1,13.00,EUR,URL,,', '-12,14.00,EUR,URL,,'][i - 1] ?? ''));
    const r = await runCli(['run', file], { env: env() });
    expect(r.code).toBe(1);
    const report = await readReport(join(dir, 'formula.report.csv'));
    expect(report.map((x) => [x.status, x.errorCode])).toEqual([['CREATED', ''], ['INVALID', 'INT_013'], ['INVALID', 'INT_013'], ['INVALID', 'INT_013'], ['CREATED', '']]);
    expect(report[1].errorMessage).toContain('formula');
    expect(sandbox.counters().ordersCreated['=1+1']).toBeUndefined();
    expect(creates()).toBe(2);
    // What was sent reads back from the report as the same orderId: status finds them RUNNING, none NOT_SENT.
    const status = await runCli(['status', join(dir, 'formula.report.csv'), '--out', join(dir, 'formula.status.csv')], { env: env() });
    const rows = await readReport(join(dir, 'formula.status.csv'));
    expect(rows.filter((x) => x.paymentOrderStatus === 'RUNNING').map((x) => x.orderId), status.stderr).toEqual(['FORM-0001', '-12']);
  });

  it('bad credentials: stops before anything is claimed or sent, exit 2, one line naming the settings', async () => {
    const file = join(dir, 'auth.csv');
    await writeFile(file, invoices('AUTH', 3));
    const r = await runCli(['run', file], { env: env({ PAYBATCH_PASSWORD: 'testpassword_WRONGWRONGWRONG' }) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('INT_905');
    expect(r.stderr).toContain('PAYBATCH_PASSWORD');
    expect(r.stderr).not.toContain('WRONGWRONG');
    expect(creates()).toBe(0);
    // Nothing was claimed: with the right password every row goes out.
    expect((await runCli(['run', file], { env: env() })).code).toBe(0);
    expect(creates()).toBe(3);
  });

  it('credentials from an env file: used, and the password is in no output, report, summary or ledger file', async () => {
    const file = join(dir, 'envfile.csv');
    await writeFile(file, invoices('ENVF', 2));
    await writeFile(join(dir, 'shop.env'), `PAYBATCH_API_URL=${sandbox.url}\nPAYBATCH_SHOP_ID=${DEMO_SHOP_ID}\nPAYBATCH_PASSWORD=${DEMO_TEST_PASSWORD}\n`);
    const e = env();
    for (const k of ['PAYBATCH_API_URL', 'PAYBATCH_SHOP_ID', 'PAYBATCH_PASSWORD'] as const) (e as Record<string, string | undefined>)[k] = undefined;
    const r = await runCli(['run', file, '--env-file', join(dir, 'shop.env'), '--json'], { env: e });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).statuses).toEqual({ CREATED: 2 });
    const secret = DEMO_TEST_PASSWORD.slice('testpassword_'.length);
    expect(r.stdout + r.stderr).not.toContain(secret);
    const written = [join(dir, 'envfile.report.csv'), join(dir, 'envfile.report.json')];
    for (const f of await readdir(join(dir, 'state'), { recursive: true, withFileTypes: true })) {
      if (f.isFile()) written.push(join(f.parentPath, f.name));
    }
    expect(written.length).toBeGreaterThan(2);
    for (const f of written) expect(await readFile(f, 'utf8')).not.toContain(secret);
  });

  it('API down or settings missing: a clear one-line error and exit 2', async () => {
    const file = join(dir, 'down.csv');
    await writeFile(file, invoices('DOWN', 2));
    const down = await runCli(['run', file], { env: env({ PAYBATCH_API_URL: 'http://127.0.0.1:9' }) });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/does not answer.*Nothing was sent/);
    const missing = await runCli(['run', file], { env: env({ PAYBATCH_SHOP_ID: '' }) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('PAYBATCH_SHOP_ID');
    const noFile = await runCli(['run', join(dir, 'nope.csv')], { env: env() });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('nope.csv');
  });

  it('an API that fails every request trips the circuit breaker: exit 3, nothing piles up, every row reported', async () => {
    const broken = await startSandbox({ port: 0, failRate: 1, failKinds: ['http-500'], seed: 1 });
    try {
      const file = join(dir, 'broken.csv');
      await writeFile(file, invoices('BRK', 30));
      const r = await runCli(['run', file, '--concurrency', '1', '--stop-after-failures', '3'], { env: env({ PAYBATCH_API_URL: broken.url }) });
      expect(r.code).toBe(3);
      expect(r.stdout).toContain('STOPPED');
      expect(r.stdout).toContain('PB_CIRCUIT_OPEN');
      const report = await readReport(join(dir, 'broken.report.csv'));
      expect(report).toHaveLength(30);
      expect(report.filter((x) => x.status === 'UNCERTAIN')).toHaveLength(3);
      expect(report.filter((x) => x.status === 'PENDING')).toHaveLength(27);
      expect(broken.counters().requests[CREATE]).toBe(3);
    } finally {
      await broken.stop();
    }
  });

  it('kill -9 in the middle of a run, then a re-run: no invoice gets two orders and the report has every row', async () => {
    const slow = await startSandbox({ port: 0, latencyMs: 40 });
    try {
      const file = join(dir, 'killed.csv');
      await writeFile(file, invoices('KILL', 150));
      const e = env({ PAYBATCH_API_URL: slow.url });
      const child = spawnCli(['run', file, '--concurrency', '6', '--rate', '200'], { env: e });
      child.stdin!.end();
      await waitUntil(() => (slow.counters().requests[CREATE] ?? 0) >= 40, '40 orders sent');
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      expect(existsSync(join(dir, 'killed.report.csv'))).toBe(false);

      const r = await runCli(['run', file, '--concurrency', '6', '--rate', '200'], { env: e });
      expect([0, 1]).toContain(r.code);
      const report = await readReport(join(dir, 'killed.report.csv'));
      expect(report).toHaveLength(150);
      expect(report.map((x) => x.invoice)).toEqual(Array.from({ length: 150 }, (_, i) => `KILL-${String(i + 1).padStart(4, '0')}`));
      const counts = slow.counters().ordersCreated;
      expect(Object.values(counts).every((n) => n === 1)).toBe(true);
      // Only the requests in flight at the kill can be in doubt; everything else was created exactly once.
      const uncertain = report.filter((x) => x.status === 'UNCERTAIN');
      expect(uncertain.length).toBeLessThanOrEqual(6);
      for (const u of uncertain) expect(u.errorCode).toBe('PB_INTERRUPTED');
      expect(report.filter((x) => x.status === 'CREATED').length + uncertain.length).toBe(150);
    } finally {
      await slow.stop();
    }
  });

  it('SIGINT: in-flight requests finish, the report lists every row (unsent ones PENDING), exit 3; a re-run finishes the job', async () => {
    const slow = await startSandbox({ port: 0, latencyMs: 60 });
    try {
      const file = join(dir, 'stopped.csv');
      await writeFile(file, invoices('STOP', 80));
      const e = env({ PAYBATCH_API_URL: slow.url });
      const child = spawnCli(['run', file, '--concurrency', '2', '--rate', '100'], { env: e });
      child.stdin!.end();
      let stdout = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      await waitUntil(() => (slow.counters().requests[CREATE] ?? 0) >= 10, '10 orders sent');
      child.kill('SIGINT');
      const code = await new Promise((r) => child.on('close', r));
      expect(code).toBe(3);
      expect(stdout).toContain('STOPPED');
      const report = await readReport(join(dir, 'stopped.report.csv'));
      expect(report).toHaveLength(80);
      const statuses = new Set(report.map((x) => x.status));
      expect([...statuses].sort()).toEqual(['CREATED', 'PENDING']);
      // In-flight requests were allowed to finish: every order the sandbox created is reported CREATED.
      expect(report.filter((x) => x.status === 'CREATED').length).toBe(Object.keys(slow.counters().ordersCreated).length);

      const r = await runCli(['run', file, '--concurrency', '4', '--rate', '100'], { env: e });
      expect(r.code).toBe(0);
      expect(Object.values(slow.counters().ordersCreated).every((n) => n === 1)).toBe(true);
      expect(Object.keys(slow.counters().ordersCreated)).toHaveLength(80);
    } finally {
      await slow.stop();
    }
  });
  it('a second SIGTERM quits at once with 143, as a shell reports a process ended by SIGTERM', async () => {
    const slow = await startSandbox({ port: 0, latencyMs: 3000 });
    try {
      const file = join(dir, 'twice.csv');
      await writeFile(file, invoices('TWICE', 10));
      const child = spawnCli(['run', file, '--concurrency', '2'], { env: env({ PAYBATCH_API_URL: slow.url }) });
      child.stdin!.end();
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitUntil(() => (slow.counters().requests[CREATE] ?? 0) >= 1, 'an order in flight');
      child.kill('SIGTERM');
      await waitUntil(() => stderr.includes('SIGTERM: no new order is sent'), 'the first SIGTERM acknowledged');
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.on('close', r));
      expect(code).toBe(143);
      expect(stderr).toContain('SIGTERM again: quitting now');
    } finally {
      await slow.stop();
    }
  });
});
