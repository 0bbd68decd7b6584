import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError } from '../errors/paybatch-error.js';
import { didYouMean } from '../lib/did-you-mean.js';

/** What a job does with a slot whose time passed while no scheduler ran: run it once late, or skip it. */
export type MissedSlots = 'run' | 'skip';

/**
 * A job file that `paybatch schedule` fires: its own keys checked here; the run options it carries are checked by
 * `paybatch run`'s own parser when the slot fires (src/schedule/run-slot.ts), and once at start.
 */
export interface ScheduledJob {
  /** The job file's name without .json: the job's name in the claims, the reports and Redis. */
  name: string;
  path: string;
  /** The cron pattern as written (5 fields, or 6 with seconds first). */
  schedule: string;
  /** IANA time zone the pattern is read in. */
  timezone: string;
  /** Where each run's report, rows to fix and summary go. */
  output: string;
  missed: MissedSlots;
  /** POSTed the run's summary when a run started by the schedule ends. */
  webhook?: string;
  /** `file` as a pattern (exports/*.csv): a drop folder. Absolute. */
  dropPattern?: string;
}

const MISSED: readonly MissedSlots[] = ['run', 'skip'];

/** The machine's time zone: a job without `timezone` reads its pattern in it. */
export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The job files a `paybatch schedule` command line names: files as given, folders for their *.json. */
export function jobFilesIn(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new ConfigError('PB_JOB_FILE', `${p}: no such job file or folder`);
    }
    if (!isDir) files.push(resolve(p));
    else files.push(...readdirSync(p).filter((f) => f.endsWith('.json')).sort().map((f) => resolve(p, f)));
  }
  if (files.length === 0) throw new ConfigError('PB_JOB_FILE', `${paths.join(', ')}: no job file (*.json) to schedule`);
  const seen = new Map<string, string>();
  for (const f of files) {
    const name = jobName(f);
    const other = seen.get(name);
    if (other && other !== f) throw new ConfigError('PB_JOB_FILE', `${f}: a job named "${name}" is already given (${other}): a job is known by its file name, rename one`);
    seen.set(name, f);
  }
  return [...new Set(files)];
}

export function jobName(path: string): string {
  return basename(path, extname(path));
}

/** Reads a job file's scheduling keys; an invalid one is one line naming the file and the key (exit 2). */
export function readScheduledJob(path: string): ScheduledJob {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError('PB_JOB_FILE', err.code === 'ENOENT' ? `${path}: no such job file` : `${path}: not valid JSON (${err.message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError('PB_JOB_FILE', `${path}: must be a JSON object of options`);
  const job = data as Record<string, unknown>;
  const bad = (key: string, why: string) => new ConfigError('PB_JOB_FILE', `${path}: "${key}": ${why}`);
  // A required key that is absent because it is misspelt (`fille`) is pointed out with its fix, as every other typo is.
  const missing = (key: string, why: string) => {
    const typo = Object.keys(job).find((k) => didYouMean(k, [key]) === key);
    return typo ? new ConfigError('PB_JOB_FILE', `${path}: "${typo}" is not an option of this command: did you mean "${key}"?`) : bad(key, why);
  };
  const base = dirname(path);

  const schedule = job.schedule;
  if (schedule === undefined) throw missing('schedule', 'missing: give a cron pattern, e.g. "0 8 1 * *" (08:00 on the 1st of each month)');
  if (typeof schedule !== 'string') throw bad('schedule', 'must be a cron pattern in a string, e.g. "0 8 1 * *"');
  const timezone = job.timezone ?? machineTimeZone();
  if (typeof timezone !== 'string' || !isTimeZone(timezone)) throw bad('timezone', `${JSON.stringify(timezone)} is not an IANA time zone, e.g. "Europe/Paris"`);
  checkPattern(schedule, timezone, (why) => bad('schedule', `${JSON.stringify(schedule)} ${why}`));

  const missed = job.missed ?? 'run';
  if (!MISSED.includes(missed as MissedSlots)) throw bad('missed', `${JSON.stringify(missed)}: use "run" (a slot missed while nothing ran is run once, late) or "skip"`);
  const output = job.output ?? 'runs';
  if (typeof output !== 'string' || output === '') throw bad('output', 'must name a folder, e.g. "runs"');

  let webhook: string | undefined;
  if (job.notify !== undefined) {
    if (typeof job.notify !== 'object' || job.notify === null || Array.isArray(job.notify)) throw bad('notify', 'must be an object, e.g. {"webhook": "https://ops.example.com/paybatch"}');
    for (const [key, value] of Object.entries(job.notify)) {
      if (key !== 'webhook') {
        const near = didYouMean(key, ['webhook']);
        throw bad(`notify.${key}`, `not a notify setting${near ? `: did you mean "${near}"?` : ' (only "webhook")'}`);
      }
      if (typeof value !== 'string' || !/^https?:\/\/[^\s]+$/.test(value)) throw bad('notify.webhook', 'must be an http(s) URL');
      webhook = value;
    }
  }

  const file = job.file;
  if (typeof file !== 'string' || file === '') throw missing('file', 'missing: a scheduled job names its input file, or a pattern of files (exports/*.csv)');
  const dropPattern = /[*?[\]{}]/.test(file) ? (isAbsolute(file) ? file : resolve(base, file)) : undefined;
  if (dropPattern && /[*?[\]{}]/.test(dirname(dropPattern))) throw bad('file', 'a pattern may only match file names in one folder, e.g. "exports/*.csv"');
  const outputDir = isAbsolute(output) ? output : resolve(base, output);
  if (dropPattern && resolve(dirname(dropPattern)) === resolve(outputDir)) throw bad('output', 'must not be the drop folder itself: its reports would be taken for new files');

  return { name: jobName(path), path, schedule, timezone, output: outputDir, missed: missed as MissedSlots, ...(webhook ? { webhook } : {}), ...(dropPattern ? { dropPattern } : {}) };
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz !== '';
  } catch {
    return false;
  }
}

/** 5 fields (minute first) or 6 (seconds first), in cron-parser's (BullMQ's) dialect. */
function checkPattern(pattern: string, timezone: string, fail: (why: string) => Error): void {
  const fields = pattern.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw fail(`has ${fields} field${fields === 1 ? '' : 's'}: a cron pattern has 5 (minute hour day month weekday) or 6 (seconds first)`);
  try {
    CronExpressionParser.parse(pattern, { tz: timezone, strict: false }).next();
  } catch (e) {
    throw fail(`is not a cron pattern (${(e as Error).message})`);
  }
}

/** The latest slot at or before `now`. */
export function slotAtOrBefore(job: Pick<ScheduledJob, 'schedule' | 'timezone'>, now: Date): Date {
  return CronExpressionParser.parse(job.schedule, { tz: job.timezone, currentDate: new Date(now.getTime() + 1) }).prev().toDate();
}

/** The first slot after `now`. */
export function slotAfter(job: Pick<ScheduledJob, 'schedule' | 'timezone'>, now: Date): Date {
  return CronExpressionParser.parse(job.schedule, { tz: job.timezone, currentDate: now }).next().toDate();
}

/** A time as the job's time zone shows it: 2026-03-01T08:00:00 Europe/Paris (the log masks digit runs that look like phone numbers, not this). */
export function inZone(date: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(date);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')} ${timezone}`;
}

/** A slot in file names: 20260301T070000Z (UTC, sorts in time order, no characters a file system refuses). */
export function slotStamp(slot: Date): string {
  return slot.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function outputFiles(job: ScheduledJob, slot: Date, input?: string): { report: string; toFix: string; summary: string } {
  const stem = join(job.output, `${job.name}-${slotStamp(slot)}${input ? `-${basename(input, extname(input))}` : ''}`);
  return { report: `${stem}.report.csv`, toFix: `${stem}.tofix.csv`, summary: `${stem}.report.json` };
}
