import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { countDone, readBatchInfo } from '../engine/queue/batch.js';
import type { QueueScope } from '../engine/queue/keys.js';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import { checkWritablePaths } from '../lib/writable-paths.js';
import { judgeFile, type JudgeFileOptions } from '../orders/judge-file.js';
import { connectRedis, type RedisTarget } from '../redis/connect.js';
import { defaultBatchReportFiles, type BatchReportFiles } from '../report/files.js';
import { batchExitCode, discardReport, partialNames, publishReport } from '../report/finish.js';
import { createRunReport, summaryRow } from '../report/run-report.js';
import { Summary, type SummaryJson } from '../report/summary.js';
import { withIpnTarget } from './ipn-target.js';

/**
 * What `run` and `enqueue` keep with a queued batch so that `report BATCH`, on any machine that can read the file,
 * judges it again identically (`now` included: --expires-in depends on it). `input`: the command's own options.
 */
export interface BatchSource<Input = unknown> {
  file: string;
  input: Input;
  now: string;
  /** `--ipn-url`: added to every order sent, so added again when judging for the report (same fingerprint). */
  ipnTargetUrl?: string;
}

export interface ReportBatchOptions {
  redis: RedisTarget;
  scope: QueueScope;
  batchId: string;
  /** The batch's input file, when it is not at the path it was enqueued from. */
  file?: string;
  /** Files to write instead of the defaults beside the input (`--out`, `--fix-out`, `--summary-out`). */
  files?: Partial<BatchReportFiles>;
  /** How the stored input options judge the file (the command that stored them knows their shape). */
  judgeOptions: (input: unknown, now: Date) => JudgeFileOptions;
  /** false: if the batch is not finished, only count what is done (no report). */
  wait: boolean;
  /** Stops waiting: the report is not written, the batch goes on (PB_INTERRUPTED, exit `interruptedExitCode`). */
  signal?: AbortSignal;
  interruptedExitCode?: () => number;
  /** While waiting for workers: rows done so far, valid rows, live workers, rows in flight. */
  onWaiting?: (done: number, valid: number | undefined, workers: number, inFlight: number) => void;
}

export interface BatchReportJson extends SummaryJson {
  file: string;
  batchId: string;
  engine: 'queue';
  startedAt: string;
  exitCode: number;
  aborted?: { code: string; message: string };
  files: { report: string; toFix?: string; summary: string };
}

export type ReportBatchResult =
  | { finished: false; done: number; valid: number; invalid: number }
  | { finished: true; file: string; summary: Summary; aborted?: { code: string; message: string }; json: BatchReportJson; exitCode: 0 | 1 | 3 };

/**
 * `paybatch report BATCH`: waits for a queued batch (or counts its progress) and writes the same files as `run`, from
 * the ledger and the input judged again. Nothing is sent. A stop (`signal`) leaves no report; the batch goes on.
 */
export async function reportBatch(opts: ReportBatchOptions): Promise<ReportBatchResult> {
  const { scope, batchId } = opts;
  const redis = await connectRedis(opts.redis, 'producer');
  let info;
  try {
    info = await readBatchInfo(redis, scope, batchId);
    if (info && !opts.wait && info.state === 'enqueued') {
      // Progress only: no report is written until the batch is done.
      const done = await countDone(redis, scope, batchId);
      if (done < info.valid) return { finished: false, done, valid: info.valid, invalid: info.invalid };
    }
  } finally {
    redis.disconnect();
  }
  if (!info) throw new ConfigError('PB_BATCH', `no batch ${batchId} for shop ${scope.shopId} (${scope.mode}) in this Redis: check the id, the shop settings and --redis`);
  const source = info.source as BatchSource | undefined;
  const file = opts.file ?? source?.file;
  if (!source || !file) throw new ConfigError('PB_BATCH', `batch ${batchId} has no input file recorded: it was not enqueued by paybatch enqueue/run`);
  if (!existsSync(file)) throw new ConfigError('PB_BATCH', `batch ${batchId} was read from ${file}, which is not on this machine: pass --file PATH`);

  const files = { ...defaultBatchReportFiles(file), ...definedOnly(opts.files) };
  for (const p of [files.report, files.toFix, files.summary]) if (resolve(p) === resolve(file)) throw new ConfigError('PB_OPTION', `${p} is the input file itself: choose another name`);
  const { source: csv, rows } = await judgeFile(file, opts.judgeOptions(source.input, new Date(source.now)));
  await checkWritablePaths([
    { path: files.report, setting: '--out' },
    { path: files.toFix, setting: '--fix-out' },
    { path: files.summary, setting: '--summary-out' },
  ]).catch((e: unknown) => {
    csv.close();
    throw e;
  });
  const partial = partialNames(files);
  const writer = createRunReport(csv, partial, { shopId: scope.shopId, mode: scope.mode, batchId });
  const summary = new Summary();
  let aborted: { code: string; message: string } | undefined;
  try {
    const { followBatch } = await import('../engine/queue/run-queued.js');
    const it = followBatch({
      redis: opts.redis,
      scope,
      batchId,
      rows: withIpnTarget(rows, source.ipnTargetUrl),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onWaiting ? { onWaiting: opts.onWaiting } : {}),
    });
    for (;;) {
      const n = await it.next();
      if (n.done) {
        aborted = n.value.aborted;
        break;
      }
      const { row, outcome } = n.value;
      await writer.add(row, outcome);
      summary.add(summaryRow(row, outcome));
    }
    await writer.close();
    if (opts.signal?.aborted) throw new PaybatchError('PB_INTERRUPTED', `report interrupted: the batch goes on; run paybatch report ${batchId} again to wait for it`, opts.interruptedExitCode?.() ?? 130);
  } catch (e) {
    csv.close();
    await writer.close().catch(() => {});
    await discardReport(partial);
    throw e;
  }
  const toFix = summary.count('INVALID') + summary.count('FAILED');
  const published = await publishReport(partial, files, toFix);
  const exitCode = batchExitCode(summary, aborted);
  const json: BatchReportJson = {
    file,
    batchId,
    engine: 'queue',
    startedAt: info.createdAt,
    exitCode,
    ...(aborted ? { aborted } : {}),
    files: { ...published, summary: files.summary },
    ...summary.toJSON(),
  };
  await writeFile(files.summary, `${JSON.stringify(json, null, 2)}\n`);
  return { finished: true, file, summary, ...(aborted ? { aborted } : {}), json, exitCode };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
