import { unwritableFile } from '../csv/write.js';
import { batchExitCode, partialNames, publishReport } from '../report/finish.js';
import { stat, writeFile } from 'node:fs/promises';
import { checkWritablePaths } from '../lib/writable-paths.js';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import { runEmbedded } from '../engine/embedded/run-embedded.js';
import type { Run } from '../engine/run.js';
import { prespawnWorkerThreads } from '../engine/queue/local-workers.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../engine/job.js';
import type { RowOutcome } from '../engine/outcome.js';
import { newBatchId } from '../engine/batch-id.js';
import { connectRedis, dropConnection, type RedisTarget } from '../redis/connect.js';
import type { OpenedLedger } from '../ledger/open-ledger.js';
import { prepareLedger } from './prepare-ledger.js';
import { holdRows, sendWindowHold } from './hold-rows.js';
import { withIpnTarget } from './ipn-target.js';
import type { SendWindow } from '../orders/send-window.js';
import { RunRecorder } from './run-history.js';
import { LyraClient, type LyraClientOptions } from '../lyra/client.js';
import { describeTarget } from '../lyra/config.js';
import { LyraApiError } from '../lyra/errors.js';
import { modeOfPassword } from '../lyra/mode.js';
import { judgeFile, type JudgeFileOptions } from '../orders/judge-file.js';
import type { JudgedRow } from '../orders/types.js';
import { estimateRows } from '../report/estimate-rows.js';
import { createProgress, queueWaitingNote, type Progress } from '../report/progress.js';
import { createRunReport, summaryRow } from '../report/run-report.js';
import { Summary, type SummaryJson } from '../report/summary.js';

export interface RunBatchOptions {
  file: string;
  judge: JudgeFileOptions;
  lyra: LyraClientOptions;
  /** The state directory: the local ledger, and what this machine remembers of the ledger of record. */
  stateDir: string;
  /** PAYBATCH_LEDGER / --ledger: where the ledger of record is (src/ledger/open-ledger.ts). */
  ledgerSetting?: { value: string; source: string };
  /** Earlier reports given with --previous-report: evidence of orders the ledger may not know (src/app/adopt-reports.ts). */
  previousReports?: string[];
  /** One line for the operator: what was carried over or adopted. */
  onNotice?: (message: string) => void;
  /** Queue mode when set. */
  redis?: RedisTarget;
  /** Queue mode: workers started in this process (0 = only remote `paybatch worker`s send). */
  localWorkers?: number;
  /** Stored with a queued batch so `paybatch report BATCH` can judge the file again identically. */
  batchSource?: unknown;
  concurrency: number;
  perSecond?: number;
  retryUncertain: boolean;
  /** Send (and report) only these orderIds of the file: `resolve --resend-expired` re-sends exactly the orders it cleared. */
  onlyOrderIds?: ReadonlySet<string>;
  retry?: RetryPolicy;
  /** Consecutive technical failures (outcome unknown, retries exhausted) that stop the run. */
  breakerFailures?: number;
  /** Sent as ipnTargetUrl with every order: where Lyra notifies payments (see `paybatch ipn`). */
  ipnTargetUrl?: string;
  /** Charge/SDKTest before anything is claimed, so bad credentials or an unreachable API fail with exit 2. */
  checkCredentials?: boolean;
  files: { report: string; toFix: string; summary: string };
  signal?: AbortSignal;
  progress?: { tty: boolean; stream: NodeJS.WritableStream };
  /** Who started the run, for the run history the console lists (src/app/run-history.ts). Default `cli`. */
  origin?: string;
  /** Called with the batch id once sending is about to start (the console shows the batch from then on). */
  onStart?: (batchId: string) => void;
  now?: () => Date;
  /** Rows of these channels outside this window wait (PENDING, PB_SEND_WINDOW), with either engine. */
  sendWindow?: SendWindow;
}

export interface RunBatchResult {
  batchId: string;
  target: string;
  engine: 'embedded' | 'queue';
  summary: Summary;
  /** A few UNCERTAIN orderIds, for the printed summary (the report has them all). */
  uncertain: string[];
  /** Rows this run sent a request for (a re-run that finds everything done sends none). */
  sentByThisRun: number;
  /** CREATED rows whose order, made earlier, differs from the row as the file has it now (see their note). */
  differFromOrders: number;
  /** Columns not read that look like a misspelt field, with the fix (Mapping.hints). */
  hints: string[];
  aborted?: { code: string; message: string };
  files: { report: string; toFix?: string; summary: string };
  durationMs: number;
  exitCode: 0 | 1 | 3;
}

const UNCERTAIN_LISTED = 20;

/**
 * One batch run, whatever the engine: judge, send each valid row once, stream the report in input order. Errors before
 * any send throw PaybatchError (exit 2); after, every row is reported and a stop is `aborted` (exit 3).
 */
export async function runBatch(opts: RunBatchOptions): Promise<RunBatchResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  // Local queue workers' threads load their modules (BullMQ, ioredis, undici) and connect to Redis from the start, in
  // parallel with everything before the first job; they get the credentials only once these are checked.
  if (opts.redis) prespawnWorkerThreads(opts.localWorkers ?? 1, opts.redis);
  const mode = modeOfPassword(opts.lyra.password);
  if (!mode) throw new ConfigError('PB_CONFIG', 'the API password in PAYBATCH_PASSWORD does not start with testpassword_ or prodpassword_');
  const target = describeTarget(opts.lyra);
  const batchId = newBatchId(started);

  const client = new LyraClient(opts.lyra);
  // The credential check is one request at the platform's latency: the file is opened meanwhile (nothing is claimed
  // or sent before it answers). A file error still wins: it is the one to fix first.
  let onWire!: () => void;
  const onTheWire = new Promise<void>((resolve) => (onWire = resolve));
  const checked = opts.checkCredentials !== false ? checkCredentials(client, target, onWire) : Promise.resolve();
  checked.then(onWire, onWire);
  // The producer's Redis connection too. Connecting writes nothing; a Redis that is down is still reported after the
  // credentials, when the run takes the connection. Its first one loads ioredis synchronously, so it is not issued
  // between the check's connect and its write (that would delay the check).
  const redisTarget = opts.redis;
  const producerRedis = redisTarget ? onTheWire.then(() => connectRedis(redisTarget, 'producer')) : undefined;
  producerRedis?.catch(() => undefined);
  /** The queue run took the connection (it closes it); until then it is ours to drop. */
  let redisTaken = false;
  let judged: Awaited<ReturnType<typeof judgeFile>>;
  try {
    judged = await judgeFile(opts.file, opts.judge);
    await checkRunPaths(opts).catch((e: unknown) => {
      judged.source.close();
      throw e;
    });
  } catch (e) {
    await checked.catch(() => undefined);
    await client.close();
    dropConnection(producerRedis);
    throw e;
  }
  let opened: OpenedLedger | undefined;
  let history: RunRecorder | undefined;
  try {
    // BullMQ is slow to load: only queue mode pays it, while the credential check is in the air.
    const queueEngine = opts.redis ? import('../engine/queue/run-queued.js') : undefined;
    queueEngine?.catch(() => undefined);
    await checked;
    opened = await prepareLedger({
      stateDir: opts.stateDir,
      shopId: opts.lyra.shopId,
      mode,
      client,
      ...(opts.ledgerSetting ? { setting: opts.ledgerSetting } : {}),
      ...(opts.redis ? { queue: opts.redis } : {}),
      reportBeside: opts.files.report,
      ...(opts.previousReports ? { previousReports: opts.previousReports } : {}),
      ...(opts.judge.map ? { map: opts.judge.map } : {}),
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    });
    const ledger = opened.ledger;
    if (opts.redis) {
      // The queue engine opens its own connections to the same Redis ledger.
      await opened.close();
      opened = undefined;
    }
    const chosen = opts.onlyOrderIds ? onlyOrders(judged.rows, opts.onlyOrderIds) : judged.rows;
    const judgedRows = opts.ipnTargetUrl ? withIpnTarget(chosen, opts.ipnTargetUrl) : chosen;
    // Send windows: the embedded engine holds rows here; the queue engine's producer holds them as it queues.
    const held = opts.sendWindow && !opts.redis ? holdRows(judgedRows, opts.sendWindow, now, ledger, opts.retryUncertain) : undefined;
    const rows = held ? held.rows : judgedRows;

    let run: Run;
    if (opts.redis) {
      const { runQueued } = await queueEngine!;
      run = runQueued({
        redis: opts.redis,
        rows,
        clientOptions: opts.lyra,
        batchId,
        retryUncertain: opts.retryUncertain,
        perSecond: opts.perSecond,
        concurrency: opts.concurrency,
        localWorkers: opts.localWorkers,
        signal: opts.signal,
        source: opts.batchSource,
        ...(opts.sendWindow ? { hold: sendWindowHold(opts.sendWindow, now) } : {}),
        onWaiting: (_done, workers, inFlight) => progress?.note(queueWaitingNote(workers, inFlight)),
        ...(opts.retry ? { worker: { retry: opts.retry } } : {}),
        ...(producerRedis ? { connection: producerRedis } : {}),
      });
    } else {
      run = runEmbedded({
        rows,
        ctx: { client, ledger, batchId, retryUncertain: opts.retryUncertain, retry: opts.retry ?? DEFAULT_RETRY },
        concurrency: opts.concurrency,
        perSecond: opts.perSecond,
        breaker: { failures: opts.breakerFailures ?? 20 },
        signal: opts.signal,
      });
    }

    // Written under temporary names and renamed at the end: a crashed run never leaves a report that looks complete
    // (the ledger has the truth; a re-run writes the report again without sending anything twice).
    const partial = partialNames(opts.files);
    const report = createRunReport(judged.source, partial, { shopId: opts.lyra.shopId, mode, batchId });
    const summary = new Summary();
    const uncertain: string[] = [];
    let toFixRows = 0;
    let sentNow = 0;
    let edited = 0;
    const estimatedRows = await estimateRows(opts.file);
    const progress: Progress | undefined = opts.progress
      ? createProgress({ total: estimatedRows, tty: opts.progress.tty, stream: opts.progress.stream })
      : undefined;
    history = new RunRecorder(
      opts.stateDir,
      { batchId, origin: opts.origin ?? 'cli', file: opts.file, engine: opts.redis ? 'queue' : 'embedded', target, shopId: opts.lyra.shopId, mode, ...(opts.perSecond ? { perSecond: opts.perSecond } : {}), estimatedRows, files: opts.files, startedAt: started },
      opts.onNotice,
    );
    opts.onStart?.(batchId);
    try {
      // Iterating starts the run, which takes the connection from its first step.
      redisTaken = true;
      for await (const { row, outcome } of held ? held.merge(run) : run) {
        await report.add(row, outcome);
        const done = summaryRow(row, outcome);
        summary.add(done);
        history.row(done);
        progress?.tick(outcome.status);
        if (outcome.status === 'INVALID' || outcome.status === 'FAILED') toFixRows += 1;
        if (sentByThisRun(outcome)) sentNow += 1;
        if (outcome.order && outcome.note) edited += 1;
        if (outcome.status === 'UNCERTAIN' && uncertain.length < UNCERTAIN_LISTED && row.judgement.ok) uncertain.push(row.judgement.order.orderId);
      }
    } catch (e) {
      throw reportNotWritten(e);
    } finally {
      progress?.stop();
      judged.source.close();
      await report.close();
    }
    const { aborted } = await run.result;
    const published = await publishReport(partial, opts.files, toFixRows);

    const durationMs = now().getTime() - started.getTime();
    const exitCode = batchExitCode(summary, aborted);
    const files = { ...published, summary: opts.files.summary };
    const json: RunSummaryJson = {
      file: opts.file,
      batchId,
      target,
      engine: opts.redis ? 'queue' : 'embedded',
      startedAt: started.toISOString(),
      durationMs,
      exitCode,
      ...(aborted ? { aborted } : {}),
      files,
      sentByThisRun: sentNow,
      differFromOrders: edited,
      hints: judged.mapping.hints,
      ...summary.toJSON(),
    };
    await writeFile(opts.files.summary, `${JSON.stringify(json, null, 2)}\n`).catch((e: NodeJS.ErrnoException) => {
      throw reportNotWritten(unwritableFile(e, opts.files.summary));
    });
    await history.end({ state: aborted ? 'stopped' : 'finished', exitCode, ...(aborted ? { message: aborted.message } : {}), files, at: now() });
    return { batchId, target, engine: json.engine, summary, uncertain, sentByThisRun: sentNow, differFromOrders: edited, hints: judged.mapping.hints, ...(aborted ? { aborted } : {}), files, durationMs, exitCode };
  } catch (e) {
    await history?.end({ state: 'failed', message: e instanceof Error ? e.message : String(e), at: now() });
    throw e;
  } finally {
    await opened?.close();
    await client.close();
    if (!redisTaken) dropConnection(producerRedis);
  }
}

export interface RunSummaryJson extends SummaryJson {
  file: string;
  batchId: string;
  target: string;
  engine: 'embedded' | 'queue';
  startedAt: string;
  durationMs: number;
  exitCode: number;
  aborted?: { code: string; message: string };
  files: { report: string; toFix?: string; summary: string };
  sentByThisRun: number;
  differFromOrders: number;
  hints: string[];
}

/** Every file the run writes, and the state folder of the embedded engine's ledger: writable before anything is sent. */
async function checkRunPaths(opts: RunBatchOptions): Promise<void> {
  const inputBytes = (await stat(opts.file)).size;
  const files = [
    { path: opts.files.report, setting: '--out', atLeastBytes: inputBytes },
    { path: opts.files.toFix, setting: '--fix-out' },
    { path: opts.files.summary, setting: '--summary-out' },
  ];
  await checkWritablePaths(files, opts.redis ? undefined : { path: opts.stateDir, setting: '--state-dir or PAYBATCH_STATE_DIR' });
}

/**
 * A report that cannot be written once sending began (the disk filled up meanwhile): not the exit 2 of "nothing was
 * sent". The ledger has every order: running the same command again writes the report without sending twice.
 */
function reportNotWritten(e: unknown): unknown {
  if (!PaybatchError.is(e) || e.code !== 'PB_WRITE') return e;
  return new PaybatchError('PB_WRITE', `${e.message}; orders were sent and are in the ledger: run the same command again once it can be written (nothing is sent twice)`, 3);
}

/** Rows this run sent a request for: settled now, not by an earlier run, and not left unsent. */
export function sentByThisRun(outcome: RowOutcome): boolean {
  return !outcome.earlier && (outcome.status === 'CREATED' || outcome.status === 'FAILED' || outcome.status === 'UNCERTAIN');
}

/** Nothing is claimed before the platform has accepted the credentials: a wrong key fails the run with exit 2. */
export async function checkCredentials(client: LyraClient, target: string, onSent: () => void): Promise<void> {
  try {
    await client.sdkTest('paybatch', { onSent });
  } catch (e) {
    if (!LyraApiError.is(e)) throw e;
    if (e.isAuthFailure) {
      throw new ConfigError('PB_AUTH', `${target}: the platform refused the shop id and password (${e.code}); check PAYBATCH_SHOP_ID and PAYBATCH_PASSWORD (the REST API password of this shop and mode). Nothing was sent.`);
    }
    throw new ConfigError('PB_API_UNREACHABLE', `${target}: the API does not answer the credential check (${e.code}: ${e.message}); check PAYBATCH_PLATFORM / PAYBATCH_API_URL and the network. Nothing was sent.`);
  }
}

async function* onlyOrders(rows: AsyncIterable<JudgedRow>, ids: ReadonlySet<string>): AsyncIterable<JudgedRow> {
  for await (const row of rows) if (row.judgement.ok && ids.has(row.judgement.order.orderId)) yield row;
}
