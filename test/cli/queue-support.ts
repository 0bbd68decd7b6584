import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { SandboxCounters } from '../../src/sandbox/counters.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';
import { spawnCli } from '../support/cli.js';

/** The environment of a worker machine: the shop's credentials and API, and the queue's Redis. */
export function shopEnv(apiUrl: string, redisUrl: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PAYBATCH_API_URL: apiUrl,
    PAYBATCH_PLATFORM: undefined,
    PAYBATCH_SHOP_ID: DEMO_SHOP_ID,
    PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD,
    PAYBATCH_TIMEOUT_MS: '2000',
    REDIS_URL: redisUrl,
    ...extra,
  };
}

/** invoices.csv with `n` URL rows (QW-0000 …) and one row without an invoice number (INVALID). */
export function writeInvoices(dir: string, n: number, prefix = 'QW'): string {
  const lines = ['invoice,amount,currency,channel,email'];
  for (let i = 0; i < n; i++) lines.push(`${prefix}-${String(i).padStart(4, '0')},${10 + (i % 90)}.25,EUR,URL,`);
  lines.push(',12.00,EUR,URL,');
  const file = join(dir, 'invoices.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export function readReport(file: string): Record<string, string>[] {
  return parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `paybatch worker` as its own process and resolves once it says it is ready. */
export async function startWorker(env: Record<string, string | undefined>, args: string[] = []): Promise<WorkerProcess> {
  const child = spawnCli(['worker', ...args], { env });
  child.stdin!.end();
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    // The worker logs (JSON lines on stderr, like paybatch ipn).
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('paybatch worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`worker exited (${code}) before ready: ${out}`)));
  });
  return { child, output: () => out, exited };
}

/** Resolves when `check` holds; polls (the sandbox counts in another process's terms, no event to wait on). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface SandboxProcess {
  url: string;
  counters(): Promise<SandboxCounters>;
  stop(): Promise<void>;
}

/**
 * `paybatch sandbox` in its own process: the rate it measures is then the arrival rate at a server whose event loop
 * is not shared with the test runner (which is busy reading workers' output).
 */
export async function startSandboxProcess(args: string[] = []): Promise<SandboxProcess> {
  const child = spawnCli(['sandbox', '--port', '0', ...args]);
  child.stdin!.end();
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`sandbox exited (${code}): ${out}`)));
  });
  return {
    url,
    counters: async () => (await (await fetch(`${url}/_sandbox/counters`)).json()) as SandboxCounters,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
