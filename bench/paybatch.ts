import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastJson, runMeasured, type Measured } from './child.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../src/sandbox/server.js';

export const ROOT = new URL('..', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/cli/main.js');

/** A rate no run reaches: `paybatch run` always has a limiter (default 20/s); this one never holds a request back. */
export const NO_RATE_LIMIT = 100_000;

export function sandboxEnv(url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PAYBATCH_API_URL: url, PAYBATCH_SHOP_ID: DEMO_SHOP_ID, PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD };
  delete env.PAYBATCH_PLATFORM;
  delete env.REDIS_URL;
  return env;
}

export interface RunMeasure extends Measured {
  rows: number;
  created: number;
  /** The run's own clock (summary JSON durationMs): judge, credential check, send, report — without node's start-up. */
  durationMs: number;
  rowsPerSecond: number;
}

/** `paybatch run FILE --json` as a child process of the built CLI. */
export async function paybatchRun(opts: {
  file: string;
  sandboxUrl: string;
  stateDir: string;
  concurrency: number;
  rate: number;
  redisUrl?: string;
  workers?: number;
  extraArgs?: string[];
  nodeArgs?: string[];
}): Promise<RunMeasure> {
  const args = [...(opts.nodeArgs ?? []), CLI, 'run', opts.file, '--concurrency', String(opts.concurrency), '--rate', String(opts.rate), '--state-dir', opts.stateDir, '--json', '--no-progress'];
  if (opts.redisUrl) args.push('--redis', opts.redisUrl, '--workers', String(opts.workers ?? 1));
  args.push(...(opts.extraArgs ?? []));
  const m = await runMeasured(process.execPath, args, { env: sandboxEnv(opts.sandboxUrl) });
  if (m.code !== 0) throw new Error(`paybatch run exited with ${m.code}: ${m.stderr.slice(-800)} ${m.stdout.slice(-400)}`);
  // The summary file (FILE.report.json) carries the run's own duration; the printed JSON does not.
  const printed = lastJson<{ files: { summary: string } }>(m.stdout);
  const s = JSON.parse(readFileSync(printed.files.summary, 'utf8')) as { durationMs: number; rows: number; statuses: Record<string, number> };
  return { ...m, rows: s.rows, created: s.statuses.CREATED ?? 0, durationMs: s.durationMs, rowsPerSecond: (s.rows / s.durationMs) * 1000 };
}
