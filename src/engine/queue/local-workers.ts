import type { Worker } from 'node:worker_threads';
import { spawnThread } from '../../lib/spawn-thread.js';
import { unpackError, type PackedError } from '../../errors/cross-thread.js';
import type { LyraClientOptions } from '../../lyra/client.js';
import type { RedisTarget } from '../../redis/connect.js';
import type { QueueWorkerOptions, WorkerEvent } from './worker.js';

/** What a worker thread is started with: data only (copied to the thread; nothing of it is logged or stored). */
export interface ThreadSetup {
  redis: RedisTarget;
  clientOptions: LyraClientOptions;
  worker: Omit<QueueWorkerOptions, 'redis' | 'client' | 'onEvent'>;
  /** The run listens to the worker's events (`onEvent`). Without a listener the thread posts none: a message per row costs CPU. */
  events?: boolean;
}

export type ToThread = { t: 'connect'; redis: RedisTarget } | { t: 'start'; setup: ThreadSetup } | { t: 'close'; force: boolean };
export type FromThread = { t: 'loaded' } | { t: 'ready' } | { t: 'failed'; error: PackedError } | { t: 'event'; e: WorkerEvent } | { t: 'closed' };

export interface WorkerThread {
  /** As QueueWorker.close: drain by default (requests in flight finish and are recorded), `force` to stop at once. */
  close(opts?: { force?: boolean }): Promise<void>;
}

/** A thread that loads the worker's modules and waits to be told what to do. */
interface Spawned {
  thread: Worker;
  listen(m: (msg: FromThread) => void): void;
  /** The thread ended (error or exit) before it was told to close. */
  onEnd(f: (e: Error, exitCode?: number) => void): void;
  /** Told where Redis is: it connects while the credentials are checked (once; `start` uses it if it is the same). */
  connecting: boolean;
}

function spawn(): Spawned {
  const thread = spawnThread(import.meta.url, 'local-worker-thread');
  const early: FromThread[] = [];
  let listener: ((m: FromThread) => void) | undefined;
  thread.on('message', (m: FromThread) => (listener ? listener(m) : early.push(m)));
  // A spare thread nobody took must not keep the process up, or a run that fails after spawning one (API unreachable,
  // no such file) would never exit. After the 'message' listener: node refs a worker's port when its first one is added.
  thread.unref();
  let ended: [Error, number?] | undefined;
  let onEnd: ((e: Error, exitCode?: number) => void) | undefined;
  const end = (e: Error, code?: number) => {
    if (ended) return;
    ended = [e, code];
    onEnd?.(e, code);
  };
  thread.on('error', (e) => end(e));
  thread.on('exit', (code) => end(new Error(`the local worker thread stopped (exit code ${code})`), code));
  return {
    thread,
    connecting: false,
    listen: (f) => {
      listener = f;
      for (const m of early.splice(0)) f(m);
    },
    onEnd: (f) => {
      onEnd = f;
      if (ended) f(...ended);
    },
  };
}

const spare: Spawned[] = [];

/**
 * Starts `n` worker threads loading their modules (and connecting to `redis`, if given) while the run checks the
 * credentials; they get the credentials only when `startWorkerThread` takes one. Unused ones end with the process.
 */
export function prespawnWorkerThreads(n: number, redis?: RedisTarget): void {
  while (spare.length < n) spare.push(spawn());
  if (!redis) return;
  for (const s of spare) {
    if (s.connecting) continue;
    s.connecting = true;
    s.thread.postMessage({ t: 'connect', redis } satisfies ToThread);
  }
}

/**
 * A local queue worker (`paybatch run --redis`) on its own thread, so sending does not share an event loop with the
 * run's reading and reporting. Resolves once it is ready, or rejects with the thread's error; `onCrash`: it died later.
 */
export async function startWorkerThread(setup: ThreadSetup, opts: { onEvent?: (e: WorkerEvent) => void; onCrash?: (e: Error) => void } = {}): Promise<WorkerThread> {
  const s = spare.shift() ?? spawn();
  s.thread.ref();
  let closing = false;
  let closed!: () => void;
  const whenClosed = new Promise<void>((resolve) => (closed = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    s.listen((m) => {
      if (m.t === 'loaded') s.thread.postMessage({ t: 'start', setup: { ...setup, events: opts.onEvent !== undefined } } satisfies ToThread);
      else if (m.t === 'ready') resolve();
      else if (m.t === 'failed') reject(unpackError(m.error));
      else if (m.t === 'event') opts.onEvent?.(m.e);
      else if (m.t === 'closed') {
        closed();
        // Its work is done: nothing it still holds (a timer, a socket closing) keeps this process up.
        void s.thread.terminate();
      }
    });
    s.onEnd((e, code) => {
      closed();
      reject(e);
      if (!closing && code !== 0) opts.onCrash?.(e);
    });
  });
  try {
    await ready;
  } catch (e) {
    closing = true;
    void s.thread.terminate();
    throw e;
  }
  return {
    close: async ({ force = false } = {}) => {
      if (!closing) {
        closing = true;
        s.thread.postMessage({ t: 'close', force } satisfies ToThread);
      }
      await whenClosed;
    },
  };
}
