import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms (node's start-up included). */
  wallMs: number;
  /** Peak resident set size of the process, bytes: the kernel's own high-water mark. */
  peakRss: number;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Runs a command and measures its peak RSS exactly: through GNU time (`%M`, the kernel's ru_maxrss at exit) when it is
 * installed, otherwise by reading /proc/PID/status VmHWM (also the kernel's high-water mark) until the process exits —
 * the last read before exit can miss only growth in the final few milliseconds.
 */
export async function runMeasured(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onStdout?: (s: string) => void } = {}): Promise<Measured> {
  const useTime = existsSync(GNU_TIME);
  const rssFile = join(tmpdir(), `paybatch-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [file, argv] = useTime ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const child = spawn(file, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    opts.onStdout?.(d);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let hwm = 0;
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
        } catch {
          /* exited */
        }
      }, 20);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const wallMs = performance.now() - t0;
  if (poll) clearInterval(poll);
  let peakRss = hwm;
  if (useTime) {
    const text = readFileSync(rssFile, 'utf8');
    rmSync(rssFile, { force: true });
    const kb = Number(text.trim().split('\n').pop());
    peakRss = kb * 1024;
  }
  return { code, stdout, stderr, wallMs, peakRss };
}

/** The last JSON object a command printed on stdout (paybatch --json prints exactly one). */
export function lastJson<T>(stdout: string): T {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`no JSON in the output: ${stdout.slice(0, 300)}`);
  return JSON.parse(stdout.slice(start)) as T;
}
