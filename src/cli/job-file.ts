import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { didYouMean } from '../lib/did-you-mean.js';

/** Keys of a job file that name files: relative to the job file, not to wherever cron starts the command. */
const PATH_KEYS = ['file', 'out', 'fix-out', 'summary-out', 'state-dir', 'env-file'];
/** Keys for people and for `paybatch schedule` (src/schedule/job.ts reads and checks these), not options of a command. */
export const SCHEDULE_KEYS = ['schedule', 'timezone', 'output', 'missed', 'notify'];
const NOTE_KEYS = ['description', '$schema', ...SCHEDULE_KEYS];

/**
 * A batch job file (`jobs/*.json`): one recurring run's options under their long names, so cron runs
 * `paybatch run --job jobs/monthly.json`; command-line flags win. `map` may be an object.
 */
export function parseJobFile(path: string, ignore: readonly string[] = []): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError('PB_JOB_FILE', err.code === 'ENOENT' ? `--job ${path}: no such file` : `--job ${path}: not valid JSON (${err.message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError('PB_JOB_FILE', `--job ${path}: must be a JSON object of options, e.g. {"file": "invoices.csv", "currency": "EUR"}`);
  const out: Record<string, unknown> = {};
  const base = dirname(resolve(path));
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (NOTE_KEYS.includes(key) || ignore.includes(key)) continue;
    if (key === 'map' && value && typeof value === 'object' && !Array.isArray(value)) {
      out.map = Object.entries(value as Record<string, unknown>).map(([field, header]) => `${field}=${String(header)}`);
    } else if (PATH_KEYS.includes(key) && typeof value === 'string' && !isAbsolute(value)) {
      out[key] = resolve(base, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Options of `run` that a job file may carry and that `validate` has no use for (it neither sends nor connects). */
export const SENDING_KEYS = [
  'concurrency', 'rate', 'retry-uncertain', 'stop-after-failures', 'state-dir', 'ipn-url', 'redis', 'workers', 'summary-out',
  'progress', 'check', 'platform', 'api-url', 'shop-id', 'env-file', 'timeout-ms', 'path-prefix',
];

/**
 * `--job FILE`; `ignore` names job-file keys this command accepts silently without having the option. A key that is
 * neither an option of the command nor ignored is refused with the job file named and the likely key suggested.
 */
export function withJobFile<T>(y: Argv<T>, opts: { ignore?: readonly string[] } = {}): Argv<T> {
  return y.config('job', 'read the options of a recurring batch from a JSON job file (jobs/*.json); flags beat it', (path: string) => {
    const values = parseJobFile(path, opts.ignore);
    const known = Object.keys((y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key);
    for (const key of Object.keys(values)) {
      if (known.includes(key)) continue;
      const near = didYouMean(key, [...known.filter((k) => k.length > 1 && !/[A-Z]/.test(k) && k !== 'job'), ...NOTE_KEYS]);
      throw new Error(`--job ${path}: "${key}" is not an option of this command${near ? `: did you mean "${near}"?` : ''}`);
    }
    return values;
  }) as Argv<T>;
}

/**
 * Keys of a `run` job file the follow-up commands take no value from: the run's own files (a follow-up report must
 * never land on the run's), its sending pace and options, and `expires-in` (update would apply it to every order).
 */
export const RUN_ONLY_KEYS = ['out', 'fix-out', 'summary-out', 'expires-in', 'retry-uncertain', 'stop-after-failures', 'ipn-url', 'workers', 'progress', 'check', 'rate', 'concurrency', 'send-window', 'previous-report', 'ledger'];

/** The run-wide defaults of rows (`inputOptions`): update judges rows with them; status and cancel only need orderIds. */
export const ROW_DEFAULT_KEYS = ['currency', 'channel', 'locale', 'subject', 'message', 'template', 'receipt-email', 'tax-rate', 'phone-region', 'tz'];
