import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Sends a signal to the server process (SIGSTOP / SIGCONT: a server that hangs). */
  signal(sig: NodeJS.Signals): void;
  /** Stops the server (SIGTERM, or SIGKILL when `hard`). */
  stop(hard?: boolean): Promise<void>;
  /** Stops and starts it again on the same port and data dir (AOF on, so the data survives). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A real redis-server of our own on a free loopback port, AOF on and noeviction, as production should run. */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'paybatch-redis-'));
  let proc: ChildProcess;

  const boot = () =>
    new Promise<void>((resolve, reject) => {
      proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction', ...extraArgs],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.resume();
      proc.on('error', (e) => reject(new Error(`redis-server could not start (is it installed? .ci/run installs it): ${e.message}`)));
      proc.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)));
    });

  const stop = (hard = false) =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    });

  await boot();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    signal: (sig: NodeJS.Signals) => {
      proc.kill(sig);
    },
    stop: async (hard?: boolean) => {
      if (proc.signalCode === null) proc.kill('SIGCONT');
      await stop(hard);
    },
    restart: async () => {
      await stop();
      await boot();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
