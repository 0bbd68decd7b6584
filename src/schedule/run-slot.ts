import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import picomatch from 'picomatch';
import type { RunBatchResult } from '../app/run-batch.js';
import { InputError, PaybatchError } from '../errors/paybatch-error.js';
import { outputFiles, slotStamp, type ScheduledJob } from './job.js';
import { SEND_WINDOW_CODE } from '../orders/send-window.js';

/** A file in a drop folder younger than this may still be being written: it waits for the next slot. */
export const SETTLE_MS = 2000;

/** One batch of a slot: its input, and its summary or why it did not run. */
export interface SlotBatch {
  file: string;
  exitCode: number;
  /** The run's JSON summary file (as `paybatch run` writes it). */
  summary?: string;
  sent?: number;
  statuses?: Record<string, number>;
  error?: string;
  /** Drop folders: where the file went (done/ or failed/); absent when it stays for the next slot. */
  movedTo?: string;
}

export interface SlotResult {
  outcome: 'done' | 'failed' | 'stopped';
  exitCode: number;
  batches: SlotBatch[];
  message: string;
}

/** The options a run takes beyond the job file's own (queue mode: the Redis and no local worker). */
export interface SlotRunOptions {
  signal?: AbortSignal;
  extraArgs?: string[];
  /** The real time, for how old a dropped file is (not the slot's time). */
  now?: () => Date;
}

/**
 * Runs one slot of a job through `paybatch run`'s own parser and sending, so a scheduled run is the run a person would
 * start; reports go to the job's output. A drop folder runs each settled file once and moves it.
 */
export async function runSlot(job: ScheduledJob, slot: Date, opts: SlotRunOptions = {}): Promise<SlotResult> {
  await mkdir(job.output, { recursive: true });
  const inputs = job.dropPattern ? await settledFiles(job.dropPattern, (opts.now ?? (() => new Date()))()) : [undefined];
  const batches: SlotBatch[] = [];
  for (const input of inputs) {
    if (opts.signal?.aborted) break;
    const batch = await runOne(job, slot, input, opts);
    // A file some of whose rows wait for their send window stays for the next slot, which sends them.
    if (input && batch.exitCode !== 3 && batch.exitCode !== 2 && !batch.waiting) batch.movedTo = await moveAway(input, batch.exitCode === 0 ? 'done' : 'failed', slot);
    if (input && batch.exitCode === 2 && batch.error && batch.inputError) batch.movedTo = await moveAway(input, 'failed', slot);
    delete batch.inputError;
    delete batch.waiting;
    batches.push(batch);
  }
  const exitCode = batches.reduce((worst, b) => (rank(b.exitCode) > rank(worst) ? b.exitCode : worst), 0);
  const outcome = exitCode === 3 || opts.signal?.aborted ? 'stopped' : exitCode === 0 ? 'done' : 'failed';
  const message = job.dropPattern && batches.length === 0 ? 'no new file in the drop folder' : batches.map(describe).join('; ');
  return { outcome, exitCode, batches, message };
}

/** A stop (3) outranks a setting to fix (2), which outranks rows to fix (1). */
function rank(code: number): number {
  return code === 3 ? 3 : code === 2 ? 2 : code === 1 ? 1 : 0;
}

function describe(b: SlotBatch): string {
  if (b.error) return `${basename(b.file)}: ${b.error}`;
  const statuses = Object.entries(b.statuses ?? {}).map(([s, n]) => `${n} ${s}`).join(', ');
  return `${basename(b.file)}: ${statuses || 'no rows'}, ${b.sent ?? 0} sent${b.movedTo ? `, moved to ${basename(dirname(b.movedTo))}/` : ''}`;
}

async function runOne(job: ScheduledJob, slot: Date, input: string | undefined, opts: SlotRunOptions): Promise<SlotBatch & { inputError?: boolean; waiting?: boolean }> {
  const files = outputFiles(job, slot, input);
  const previous = await earlierReport(job, slot, input);
  const args = ['run', ...(input ? [input] : []), '--job', job.path, '--out', files.report, '--fix-out', files.toFix, '--summary-out', files.summary, '--progress', 'false', ...(previous ? ['--previous-report', previous] : []), ...(opts.extraArgs ?? [])];
  let argv: Awaited<ReturnType<typeof parseRunArgs>>;
  try {
    argv = await parseRunArgs(args);
  } catch (e) {
    return { file: input ?? job.path, exitCode: 2, error: (e as Error).message };
  }
  const { sendFile } = await import('../cli/run.js');
  let result: RunBatchResult;
  try {
    result = await sendFile(argv, argv.file, argv.file, { ...(opts.signal ? { signal: opts.signal } : {}), onNotice: () => undefined, origin: `schedule ${job.name}` });
  } catch (e) {
    if (!PaybatchError.is(e)) throw e;
    return { file: argv.file, exitCode: e.exitCode, error: e.message, inputError: e instanceof InputError };
  }
  const json = result.summary.toJSON();
  return { file: argv.file, exitCode: result.exitCode, summary: result.files.summary, sent: result.sentByThisRun, statuses: json.statuses, waiting: (json.errorCodes[SEND_WINDOW_CODE] ?? 0) > 0 };
}

/**
 * The latest finished report of an earlier slot of this job and input, as evidence for the run's ledger: another
 * scheduler with its own ledger may have run that slot, and each report lists every row, so the latest carries all.
 */
async function earlierReport(job: ScheduledJob, slot: Date, input: string | undefined): Promise<string | undefined> {
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const suffix = input ? `-${basename(input, extname(input))}` : '';
  const name = new RegExp(`^${escape(job.name)}-(\\d{8}T\\d{6}Z)${escape(suffix)}\\.report\\.csv$`);
  const before = slotStamp(slot);
  const earlier = (await readdir(job.output).catch(() => [] as string[])).filter((n) => (name.exec(n)?.[1] ?? before) < before).sort();
  return earlier.length ? join(job.output, earlier.at(-1)!) : undefined;
}

/** `run`'s options from its command line, checked by `run`'s own builder (unknown keys, values). */
export async function parseRunArgs(args: string[]): Promise<import('../cli/run.js').RunArgs> {
  const [{ default: yargs }, { runCommand }] = await Promise.all([import('yargs'), import('../cli/run.js')]);
  const parsed = await yargs(args)
    .command({ ...runCommand, handler: () => undefined })
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      if (err && PaybatchError.is(err)) throw err;
      throw new PaybatchError('PB_USAGE', err?.message ?? msg, 2);
    })
    .parseAsync();
  return parsed as unknown as import('../cli/run.js').RunArgs;
}

/** Files of the drop folder that match and have not changed for SETTLE_MS (a copy in progress waits). */
async function settledFiles(pattern: string, now: Date): Promise<string[]> {
  const dir = dirname(pattern);
  const matches = picomatch(basename(pattern), { dot: false });
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => matches(n)).sort();
  const ready: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile() && now.getTime() - s.mtimeMs >= SETTLE_MS) ready.push(path);
  }
  return ready;
}

/** Into done/ or failed/ beside the file; a name already there gets the slot added rather than being replaced. */
async function moveAway(file: string, folder: 'done' | 'failed', slot: Date): Promise<string> {
  const dir = join(dirname(file), folder);
  await mkdir(dir, { recursive: true });
  let to = join(dir, basename(file));
  if (await stat(to).then(() => true, () => false)) to = join(dir, `${basename(file, extname(file))}-${slotStamp(slot)}${extname(file)}`);
  await rename(file, to);
  return to;
}
