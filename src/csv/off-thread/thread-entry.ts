/**
 * The thread of `openCsvOffThread`: reads the file with `openCsv` and posts its rows in packed batches, at most
 * `AHEAD` ahead of the consumer, so memory stays flat whichever thread is faster.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { packError } from '../../errors/cross-thread.js';
import { openCsv } from '../read.js';
import { packBatch } from './open-off-thread.js';
import type { FromReader, ReaderSetup, ReaderTask } from './spawn-reader.js';

const AHEAD = 4;
const port = parentPort!;
const { taken } = workerData as ReaderSetup;
// Atomics.waitAsync does not keep a thread alive on its own: the port, listened to, does until it is closed.
port.on('message', () => {});
// The thread may be started before its file is known (startReaderEarly): the file comes in the first message.
const [{ file, opts }] = (await once(port, 'message')) as [ReaderTask];
/** ES2024 (Node 16+), not in this project's TypeScript lib yet. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
const post = (m: FromReader) => port.postMessage(m);

try {
  // Each batch costs a message, a copy and an await on both threads; bigger ones hold too much memory (bench/notes.md).
  const source = await openCsv(file, { ...opts, readBytes: 64 * 1024, batchBytes: 32 * 1024 });
  const { headers, delimiter, encoding, bom, lineEnding, sepLine, estimatedRows } = source;
  post({ t: 'open', headers, delimiter, encoding, bom, lineEnding, sepLine, estimatedRows });
  let sent = 0;
  for await (const batch of source.batches) {
    if (batch.length === 0) continue;
    const packed = packBatch(batch, headers.length, delimiter);
    // A message back per batch would cost more than the batch itself: the consumer counts in shared memory.
    for (let seen = Atomics.load(taken, 0); sent - seen >= AHEAD; seen = Atomics.load(taken, 0)) {
      const wait = waitAsync(taken, 0, seen);
      if (wait.async) await wait.value;
    }
    sent++;
    // Copied, not transferred: a batch's offsets are small, and transferring them costs this thread more than copying.
    post(packed);
  }
  post({ t: 'end' });
} catch (e) {
  post({ t: 'fail', error: packError(e) });
}
port.close();
