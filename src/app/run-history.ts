import { channel } from 'node:diagnostics_channel';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile } from '../lib/replace-file.js';
import { Summary, type SummaryJson, type SummaryRow } from '../report/summary.js';

/**
 * One small JSON file per batch run in `STATE_DIR/runs/`, written at start, about every second while sending, and at
 * the end, so the console lists every run, whatever started it, with live progress. Counts and totals, never a row.
 */
export interface RunRecord {
  v: 1;
  batchId: string;
  /** Who started it: `cli`, `console`, `schedule`, … */
  origin: string;
  /** The input file (its path; for the console, the uploaded copy). */
  file: string;
  engine: 'embedded' | 'queue';
  target: string;
  shopId: string;
  mode: string;
  /** Requests per second the run was allowed. */
  perSecond?: number;
  /** Estimated rows of the file (a line count): progress and ETA. */
  estimatedRows: number;
  state: 'running' | 'finished' | 'stopped' | 'failed';
  /** The process sending it: a `running` record whose process is gone is shown as stopped. */
  pid: number;
  startedAt: string;
  updatedAt: string;
  endedAt?: string;
  exitCode?: number;
  /** Why a run stopped or failed, in one line. */
  message?: string;
  files: { report: string; toFix?: string; summary: string };
  summary: SummaryJson;
}

/** What a run says of itself when it starts. */
export type RunStart = Pick<RunRecord, 'batchId' | 'origin' | 'file' | 'engine' | 'target' | 'shopId' | 'mode' | 'perSecond' | 'estimatedRows' | 'files'> & { startedAt: Date };

/** Published for every finished row of every run in this process (the console's /metrics counts them). */
export const ROW_CHANNEL = channel('paybatch:run:row');
export interface RowMessage {
  batchId: string;
  status: string;
  errorCode?: string;
}

const WRITE_EVERY_MS = 1000;

export function runsDir(stateDir: string): string {
  return join(stateDir, 'runs');
}

/** Records one run. Writing the history never fails the run: a write error is reported once through `onError`. */
export class RunRecorder {
  readonly #path: string;
  readonly #record: RunRecord;
  readonly #summary = new Summary();
  readonly #onError: (message: string) => void;
  #lastWrite = 0;
  #writing: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(stateDir: string, start: RunStart, onError: (message: string) => void = () => undefined) {
    this.#path = join(runsDir(stateDir), `${start.batchId}.json`);
    this.#onError = onError;
    const { startedAt, ...rest } = start;
    this.#record = { v: 1, ...rest, state: 'running', pid: process.pid, startedAt: startedAt.toISOString(), updatedAt: startedAt.toISOString(), summary: this.#summary.toJSON() };
    this.#writing = mkdir(runsDir(stateDir), { recursive: true }).then(
      () => this.#write(),
      (e: NodeJS.ErrnoException) => this.#fail(e),
    );
  }

  row(row: SummaryRow): void {
    this.#summary.add(row);
    ROW_CHANNEL.publish({ batchId: this.#record.batchId, status: row.status, ...(row.errorCode ? { errorCode: row.errorCode } : {}) } satisfies RowMessage);
    if (Date.now() - this.#lastWrite >= WRITE_EVERY_MS) this.#schedule();
  }

  async end(end: { state: RunRecord['state']; exitCode?: number; message?: string; files?: RunRecord['files']; at: Date }): Promise<void> {
    Object.assign(this.#record, { state: end.state, endedAt: end.at.toISOString() });
    if (end.exitCode !== undefined) this.#record.exitCode = end.exitCode;
    if (end.message) this.#record.message = end.message;
    if (end.files) this.#record.files = end.files;
    this.#schedule();
    await this.#writing;
  }

  #schedule(): void {
    this.#lastWrite = Date.now();
    this.#writing = this.#writing.then(() => this.#write());
  }

  async #write(): Promise<void> {
    if (this.#failed) return;
    this.#record.summary = this.#summary.toJSON();
    this.#record.updatedAt = new Date().toISOString();
    const partial = `${this.#path}.partial`;
    try {
      await writeFile(partial, `${JSON.stringify(this.#record, null, 2)}\n`);
      await replaceFile(partial, this.#path);
    } catch (e) {
      this.#fail(e as NodeJS.ErrnoException);
      await rm(partial, { force: true }).catch(() => undefined);
    }
  }

  #fail(e: NodeJS.ErrnoException): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError(`run history ${this.#path}: cannot write it (${e.code ?? e.message}); the run goes on, the console will not list it`);
  }
}

/** Every recorded run, newest first. A record that cannot be read is skipped (a half-copied state folder). */
export async function listRuns(stateDir: string): Promise<RunRecord[]> {
  const names = await readdir(runsDir(stateDir)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  const runs: RunRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const run = await readRun(join(runsDir(stateDir), name));
    if (run) runs.push(run);
  }
  return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.batchId < b.batchId ? 1 : -1));
}

/** One run by batch id; undefined if unknown (or not a batch id at all: nothing outside the folder is read). */
export async function findRun(stateDir: string, batchId: string): Promise<RunRecord | undefined> {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(batchId)) return undefined;
  return readRun(join(runsDir(stateDir), `${batchId}.json`));
}

async function readRun(path: string): Promise<RunRecord | undefined> {
  try {
    const run = JSON.parse(await readFile(path, 'utf8')) as RunRecord;
    if (run.v !== 1 || typeof run.batchId !== 'string') return undefined;
    if (run.state === 'running' && !alive(run.pid)) return { ...run, state: 'stopped', message: 'the process that ran it is gone (killed or crashed): run the same file again to finish it, nothing is sent twice' };
    return run;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
