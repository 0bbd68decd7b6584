import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const built = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
// By URL, not by name: `--import tsx` would be resolved from the child's cwd, which tests set anywhere.
const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
// `npm test` builds first and sets PAYBATCH_TEST_DIST=1: the compiled CLI starts in half the CPU time of tsx,
// which matters with dozens of CLI runs on two cores. A bare `npx vitest` runs the sources, always current.
const useDist = process.env.PAYBATCH_TEST_DIST === '1';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
}

/** Starts the real CLI as a child process, the way a user runs it (`--` as in bin/paybatch.js: the arguments are ours, not Node's). */
export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
  // The parent's credentials must never leak into a test run by accident.
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  // A command that names no state folder gets a fresh one: the user's own (~/.local/state) is never touched, and no
  // test inherits what another one's ledger remembers. A sequence that needs one ledger passes --state-dir.
  if (!('PAYBATCH_STATE_DIR' in (opts.env ?? {})) && !args.includes('--state-dir')) env.PAYBATCH_STATE_DIR = mkdtempSync(join(tmpdir(), 'paybatch-state-'));
  return spawn(process.execPath, useDist ? ['--', built, ...args] : ['--import', tsxLoader, '--', main, ...args], {
    cwd: opts.cwd ?? root,
    env: env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs the CLI to its end and collects its output. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
