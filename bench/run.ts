// `npm run bench` (full) / `npm run bench -- --quick`: paybatch measured against the physical limit, every row of the
// table in one run, written to BENCHMARKS.md. See bench/README.md for what each row means.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMeasured, lastJson, type Measured } from './child.js';
import { writeInvoices } from './inputs.js';
import { describeMachine, loadAverage } from './machine.js';
import { CLI, NO_RATE_LIMIT, ROOT, paybatchRun, sandboxEnv, type RunMeasure } from './paybatch.js';
import { startSandboxProcess, startWorkers } from './services.js';
import { markdownTable, mb, perSecond, ratio, textTable, type BenchLine } from './table.js';
import { startRedis } from '../test/support/redis.js';
import { ledgerWithHistory } from './ledger-history.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const skipBuild = process.argv.includes('--no-build');

/** Sizes per mode: quick keeps every row, on smaller inputs (< 3 min on 2 cores). */
const SIZE = quick
  ? { efficiencyRows: 2_500, headroomRows: 5_000, limiterSeconds: 10, validateRows: 100_000, bigRunRows: 50_000, historyOrders: 100_000 }
  : { efficiencyRows: 7_500, headroomRows: 20_000, limiterSeconds: 20, validateRows: 1_000_000, bigRunRows: 1_000_000, historyOrders: 1_000_000 };
const C = 50;
const LATENCY_MS = 200;
const LIMITER_RATE = 100;
const LIMITER_LATENCY_MS = 20;
const LIMITER_WORKERS = 3;

const work = mkdtempSync(join(tmpdir(), 'paybatch-bench-'));
const lines: BenchLine[] = [];
let seq = 0;
const log = (s: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function input(rows: number): Promise<string> {
  const prefix = `B${++seq}${Date.now().toString(36).toUpperCase()}`;
  const file = join(work, `${prefix}.csv`);
  await writeInvoices(file, rows, prefix);
  return file;
}
const stateDir = (): string => mkdtempSync(join(work, 'state-'));
const want = (row: string): boolean => !only || only.includes(row);

/**
 * Runs of each subject (and of each baseline) in a row; the fastest counts. A neighbour on a shared machine only ever
 * slows a run down — the same build's CPU time swings ~15 % from one minute to the next here — so the fastest run is the
 * one least disturbed, for paybatch and for its baselines alike. Every run's figure is in the detail column; what must
 * hold in every run (peak RSS, most requests in a second) is judged on the worst one. The quick run's efficiency rounds
 * are two: each is ~25 s of latency-bound runs, and with three the quick run took 162 s of its three minutes on a
 * moderately busy host (npm, tsx and the build come on top), too close for a promise.
 */
const EFFICIENCY_RUNS = quick ? 2 : 3;
const VALIDATE_RUNS = 3;
const HEADROOM_RUNS = 3;
const HISTORY_RUNS = 5;
const fastest = <T>(runs: T[], rate: (r: T) => number): T => runs.reduce((a, b) => (rate(b) > rate(a) ? b : a));
const secs = (ms: number): string => (ms / 1000).toFixed(1);

async function bareLoop(url: string, rows: number): Promise<number> {
  const m = await runMeasured(process.execPath, [join(ROOT, 'bench/baseline/undici-loop.mjs'), url, sandboxEnv(url).PAYBATCH_SHOP_ID!, String(rows), String(C), `U${++seq}`], { env: sandboxEnv(url) });
  if (m.code !== 0) throw new Error(`the undici loop failed: ${m.stderr}`);
  const r = lastJson<{ ok: number; failed: number; rowsPerSecond: number }>(m.stdout);
  if (r.failed > 0) throw new Error(`the undici loop got ${r.failed} failed answers`);
  return r.rowsPerSecond;
}

async function efficiency(): Promise<void> {
  const limit = C / (LATENCY_MS / 1000);
  const sandbox = await startSandboxProcess(CLI, { latencyMs: LATENCY_MS });
  try {
    // Not a target, a reference: what the bare loop reaches against the same sandbox (its timers, this machine's load).
    const bare = await bareLoop(sandbox.url, SIZE.efficiencyRows);
    lines.push({ row: `efficiency, L=${LATENCY_MS} ms, C=${C}, no rate limit`, subject: 'reference: bare undici loop', measured: ratio(bare / limit), target: '—', pass: null, detail: `${perSecond(bare)}: the ceiling of this sandbox on this machine` });
    log(`efficiency bare loop: ${bare.toFixed(1)} rows/s of ${limit}`);
    // Rounds of embedded, queue: a busy minute of the host slows one run of each, not both runs of one engine.
    const embeddedRuns: RunMeasure[] = [];
    const queuedRuns: RunMeasure[] = [];
    const redis = await startRedis();
    try {
      for (let i = 0; i < EFFICIENCY_RUNS; i++) {
        embeddedRuns.push(await paybatchRun({ file: await input(SIZE.efficiencyRows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT }));
        log(`efficiency embedded: ${embeddedRuns[i]!.rowsPerSecond.toFixed(1)} rows/s of ${limit}`);
        queuedRuns.push(await paybatchRun({ file: await input(SIZE.efficiencyRows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT, redisUrl: redis.url, workers: 1 }));
        log(`efficiency queue: ${queuedRuns[i]!.rowsPerSecond.toFixed(1)} rows/s of ${limit}`);
      }
    } finally {
      await redis.stop();
    }
    lines.push(efficiencyLine('embedded', embeddedRuns, limit));
    lines.push(efficiencyLine('queue (1 worker, concurrency 50)', queuedRuns, limit));
  } finally {
    await sandbox.stop();
  }
}

function efficiencyLine(subject: string, runs: RunMeasure[], limit: number): BenchLine {
  const best = fastest(runs, (r) => r.rowsPerSecond);
  const r = best.rowsPerSecond / limit;
  return {
    row: `efficiency, L=${LATENCY_MS} ms, C=${C}, no rate limit`,
    subject,
    measured: ratio(r),
    target: '≥ 0.95',
    pass: r >= 0.95,
    detail: `${best.rows} rows in ${secs(best.durationMs)} s = ${perSecond(best.rowsPerSecond)} (fastest of ${runs.map((m) => `${secs(m.durationMs)} s`).join(', ')}); C/L = ${limit}/s`,
  };
}

async function headroom(): Promise<void> {
  const sandbox = await startSandboxProcess(CLI, { latencyMs: 0 });
  const bare = (): Promise<number> => bareLoop(sandbox.url, SIZE.headroomRows);
  try {
    // Rounds of bare loop, embedded, queue: as many runs of the baseline as of each subject, the fastest of each kept —
    // a busy neighbour must not flatter us, and the baseline must not get more draws at a quiet moment than we do.
    const bareRuns: number[] = [];
    const embeddedRuns: RunMeasure[] = [];
    const queuedRuns: RunMeasure[] = [];
    const looseRuns: RunMeasure[] = [];
    // The queue's claims are durable only with appendfsync always (what paybatch requires); the same runs on a Redis
    // that fsyncs every second show what that durability costs.
    const redis = await startRedis();
    const loose = await startRedis(['--appendfsync', 'everysec']);
    try {
      for (let i = 0; i < HEADROOM_RUNS; i++) {
        bareRuns.push(await bare());
        embeddedRuns.push(await paybatchRun({ file: await input(SIZE.headroomRows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT }));
        queuedRuns.push(await paybatchRun({ file: await input(SIZE.headroomRows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT, redisUrl: redis.url, workers: 1 }));
        looseRuns.push(await paybatchRun({ file: await input(SIZE.headroomRows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT, redisUrl: loose.url, workers: 1, extraArgs: ['--redis-may-lose-claims'] }));
        log(`headroom: embedded ${embeddedRuns[i]!.rowsPerSecond.toFixed(0)}, queue ${queuedRuns[i]!.rowsPerSecond.toFixed(0)} (everysec ${looseRuns[i]!.rowsPerSecond.toFixed(0)}) rows/s; bare ${bareRuns.map((b) => b.toFixed(0)).join(', ')}`);
      }
    } finally {
      await Promise.all([redis.stop(), loose.stop()]);
    }
    const base = Math.max(...bareRuns);
    const row = `engine headroom, L=0, C=${C}`;
    const bareText = `bare undici loop ${perSecond(base)} (fastest of ${bareRuns.map((b) => b.toFixed(0)).join(', ')})`;
    const line = (subject: string, runs: RunMeasure[], target: number): BenchLine => {
      const best = fastest(runs, (r) => r.rowsPerSecond);
      const r = best.rowsPerSecond / base;
      return { row, subject, measured: ratio(r), target: `≥ ${target}`, pass: r >= target, detail: `${perSecond(best.rowsPerSecond)} (${best.rows} rows; fastest of ${runs.map((m) => m.rowsPerSecond.toFixed(0)).join(', ')}); ${bareText}` };
    };
    lines.push(line('embedded', embeddedRuns, 0.5));
    lines.push(line('queue (1 worker, concurrency 50)', queuedRuns, 0.3));
    const durable = fastest(queuedRuns, (r) => r.rowsPerSecond).rowsPerSecond;
    const everysec = fastest(looseRuns, (r) => r.rowsPerSecond).rowsPerSecond;
    lines.push({
      row: 'price of durable claims, queue, L=0',
      subject: 'appendfsync always ÷ everysec',
      measured: ratio(durable / everysec),
      target: '—',
      pass: null,
      detail: `always ${perSecond(durable)}; everysec ${perSecond(everysec)} (fastest of ${looseRuns.map((m) => m.rowsPerSecond.toFixed(0)).join(', ')}), a Redis that may forget its last second of claims`,
    });
  } finally {
    await sandbox.stop();
  }
}

/**
 * A run's cost must not grow with the ledger's history: 10-row runs against a state directory whose ledger already holds
 * SIZE.historyOrders past orders, alternated with the same runs against an empty one; the fastest of each, and the
 * highest peak RSS of each.
 */
async function history(): Promise<void> {
  const sandbox = await startSandboxProcess(CLI, { latencyMs: 0 });
  try {
    const full = join(work, 'history');
    const t = Date.now();
    await ledgerWithHistory(full, SIZE.historyOrders);
    log(`history: a ledger of ${SIZE.historyOrders} orders written in ${secs(Date.now() - t)} s`);
    const empty: RunMeasure[] = [];
    const old: RunMeasure[] = [];
    for (let i = 0; i < HISTORY_RUNS; i++) {
      empty.push(await paybatchRun({ file: await input(10), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT }));
      old.push(await paybatchRun({ file: await input(10), sandboxUrl: sandbox.url, stateDir: full, concurrency: C, rate: NO_RATE_LIMIT }));
      log(`history: ${empty[i]!.durationMs} ms / ${mb(empty[i]!.peakRss)} empty, ${old[i]!.durationMs} ms / ${mb(old[i]!.peakRss)} with history`);
    }
    const row = `10-row run, ledger of ${SIZE.historyOrders.toLocaleString('en')} past orders`;
    const bestMs = (runs: RunMeasure[]) => Math.min(...runs.map((r) => r.durationMs));
    const peak = (runs: RunMeasure[]) => Math.max(...runs.map((r) => r.peakRss));
    const time = bestMs(old) / bestMs(empty);
    const mem = peak(old) / peak(empty);
    const all = (runs: RunMeasure[]) => runs.map((r) => `${r.durationMs} ms`).join(', ');
    lines.push({ row, subject: 'time ÷ empty ledger', measured: ratio(time), target: '≤ 1.2', pass: time <= 1.2, detail: `${bestMs(old)} ms (fastest of ${all(old)}); empty ledger ${bestMs(empty)} ms (fastest of ${all(empty)})` });
    lines.push({ row, subject: 'peak RSS ÷ empty ledger', measured: ratio(mem), target: '≤ 1.2', pass: mem <= 1.2, detail: `${mb(peak(old))} (highest run); empty ledger ${mb(peak(empty))}` });
  } finally {
    await sandbox.stop();
  }
}

async function limiter(): Promise<void> {
  const rows = LIMITER_RATE * SIZE.limiterSeconds;
  const sandbox = await startSandboxProcess(CLI, { latencyMs: LIMITER_LATENCY_MS });
  const row = `limiter, R=${LIMITER_RATE}/s for ${SIZE.limiterSeconds} s (L=${LIMITER_LATENCY_MS} ms)`;
  const judge = (subject: string, rps: number, maxSecond: number, ms: number): void => {
    const r = rps / LIMITER_RATE;
    lines.push({ row, subject, measured: `${ratio(r)}; max ${maxSecond} in a second`, target: `≥ 0.97 and ≤ ${LIMITER_RATE}`, pass: r >= 0.97 && maxSecond <= LIMITER_RATE, detail: `${rows} rows in ${(ms / 1000).toFixed(2)} s = ${rps.toFixed(1)}/s` });
    log(`limiter ${subject}: ${rps.toFixed(1)}/s, max ${maxSecond}`);
  };
  try {
    await sandbox.resetCounters();
    const embedded = await paybatchRun({ file: await input(rows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: LIMITER_RATE });
    judge('embedded', embedded.rowsPerSecond, (await sandbox.counters()).maxPerSecond.create, embedded.durationMs);

    const redis = await startRedis();
    try {
      const env = sandboxEnv(sandbox.url);
      const workers = await startWorkers(CLI, LIMITER_WORKERS, env, ['--redis', redis.url, '--concurrency', String(Math.ceil(C / LIMITER_WORKERS))]);
      try {
        await sandbox.resetCounters();
        const queued = await paybatchRun({ file: await input(rows), sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: LIMITER_RATE, redisUrl: redis.url, workers: 0 });
        judge(`queue (${LIMITER_WORKERS} worker processes)`, queued.rowsPerSecond, (await sandbox.counters()).maxPerSecond.create, queued.durationMs);
      } finally {
        await workers.stop();
      }
    } finally {
      await redis.stop();
    }
  } finally {
    await sandbox.stop();
  }
}

async function validate(): Promise<void> {
  const file = await input(SIZE.validateRows);
  // Alternated (csv-parse, validate, csv-parse, …): a slow minute of the machine falls on both.
  const bareRuns: Measured[] = [];
  const runs: Measured[] = [];
  for (let i = 0; i < VALIDATE_RUNS; i++) {
    const bare = await runMeasured(process.execPath, [join(ROOT, 'bench/baseline/csv-parse.mjs'), file, ',']);
    if (bare.code !== 0) throw new Error(`bare csv-parse failed: ${bare.stderr}`);
    bareRuns.push(bare);
    const v = await runMeasured(process.execPath, [CLI, 'validate', file, '--json']);
    if (v.code !== 0) throw new Error(`paybatch validate exited with ${v.code}: ${v.stderr.slice(-500)}`);
    runs.push(v);
    log(`validate: ${secs(v.wallMs)} s (peak RSS ${mb(v.peakRss)}), csv-parse ${secs(bare.wallMs)} s`);
  }
  const rows = lastJson<{ rows: number }>(runs[0]!.stdout).rows;
  const v = fastest(runs, (m) => -m.wallMs);
  const bare = fastest(bareRuns, (m) => -m.wallMs);
  const vRate = (rows / v.wallMs) * 1000;
  const bRate = (rows / bare.wallMs) * 1000;
  const r = vRate / bRate;
  const peak = Math.max(...runs.map((m) => m.peakRss));
  const all = (ms: Measured[]): string => ms.map((m) => `${secs(m.wallMs)} s`).join(', ');
  const row = `validate, ${rows.toLocaleString('en')} rows`;
  lines.push({ row, subject: 'rows/s ÷ bare csv-parse', measured: ratio(r), target: '≥ 0.7', pass: r >= 0.7, detail: `validate ${perSecond(vRate)} (fastest of ${all(runs)}); csv-parse ${perSecond(bRate)} (fastest of ${all(bareRuns)}); whole processes` });
  lines.push({ row, subject: 'peak RSS (highest run)', measured: mb(peak), target: '≤ 150 MB', pass: peak <= 150e6, detail: `runs: ${runs.map((m) => mb(m.peakRss)).join(', ')}; bare csv-parse: ${mb(Math.max(...bareRuns.map((m) => m.peakRss)))}` });
}

async function bigRun(): Promise<void> {
  const file = await input(SIZE.bigRunRows);
  const sandbox = await startSandboxProcess(CLI, { latencyMs: 0, lean: true });
  try {
    const m = await paybatchRun({ file, sandboxUrl: sandbox.url, stateDir: stateDir(), concurrency: C, rate: NO_RATE_LIMIT });
    const row = `run, ${m.rows.toLocaleString('en')} rows, L=0`;
    log(`big run: ${m.rowsPerSecond.toFixed(0)} rows/s, peak RSS ${mb(m.peakRss)}`);
    lines.push({ row, subject: 'peak RSS, whole run (report included)', measured: mb(m.peakRss), target: '≤ 250 MB', pass: m.peakRss <= 250e6, detail: `embedded engine, C=${C}: ${m.created} created in ${(m.durationMs / 1000).toFixed(0)} s = ${perSecond(m.rowsPerSecond)}` });
  } finally {
    await sandbox.stop();
  }
}

function build(): string | undefined {
  if (skipBuild) return existsSync(CLI) ? undefined : 'dist/ is missing and --no-build was given';
  log('npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  if (!existsSync(CLI)) throw new Error(`npm run build failed and there is no dist/: ${r.stdout}${r.stderr}`);
  // tsc still emits on type errors (someone's work in progress): measure, but say so.
  return `npm run build reported errors (measured the emitted dist/ anyway): ${(r.stdout + r.stderr).split('\n').filter((l) => l.includes('error')).slice(0, 3).join(' / ')}`;
}

/** BENCHMARKS.md: bench/notes.md around the full run's table (a new one, or the one already there with --render). */
function writeReport(startedAt: Date, load: string, buildNote: string | undefined, seconds: number, renderOnly = false): void {
  const path = join(ROOT, 'BENCHMARKS.md');
  const section = renderOnly ? undefined : [
    '<!-- bench:full -->',
    '## Full run (`npm run bench`)',
    '',
    `- date: ${startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, ${seconds.toFixed(0)} s in all`,
    `- machine: ${describeMachine()}`,
    `- load average at start (1/5/15 min): ${load}`,
    ...(buildNote ? [`- build: ${buildNote}`] : []),
    '',
    markdownTable(lines),
    '<!-- /bench:full -->',
  ].join('\n');
  const notes = readFileSync(join(ROOT, 'bench/notes.md'), 'utf8').trim();
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const full = section ?? /<!-- bench:full -->[\s\S]*?<!-- \/bench:full -->/.exec(old)?.[0];
  const doc = [notes.split('<!-- results -->')[0]!.trim(), '', ...(full ? [full, ''] : []), (notes.split('<!-- results -->')[1] ?? '').trim(), ''].join('\n');
  writeFileSync(path, doc);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  if (process.argv.includes('--render')) {
    // Only rewrite BENCHMARKS.md from bench/notes.md and the results already in it (after editing the notes).
    writeReport(startedAt, '', undefined, 0, true);
    return;
  }
  const load = loadAverage();
  const buildNote = build();
  if (buildNote) log(buildNote);
  const t0 = Date.now();
  const steps: [string, () => Promise<void>][] = [
    ['efficiency', efficiency],
    ['headroom', headroom],
    ['history', history],
    ['limiter', limiter],
    ['validate', validate],
    ['run', bigRun],
  ];
  try {
    for (const [name, step] of steps) {
      if (!want(name)) continue;
      log(`${name} …`);
      await step();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  process.stdout.write(`\npaybatch benchmarks (${quick ? 'quick' : 'full'}), ${describeMachine()}\n\n${textTable(lines)}\n\n`);
  for (const l of lines) process.stdout.write(`  ${l.row} / ${l.subject}: ${l.detail}\n`);
  // A partial run (--only) and the quick run are for re-measuring while working: their targets are the full run's
  // inputs' (on smaller ones a run's fixed start weighs more), so they never replace the committed table.
  if (only || quick) process.stdout.write(`\n${quick ? '--quick' : '--only'}: BENCHMARKS.md left as it is (${seconds.toFixed(0)} s)\n`);
  else {
    writeReport(startedAt, load, buildNote, seconds);
    process.stdout.write(`\nwritten: BENCHMARKS.md (${seconds.toFixed(0)} s)\n`);
  }
  if (lines.some((l) => l.pass === false)) process.exitCode = 1;
}

await main();
