import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import type { SandboxCounters } from '../src/sandbox/counters.js';

export interface SandboxProcess {
  url: string;
  counters(): Promise<SandboxCounters>;
  resetCounters(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `paybatch sandbox` in its own process (the built CLI), so what is measured in the paybatch process is paybatch's own
 * CPU and memory, not the fake platform's.
 */
export async function startSandboxProcess(cli: string, opts: { latencyMs: number; throttle?: number; lean?: boolean }): Promise<SandboxProcess> {
  const args = [cli, 'sandbox', '--port', '0', '--latency', String(opts.latencyMs)];
  if (opts.throttle !== undefined) args.push('--throttle', String(opts.throttle));
  if (opts.lean) args.push('--lean');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: string): void => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(m[1]!);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.on('exit', (c) => reject(new Error(`the sandbox exited with ${c}: ${err.slice(-500)}`)));
  });
  const call = async (path: string, method: 'GET' | 'POST'): Promise<unknown> => {
    const res = await request(`${url}${path}`, { method });
    return res.body.json();
  };
  return {
    url,
    counters: () => call('/_sandbox/counters', 'GET') as Promise<SandboxCounters>,
    resetCounters: async () => {
      await call('/_sandbox/counters/reset', 'POST');
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Starts `paybatch worker` processes and waits until each says it is ready. */
export async function startWorkers(cli: string, n: number, env: NodeJS.ProcessEnv, args: string[]): Promise<{ stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const child = spawn(process.execPath, [cli, 'worker', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    // The worker logs (pino, on stderr) that it is ready; its stdout stays free.
    let err = '';
    child.stdout!.resume();
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err = (err + d).slice(-4000);
        if (err.includes('paybatch worker ready')) resolve();
      });
      child.on('exit', (c) => reject(new Error(`paybatch worker exited with ${c}: ${err.slice(-500)}`)));
    });
  }
  return {
    stop: async () => {
      await Promise.all(
        children.map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          c.kill('SIGTERM');
          await once(c, 'exit');
        }),
      );
    },
  };
}
