/**
 * The thread of `startWorkerThread`: a queue worker with its own event loop, Redis connection and HTTP client. It loads
 * its modules at once and says `loaded`; told `start` (the setup, credentials included, only then), it starts the
 * worker and says `ready`; told `close` (drain or force), it closes and says `closed`. Worker events go to the run as
 * messages.
 */
import { parentPort } from 'node:worker_threads';
import { packError } from '../errors/cross-thread.js';
import { LyraClient } from '../lyra/client.js';
import { connectRedis } from './redis-preflight.js';
import type { FromThread, ToThread } from './worker-thread.js';
import { startQueueWorker, type QueueWorker } from './worker.js';

const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);
let running: { worker: QueueWorker; close: () => Promise<void> } | undefined;

port.on('message', (m: ToThread) => {
  if (m.t === 'start') void start(m.setup);
  else if (m.t === 'close') void close(m.force);
});
post({ t: 'loaded' });

async function start(setup: Extract<ToThread, { t: 'start' }>['setup']): Promise<void> {
  try {
    const redis = await connectRedis(setup.redis, 'worker');
    const client = new LyraClient(setup.clientOptions);
    try {
      const worker = await startQueueWorker({ ...setup.worker, redis, client, onEvent: (e) => post({ t: 'event', e }) });
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
