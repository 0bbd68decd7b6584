/**
 * The thread of `startWorkerThread`: a queue worker with its own event loop, Redis connection and HTTP client. It says
 * `loaded`, then obeys `connect` (ahead of time), `start` (the credentials come only then; → `ready`) and `close`.
 */
import { parentPort } from 'node:worker_threads';
import { packError } from '../../errors/cross-thread.js';
import { LyraClient } from '../../lyra/client.js';
import type { Redis } from 'ioredis';
import { connectRedis, dropConnection, type RedisTarget } from '../../redis/connect.js';
import type { FromThread, ToThread } from './local-workers.js';
import { startQueueWorker, type QueueWorker, type WorkerEvent } from './worker.js';

const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);
let running: { worker: QueueWorker; close: () => Promise<void> } | undefined;
/** The connection asked for before the setup came (`connect`): it is in the making while the credentials are checked. */
let early: { url: string; redis: Promise<Redis> } | undefined;

port.on('message', (m: ToThread) => {
  if (m.t === 'connect') connectEarly(m.redis);
  else if (m.t === 'start') void start(m.setup);
  else if (m.t === 'close') void close(m.force);
});
post({ t: 'loaded' });

function connectEarly(target: RedisTarget): void {
  if (early) return;
  early = { url: target.url, redis: connectRedis(target, 'worker') };
  // Its failure (Redis down) is reported by `start`, where it is awaited.
  early.redis.catch(() => undefined);
}

/** The early connection if it is to the setup's Redis; otherwise a new one (and the other is dropped). */
function connectionFor(target: RedisTarget): Promise<Redis> {
  const e = early;
  early = undefined;
  if (e?.url === target.url) return e.redis;
  dropConnection(e?.redis);
  return connectRedis(target, 'worker');
}

async function start(setup: Extract<ToThread, { t: 'start' }>['setup']): Promise<void> {
  try {
    const redis = await connectionFor(setup.redis);
    const client = new LyraClient(setup.clientOptions);
    try {
      const worker = await startQueueWorker({ ...setup.worker, redis, client, ...(setup.events ? { onEvent: (e: WorkerEvent) => post({ t: 'event', e }) } : {}) });
      running = {
        worker,
        close: async () => {
          redis.disconnect();
          await client.close().catch(() => undefined);
        },
      };
    } catch (e) {
      redis.disconnect();
      await client.close().catch(() => undefined);
      throw e;
    }
    post({ t: 'ready' });
  } catch (e) {
    post({ t: 'failed', error: packError(e) });
    port.close();
  }
}

async function close(force: boolean): Promise<void> {
  try {
    await running?.worker.close({ force });
  } finally {
    await running?.close();
    post({ t: 'closed' });
    port.close();
  }
}
