import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { runCli, spawnCli } from '../support/cli.js';
import { removeDir } from '../support/redis.js';
import { readReport, until } from './queue-support.js';

let sandbox: Sandbox;
let root: string;
beforeAll(async () => {
  sandbox = await startSandbox();
  root = mkdtempSync(join(tmpdir(), 'paybatch-schedule-'));
});
afterAll(async () => {
  await sandbox.stop();
  removeDir(root);
});

function shop(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { PAYBATCH_API_URL: sandbox.url, PAYBATCH_PLATFORM: undefined, PAYBATCH_SHOP_ID: DEMO_SHOP_ID, PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD, PAYBATCH_WEBHOOK_SECRET: undefined, REDIS_URL: undefined, PAYBATCH_LEDGER: undefined, ...extra };
}

/** A folder with jobs/NAME.json and exports/ beside it. */
function workspace(name: string, job: Record<string, unknown>): { dir: string; jobs: string; state: string } {
  const dir = mkdtempSync(join(root, `${name}-`));
  mkdirSync(join(dir, 'jobs'));
  mkdirSync(join(dir, 'exports'));
  writeFileSync(join(dir, 'jobs', `${name}.json`), JSON.stringify(job));
  return { dir, jobs: join(dir, 'jobs'), state: join(dir, 'state') };
}

function invoices(file: string, prefix: string, n: number): void {
  const lines = ['invoice,amount,currency,channel'];
  for (let i = 0; i < n; i++) lines.push(`${prefix}-${i},${10 + i}.50,EUR,URL`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Orders the sandbox created for invoices starting with `prefix`: orderId → how many. */
function ordersOf(prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(sandbox.counters().ordersCreated).filter(([id]) => id.startsWith(`${prefix}-`)));
}

interface Scheduler {
  child: ChildProcess;
  events: () => Array<Record<string, unknown>>;
  stop: () => Promise<number | null>;
}

/** `paybatch schedule ARGS` running; its log lines parsed as they come. */
async function startScheduler(args: string[], env: Record<string, string | undefined>): Promise<Scheduler> {
  const child = spawnCli(['schedule', ...args], { env });
  child.stdin!.end();
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const events = () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([until(() => events().some((e) => e.event === 'schedule.ready'), 'the scheduler to be ready', 20_000), exited.then(() => Promise.reject(new Error(`scheduler exited: ${err}`)))]);
  return {
    child,
    events,
    stop: async () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

const ended = (s: Scheduler) => s.events().filter((e) => e.event === 'schedule.run.end');

describe('a job file is refused at once when its schedule is wrong', () => {
  it.each([
    [{ schedule: 'every tuesday lol' }, '"schedule": "every tuesday lol" has 3 fields'],
    [{ schedule: '61 * * * *' }, '"schedule": "61 * * * *" is not a cron pattern'],
    [{ schedule: '0 8 * * *', timezone: 'Europe/Pariss' }, '"timezone": "Europe/Pariss" is not an IANA time zone'],
    [{ schedule: '0 8 * * *', missed: 'later' }, '"missed": "later": use "run"'],
    [{ schedule: '0 8 * * *', curency: 'EUR' }, '"curency" is not an option of this command: did you mean "currency"?'],
    [{ schedule: '0 8 * * *', notify: { webhook: 'https://example.com/hook' } }, '"notify.webhook" needs PAYBATCH_WEBHOOK_SECRET'],
  ])('%j', async (keys, message) => {
    const w = workspace('bad', { file: '../exports/a.csv', ...keys });
    const r = await runCli(['schedule', w.jobs, '--list'], { env: shop() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`paybatch: ${join(w.jobs, 'bad.json')}: ${message}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [{ schedule: '0 8 * * *', fille: '../exports/a.csv' }, '"fille" is not an option of this command: did you mean "file"?'],
    [{ shedule: '0 8 * * *', file: '../exports/a.csv' }, '"shedule" is not an option of this command: did you mean "schedule"?'],
  ])('a misspelt required key is pointed out with its fix, not reported missing: %j', async (keys, message) => {
    const w = workspace('typo', keys);
    const r = await runCli(['schedule', w.jobs, '--list'], { env: shop() });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`paybatch: ${join(w.jobs, 'typo.json')}: ${message}`);
  });

  it('the shipped monthly job is valid and lists its next fire time', async () => {
    const r = await runCli(['schedule', 'jobs/monthly-mail.json', '--list'], { env: shop() });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^monthly-mail {2}"0 8 1 \* \*" {2}next \d{4}-\d\d-01T08:00:00 Europe\/Paris {2}last: never run\n$/);
  });
});

describe('paybatch schedule without Redis', () => {
  it('fires a 6-field schedule every few seconds, writes each run\'s reports named after the job and the slot, and --list shows the last one', async () => {
    const w = workspace('every2s', { schedule: '*/2 * * * * *', timezone: 'Europe/Paris', file: '../exports/invoices.csv', output: '../reports' });
    invoices(join(w.dir, 'exports', 'invoices.csv'), 'E2S', 3);
    const s = await startScheduler([w.jobs, '--state-dir', w.state], shop());
    await until(() => ended(s).length >= 2, 'two runs', 20_000);
    expect(await s.stop()).toBe(0);
    const runs = ended(s);
    expect(runs.map((e) => e.outcome)).toEqual(runs.map(() => 'done'));
    const reports = readdirSync(join(w.dir, 'reports')).filter((f) => f.endsWith('.report.csv')).sort();
    expect(reports.length).toBe(runs.length);
    expect(reports[0]).toMatch(/^every2s-\d{8}T\d{6}Z\.report\.csv$/);
    // The first run sent the three invoices, the next ones found them in the ledger.
    expect(ordersOf('E2S')).toEqual({ 'E2S-0': 1, 'E2S-1': 1, 'E2S-2': 1 });
    expect(readReport(join(w.dir, 'reports', reports[0]!)).map((r) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED']);
    // The run history (what the console lists) says which job started each run.
    const history = readdirSync(join(w.state, 'runs')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(w.state, 'runs', f), 'utf8')) as { origin: string });
    expect(history.length).toBe(runs.length);
    expect(new Set(history.map((h) => h.origin))).toEqual(new Set(['schedule every2s']));

    const list = await runCli(['schedule', w.jobs, '--list', '--state-dir', w.state], { env: shop() });
    expect(list.stdout).toMatch(/^every2s {2}"\*\/2 \* \* \* \* \*" {2}next \S+ Europe\/Paris {2}last: done \(exit 0\) at \S+ Europe\/Paris: invoices\.csv: 3 CREATED, 0 sent\n$/);
  });

  it('two schedulers with their own state folders (two machines sharing the job files) fire each slot once and send every invoice once', async () => {
    const w = workspace('twice', { schedule: '*/2 * * * * *', file: '../exports/invoices.csv' });
    invoices(join(w.dir, 'exports', 'invoices.csv'), 'TWO', 20);
    // A drop-folder job in the same folder: each file is taken by one scheduler, sent once and moved.
    mkdirSync(join(w.dir, 'drops'));
    writeFileSync(join(w.jobs, 'twice-drop.json'), JSON.stringify({ schedule: '*/2 * * * * *', file: '../drops/*.csv' }));
    for (const n of [1, 2, 3]) {
      invoices(join(w.dir, 'drops', `part${n}.csv`), `TWD${n}`, 2);
      utimesSync(join(w.dir, 'drops', `part${n}.csv`), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    }
    // Each its own ledger: neither knows what the other sent, except through the claims and reports beside the jobs.
    const [a, b] = await Promise.all([startScheduler([w.jobs], shop({ PAYBATCH_STATE_DIR: join(w.dir, 'state-a') })), startScheduler([w.jobs], shop({ PAYBATCH_STATE_DIR: join(w.dir, 'state-b') }))]);
    const runs = (s: Scheduler, job: string) => ended(s).filter((e) => e.job === job);
    await until(() => runs(a, 'twice').length + runs(b, 'twice').length >= 3, 'three slots', 20_000);
    await until(() => existsSync(join(w.dir, 'drops', 'done')) && readdirSync(join(w.dir, 'drops', 'done')).length === 3, 'every dropped file sent', 20_000);
    // The scheduler that sent the invoices goes away (the machine stops): the other one, whose ledger never saw them,
    // runs the next slots.
    const first = [...runs(a, 'twice'), ...runs(b, 'twice')].map((e) => e.slot as string).sort()[0]!;
    const [sender, other] = runs(a, 'twice').some((e) => e.slot === first) ? [a, b] : [b, a];
    await sender.stop();
    await until(() => runs(other, 'twice').some((e) => (e.slot as string) > first), 'a slot run by the other scheduler', 20_000);
    await other.stop();
    for (const job of ['twice', 'twice-drop']) {
      const slots = [...runs(a, job), ...runs(b, job)].map((e) => e.slot);
      expect(new Set(slots).size).toBe(slots.length);
    }
    expect(Object.values(ordersOf('TWO'))).toEqual(Array(20).fill(1));
    for (const p of ['TWD1', 'TWD2', 'TWD3']) expect(ordersOf(p)).toEqual({ [`${p}-0`]: 1, [`${p}-1`]: 1 });
    expect(readdirSync(join(w.dir, 'drops', 'done')).sort()).toEqual(['part1.csv', 'part2.csv', 'part3.csv']);
    // Every slot's report says every invoice is CREATED: a ledger that did not send them learnt it from the last report.
    const reports = readdirSync(join(w.jobs, 'runs')).filter((f) => /^twice-\d{8}T\d{6}Z\.report\.csv$/.test(f));
    expect(reports.length).toBeGreaterThanOrEqual(3);
    for (const r of reports) expect(new Set(readReport(join(w.jobs, 'runs', r)).map((x) => x.status))).toEqual(new Set(['CREATED']));
  }, 90_000);

  it('slots missed while it was stopped are run once when it comes back, not once each', async () => {
    const w = workspace('missed', { schedule: '* * * * * *', file: '../exports/invoices.csv' });
    invoices(join(w.dir, 'exports', 'invoices.csv'), 'MIS', 1);
    const first = await startScheduler([w.jobs, '--state-dir', w.state], shop());
    await until(() => ended(first).length >= 1, 'one run', 20_000);
    await first.stop();
    await new Promise((r) => setTimeout(r, 3500));
    const again = await startScheduler([w.jobs, '--state-dir', w.state], shop());
    await until(() => ended(again).length >= 1, 'the catch-up run', 20_000);
    await again.stop();
    const lastBefore = new Date(ended(first).at(-1)!.slot as string).getTime();
    const next = new Date(ended(again)[0]!.slot as string).getTime();
    // Three or more one-second slots passed while it was down; the one run back is the latest of them.
    expect(next - lastBefore).toBeGreaterThanOrEqual(3000);
    expect(ordersOf('MIS')).toEqual({ 'MIS-0': 1 });
  });

  it('after the upgrade, a job whose slots were claimed in the state folder keeps its history and catches up the slot it missed, once', async () => {
    const w = workspace('upgraded', { schedule: '0 0 * * *', timezone: 'UTC', file: '../exports/invoices.csv', output: '../reports' });
    invoices(join(w.dir, 'exports', 'invoices.csv'), 'UPG', 2);
    // What the earlier version left in STATE/schedule/JOB: registered ten days ago, last run yesterday at midnight.
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`);
    const yesterday = new Date(today.getTime() - 86_400_000);
    const former = join(w.state, 'schedule', 'upgraded');
    mkdirSync(former, { recursive: true });
    writeFileSync(join(former, 'registered'), `${new Date(today.getTime() - 10 * 86_400_000).toISOString()}\n`);
    const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
    writeFileSync(join(former, `${stamp(yesterday)}.json`), JSON.stringify({ job: 'upgraded', slot: yesterday.toISOString(), host: 'old', pid: 1, startedAt: yesterday.toISOString(), endedAt: yesterday.toISOString(), outcome: 'done', exitCode: 0, message: 'invoices.csv: 2 CREATED, 2 sent' }));

    const before = await runCli(['schedule', w.jobs, '--list', '--state-dir', w.state], { env: shop() });
    expect(before.stdout).toContain(`last: done (exit 0) at ${yesterday.toISOString().slice(0, 10)}`);

    // Today's midnight went by while nothing ran: the scheduler catches it up on start, and only it.
    const s = await startScheduler([w.jobs, '--state-dir', w.state], shop());
    await until(() => ended(s).length >= 1, 'the catch-up run', 20_000);
    expect(await s.stop()).toBe(0);
    expect(ended(s).map((e) => [e.slot, e.outcome])).toEqual([[today.toISOString(), 'done']]);
    expect(ordersOf('UPG')).toEqual({ 'UPG-0': 1, 'UPG-1': 1 });
    expect(readdirSync(join(w.dir, 'reports', '.schedule', 'upgraded')).filter((f) => f.endsWith('.json')).sort()).toEqual([`${stamp(yesterday)}.json`, `${stamp(today)}.json`]);
  });

  it('a drop folder: each of three files is sent once and moved to done/; a file still being written waits', async () => {
    const w = workspace('drop', { schedule: '*/2 * * * * *', file: '../exports/*.csv' });
    const exports = join(w.dir, 'exports');
    for (const n of [1, 2, 3]) {
      invoices(join(exports, `part${n}.csv`), `DR${n}`, 2);
      utimesSync(join(exports, `part${n}.csv`), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    }
    // A file still being written: changed just now (its time kept ahead of the clock until the copy "ends").
    invoices(join(exports, 'fresh.csv'), 'DRF', 1);
    utimesSync(join(exports, 'fresh.csv'), new Date(), new Date(Date.now() + 600_000));
    const s = await startScheduler([w.jobs, '--state-dir', w.state], shop());
    await until(() => ended(s).length >= 1, 'the first slot', 20_000);
    expect(ended(s)[0]!.msg as string).not.toContain('fresh.csv');
    expect(existsSync(join(exports, 'fresh.csv'))).toBe(true);
    utimesSync(join(exports, 'fresh.csv'), new Date(), new Date(Date.now() - 10_000));
    await until(() => existsSync(join(exports, 'done', 'fresh.csv')), 'the fresh file to be sent once settled', 20_000);
    await s.stop();
    expect(readdirSync(join(exports, 'done')).sort()).toEqual(['fresh.csv', 'part1.csv', 'part2.csv', 'part3.csv']);
    expect(readdirSync(exports).filter((f) => f.endsWith('.csv'))).toEqual([]);
    for (const p of ['DR1', 'DR2', 'DR3']) expect(ordersOf(p)).toEqual({ [`${p}-0`]: 1, [`${p}-1`]: 1 });
    expect(ordersOf('DRF')).toEqual({ 'DRF-0': 1 });
  });

  it('notifies a webhook with a signed summary, retries it, and does not hold the next run', async () => {
    const secret = 'whsec-test-1234';
    const received: Array<{ body: string; signature: string | undefined; at: number }> = [];
    // The first slot's notice fails twice (503), then is accepted; later slots' are accepted at once.
    let failing: string | undefined;
    let failures = 2;
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-paybatch-signature'] as string | undefined, at: Date.now() });
        const slot = (JSON.parse(body) as { slot: string }).slot;
        failing ??= slot;
        res.statusCode = slot === failing && failures-- > 0 ? 503 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const w = workspace('hook', { schedule: '*/2 * * * * *', file: '../exports/invoices.csv', notify: { webhook: url } });
      invoices(join(w.dir, 'exports', 'invoices.csv'), 'WH', 1);
      const s = await startScheduler([w.jobs, '--state-dir', w.state], shop({ PAYBATCH_WEBHOOK_SECRET: secret }));
      const ofFirstSlot = () => received.filter((r) => (JSON.parse(r.body) as { slot: string }).slot === failing);
      await until(() => ofFirstSlot().length >= 3, 'the webhook to be delivered', 20_000);
      const runsWhileRetrying = ended(s).length;
      await s.stop();
      const first = received[0]!;
      expect(ofFirstSlot().map((r) => r.body)).toEqual([first.body, first.body, first.body]);
      expect(first.signature).toBe(`sha256=${createHmac('sha256', secret).update(first.body).digest('hex')}`);
      const payload = JSON.parse(first.body) as { job: string; outcome: string; exitCode: number };
      expect(payload).toMatchObject({ job: 'hook', outcome: 'done', exitCode: 0 });
      // Retries wait 1 s then 2 s: the next slot (2 s later) ran meanwhile.
      expect(runsWhileRetrying).toBeGreaterThanOrEqual(2);
      expect(s.events().filter((e) => e.event === 'schedule.webhook.retry')).toHaveLength(2);
      expect(JSON.stringify(s.events())).not.toContain(secret);
    } finally {
      server.close();
    }
  });
});
