import { setTimeout as delay } from 'node:timers/promises';
import { batchSeal } from '../../lyra/batch-seal.js';
import { Queue, type JobsOptions } from './bullmq.js';
import type { Redis } from 'ioredis';
import { PaybatchError } from '../../errors/paybatch-error.js';
import { orderFingerprint } from '../../ledger/fingerprint.js';
import type { SentSummary } from '../../ledger/ledger.js';
import { RedisLedger } from '../../ledger/redis/redis-ledger.js';
import type { LyraClientOptions } from '../../lyra/client.js';
import { modeOfPassword } from '../../lyra/mode.js';
import type { JudgedRow } from '../../orders/types.js';
import type { Run, RunItem, RunResult } from '../run.js';
import { runHandle } from '../run.js';
import type { RowOutcome } from '../outcome.js';
import { BatchReader, ROWS_PER_JOB, countDone, countTakenNotDone, markDone, markHeld, writeBatchInfo, type PendingOrder, type QueuedJob, type QueuedOrder, type QueuedRow } from './batch.js';
import { ledgerAnswers } from '../from-ledger.js';
import { DEFAULT_PREFIX, jobId, queueKeys, queueName, type QueueScope } from './keys.js';
import { connectRedis, safeRedisUrl, type RedisTarget } from '../../redis/connect.js';
import type { QueueWorkerOptions } from './worker.js';
import { startWorkerThread, type ThreadSetup, type WorkerThread } from './local-workers.js';

/** BullMQ's addBulk is one Redis round trip per call: chunks of this many keep memory flat and Redis responsive. */
export const ADD_BULK_CHUNK = 1000;
/**
 * The first chunk of a run is this small, and each next one twice the last (up to ADD_BULK_CHUNK): workers start
 * sending after a few dozen rows are read and queued, not a thousand.
 */
export const FIRST_CHUNK = 50;
/**
 * After the first chunk the producer waits, this long at most, until workers have taken its jobs: BullMQ's worker
 * starts what it fetched only once a fetch comes back empty, which a producer still adding would delay.
 */
const FIRST_CHUNK_TAKE_MS = 300;
/**
 * How often outcomes are read while waiting: every MIN_POLL_GAP_MS once few rows are left, less often while many are
 * (POLL_GAP_MS_PER_ROW, up to MAX_POLL_GAP_MS): only the last rows decide the end, and reads cost this thread CPU.
 */
const MIN_POLL_GAP_MS = 10;
const MAX_POLL_GAP_MS = 100;
const POLL_GAP_MS_PER_ROW = 0.1;
/** How many open rows one read of outcomes asks about, at most (it asks about twice what the last read found, + 64). */
const MAX_POLL_SLICE = 1000;

/**
 * Jobs: retried for infrastructure errors only (the job function itself handles the platform's answers); finished
 * ones removed by age, so job data (which holds the recipient) does not linger.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'custom' },
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 24 * 3600 },
};

/** A queue producer for one shop+mode. */
export interface Producer {
  readonly scope: QueueScope;
  readonly queue: Queue<QueuedJob, number>;
  readonly redis: Redis;
  readonly ledger: RedisLedger;
  close(): Promise<void>;
}

/** Opens the queue of a shop+mode on a producer connection (fails fast). */
export function openProducer(redis: Redis, scope: QueueScope, ledgerOpts: { claimLeaseMs?: number } = {}): Producer {
  const queue = new Queue<QueuedJob, number>(queueName(scope), { connection: redis, prefix: scope.prefix ?? DEFAULT_PREFIX });
  queue.on('error', () => {});
  const ledger = new RedisLedger({ redis, shopId: scope.shopId, mode: scope.mode, prefix: scope.prefix, ...ledgerOpts });
  return { scope, queue, redis, ledger, close: () => queue.close() };
}

/**
 * The queue's rate for every worker: the shared limiter, read before every POST, is the only gate. BullMQ's limiter is
 * set too high to matter, only because `queue.rateLimit(ms)` (the PSP_106 / 429 pause) needs one.
 */
export async function setQueueRate(p: Producer, perSecond: number | undefined, marginMs?: number): Promise<void> {
  const keys = queueKeys(p.scope);
  if (!perSecond || perSecond <= 0) {
    await p.redis.hdel(keys.settings, 'rate', 'marginMs');
    await p.queue.removeGlobalRateLimit();
    return;
  }
  await p.redis.hset(keys.settings, 'rate', String(perSecond));
  if (marginMs !== undefined) await p.redis.hset(keys.settings, 'marginMs', String(Math.max(0, marginMs)));
  else await p.redis.hdel(keys.settings, 'marginMs');
  await p.queue.setGlobalRateLimit(FETCH_LIMIT_NEVER_REACHED, 1000);
}

/**
 * Waits until a worker marks a row of the batch done (the MARK_DONE script pushes to the batch's tick list), or `ms`
 * at most. On its own connection, opened at the first wait; any trouble with it and this is a plain sleep.
 */
class DoneTicks {
  private conn: Promise<Redis | undefined> | undefined;
  private closed = false;
  constructor(
    private readonly target: RedisTarget,
    private readonly key: string,
  ) {}

  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.conn ??= connectRedis(this.target, 'producer').catch(() => undefined);
    const conn = await this.conn;
    if (!conn || this.closed) return void (await delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined));
    const popped = conn.blpop(this.key, Math.max(0.01, ms / 1000)).catch(() => delay(ms).then(() => null));
    if (!signal) return void (await popped);
    let onAbort!: () => void;
    const aborted = new Promise<void>((resolve) => (onAbort = resolve));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([popped, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.closed = true;
    void this.conn?.then((c) => c?.disconnect());
  }
}

/** BullMQ's limiter maximum per second: far above any rate a shop is given, so it never holds a fetch back. */
const FETCH_LIMIT_NEVER_REACHED = 1_000_000_000;

/** Resolves once the queue has no job waiting, or after `maxMs`; a Redis error ends the wait (the next step retries). */
async function untilTaken(queue: Queue, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  try {
    while ((await queue.getWaitingCount()) > 0 && Date.now() < deadline) await delay(2);
  } catch {
    // Redis trouble: the producer's next step meets it and waits for Redis to recover.
  }
}

function isConnectionError(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|enableOfflineQueue|MaxRetriesPerRequest|Stream isn't writeable|LOADING|Connection closed|socket/i.test(m);
}

/**
 * Runs a Redis step again while Redis is away (a restart): producers fail fast per command, and recover here. Every
 * step wrapped is idempotent (deterministic job ids, sets, hashes). Gives up after `maxDownMs` with one line.
 */
export async function whileRedisRecovers<T>(what: string, fn: () => Promise<T>, opts: { maxDownMs?: number; signal?: AbortSignal; target?: RedisTarget } = {}): Promise<T> {
  const deadline = Date.now() + (opts.maxDownMs ?? 120_000);
  let wait = 100;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isConnectionError(e)) throw e;
      if (Date.now() > deadline || opts.signal?.aborted) {
        const where = opts.target ? ` at ${safeRedisUrl(opts.target.url)} (${opts.target.source})` : '';
        throw new PaybatchError('PB_REDIS_DOWN', `Redis${where} stayed unreachable while ${what}: ${(e as Error).message}. The batch is kept in Redis; when it is back, \`paybatch report\` finishes it.`, 3);
      }
      await delay(wait);
      wait = Math.min(wait * 2, 2_000);
    }
  }
}

/** What a valid row becomes in the queue. */
export function toQueued(row: JudgedRow, batchId: string, retryUncertain: boolean): QueuedOrder & PendingOrder {
  if (!row.judgement.ok) throw new Error('toQueued: an invalid row');
  const d = row.judgement.order;
  const sent: SentSummary = { amountMinor: d.amountMinor, currency: d.currency, channel: d.channel, recipient: d.recipient, ...(d.expirationDate ? { expirationDate: d.expirationDate } : {}) };
  return { batchId, orderId: d.orderId, request: d.request, sent, retryUncertain, fingerprint: orderFingerprint(d), ...(d.expiresFromDefault ? { expiresFromDefault: true } : {}) };
}

export function invalidOutcome(row: JudgedRow): RowOutcome {
  if (row.judgement.ok) throw new Error('invalidOutcome: a valid row');
  return { status: 'INVALID', attempts: 0, errorCode: row.judgement.problem.code, errorMessage: row.judgement.problem.message };
}

/**
 * Held back by the producer instead of queued: the row's outcome (PENDING, and why), or undefined to send it. Asked
 * only about rows the ledger does not answer, so a row already sent is still reported as it is (send windows).
 */
export type HoldOrder = (order: QueuedOrder) => RowOutcome | undefined;

/**
 * How a chunk's rows are grouped into jobs: up to ROWS_PER_JOB each, but at least eight jobs while the chunk allows, so
 * that the first small chunk still goes to several workers at once.
 */
export function jobSize(rows: number): number {
  return Math.max(1, Math.min(ROWS_PER_JOB, Math.ceil(rows / 8)));
}

/**
 * Adds a chunk of orders as jobs of consecutive rows; returns each order's job id (none for rows the ledger answers
 * or `hold` holds: done at once). Grouping depends only on the chunk, so re-adding it adds nothing.
 */
export async function addChunk(p: Producer, batchId: string, chunk: (QueuedOrder & PendingOrder)[], retryUncertain: boolean, hold?: HoldOrder): Promise<(string | undefined)[]> {
  if (chunk.length === 0) return [];
  const entries = await p.ledger.getMany(chunk.map((o) => o.orderId));
  const known: string[] = [];
  const held: { orderId: string; outcome: RowOutcome }[] = [];
  const toSend: number[] = [];
  chunk.forEach((o, i) => {
    const answered = ledgerAnswers(entries[i], retryUncertain, o.request.channelOptions?.channelType);
    const outcome = answered ? undefined : hold?.(o);
    if (answered) known.push(o.orderId);
    else if (outcome) held.push({ orderId: o.orderId, outcome });
    else toSend.push(i);
  });
  const ids: (string | undefined)[] = new Array(chunk.length);
  const jobs: { name: string; data: QueuedJob; opts: JobsOptions }[] = [];
  const size = jobSize(toSend.length);
  for (let j = 0; j < toSend.length; j += size) {
    const group = toSend.slice(j, j + size).map((i) => chunk[i]!);
    const id = jobId(p.scope, batchId, group[0]!.orderId);
    for (const i of toSend.slice(j, j + size)) ids[i] = id;
    const rows = group.map((o): QueuedRow => (o.fingerprint ? { orderId: o.orderId, request: o.request, sent: o.sent, fingerprint: o.fingerprint } : { orderId: o.orderId, request: o.request, sent: o.sent }));
    jobs.push({ name: 'send', data: { batchId, retryUncertain, rows }, opts: { ...JOB_OPTIONS, jobId: id } });
  }
  await markDone(p.redis, p.scope, batchId, known);
  await markHeld(p.redis, p.scope, batchId, held);
  if (jobs.length) await p.queue.addBulk(jobs);
  return ids;
}

export interface RunQueuedOptions {
  redis: RedisTarget;
  rows: AsyncIterable<JudgedRow>;
  /** Credentials and URL of the shop, for local workers; shop and mode (from the password) name the queue. */
  clientOptions: LyraClientOptions;
  batchId: string;
  retryUncertain: boolean;
  /** --rate: request starts per sliding second, across every worker of the queue. */
  perSecond?: number;
  /** Added to the limiter's one-second window, ms (default 5). */
  rateMarginMs?: number;
  /** Jobs in flight per local worker (default 8). */
  concurrency?: number;
  /** Workers started in this process (default 1; 0 = only workers elsewhere do the sending). */
  localWorkers?: number;
  /** SIGINT/SIGTERM: stop enqueueing, drain local workers, report every row. */
  signal?: AbortSignal;
  /** Stored with the batch for `paybatch report BATCH` (how the file was judged). Opaque here. */
  source?: unknown;
  /** Rows held back rather than queued (outside their send window): reported with the outcome it gives. */
  hold?: HoldOrder;
  /** Key prefix (default `paybatch`). */
  prefix?: string;
  /** Rows read ahead of the oldest unreported one (default 10 000): bounds memory, and how far enqueueing runs ahead. */
  lookahead?: number;
  /** How often outcomes are read from Redis while waiting, ms (default 200). */
  pollMs?: number;
  /** Local worker tuning (lock, lease, retry policy). */
  worker?: Pick<QueueWorkerOptions, 'lockDurationMs' | 'stalledIntervalMs' | 'claimLeaseMs' | 'retry' | 'onEvent'>;
  /** The producer's connection to `redis`, opened ahead (while the credentials were checked); the run owns and closes it. */
  connection?: Promise<Redis>;
  /** Told after every chunk added to the queue. */
  onEnqueued?: (total: number) => void;
  /**
   * Told when no row finished for 5 s: rows finished so far, workers connected to the queue (0: nobody sends), and the
   * queue's rows taken by a worker and not finished (a dead worker's among them until their lock lapses).
   */
  onWaiting?: (done: number, workers: number, inFlight: number) => void;
}

interface Slot {
  row: JudgedRow;
  order?: QueuedOrder & PendingOrder;
  /** The id of the job that carries the order (set once it is queued). */
  job?: string;
  outcome?: RowOutcome;
}

/** Yields the rows at the head of the window whose outcome is known, in input order; true if it yielded any. */
function* settledHead(window: Slot[]): Generator<RunItem, boolean> {
  let any = false;
  while (window.length && window[0]!.outcome) {
    const s = window.shift()!;
    any = true;
    yield { row: s.row, outcome: s.outcome! };
  }
  return any;
}

/**
 * `run FILE --redis URL`: rows are queued in chunks as the file is read, workers anywhere send them, and outcomes come
 * back in input order from the Redis ledger, as runEmbedded's. On a stop nothing new is sent; every row is reported.
 */
export function runQueued(opts: RunQueuedOptions): Run {
  return runHandle('runQueued', (settle, fail) => iterateQueued(opts, settle, fail));
}

function scopeOf(opts: { clientOptions: LyraClientOptions; prefix?: string }): QueueScope {
  const mode = modeOfPassword(opts.clientOptions.password);
  if (!mode) throw new PaybatchError('PB_CONFIG', 'the API password does not start with testpassword_ or prodpassword_', 2);
  return { shopId: opts.clientOptions.shopId, mode, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
}

async function* iterateQueued(opts: RunQueuedOptions, settle: (r: RunResult) => void, fail: (e: unknown) => void): AsyncGenerator<RunItem, RunResult> {
  const scope = scopeOf(opts);
  const retry = <T>(what: string, fn: () => Promise<T>) => whileRedisRecovers(what, fn, { target: opts.redis });
  const redis = await (opts.connection ?? connectRedis(opts.redis, 'producer'));
  const timeoutMs = opts.clientOptions.timeoutMs ?? 30_000;
  const producer = openProducer(redis, scope, { claimLeaseMs: opts.worker?.claimLeaseMs ?? timeoutMs + 30_000 });
  const reader = new BatchReader(redis, scope, opts.batchId, producer.ledger, Date.now, !!opts.hold);
  const workers: WorkerThread[] = [];
  /** A local worker thread that died on its own: the run stops with it (the batch stays in Redis). */
  let crashed: Error | undefined;
  const lookahead = Math.max(1, opts.lookahead ?? 10_000);
  const pollMs = opts.pollMs ?? 200;
  // Its own connection, as BLPOP blocks it: wakes the wait for outcomes as soon as a worker marks a row done.
  const ticks = new DoneTicks(opts.redis, queueKeys(scope).batchTick(opts.batchId));
  let aborted: RunResult['aborted'];
  const it = opts.rows[Symbol.asyncIterator]();
  let inputDone = false;
  let clean = false;
  const counts = { rows: 0, valid: 0, invalid: 0 };

  const stopping = () => !!opts.signal?.aborted || !!aborted;
  let starting: Promise<unknown> = Promise.resolve();
  const stopWorkers = async () => {
    await starting.catch(() => undefined);
    await Promise.allSettled(workers.map((w) => w.close()));
    workers.length = 0;
  };

  try {
    // Local workers get ready while the batch is recorded (they find no job of it before the first chunk), each on its
    // own thread: sending does not wait behind this loop's reading, enqueueing and reporting.
    const { onEvent, ...workerOpts } = opts.worker ?? {};
    starting = Promise.all(
      Array.from({ length: opts.localWorkers ?? 1 }, async () => {
        const setup: ThreadSetup = { redis: opts.redis, clientOptions: opts.clientOptions, worker: { ...(scope.prefix ? { prefix: scope.prefix } : {}), ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), ...workerOpts } };
        workers.push(await startWorkerThread(setup, { onEvent, onCrash: (e) => (crashed ??= e) }));
      }),
    );
    starting.catch(() => undefined);
    await retry('recording the batch', async () => {
      await writeBatchInfo(redis, scope, {
        batchId: opts.batchId,
        shopId: scope.shopId,
        mode: scope.mode,
        seal: batchSeal(opts.clientOptions.password, scope, opts.batchId),
        createdAt: new Date().toISOString(),
        state: 'enqueuing',
        retryUncertain: opts.retryUncertain,
        rows: 0,
        valid: 0,
        invalid: 0,
        ...(opts.source !== undefined ? { source: opts.source } : {}),
      });
      await setQueueRate(producer, opts.perSecond, opts.rateMarginMs);
    });
    await starting;

    const window: Slot[] = [];
    let chunk: Slot[] = [];
    let chunkSize = Math.min(FIRST_CHUNK, ADD_BULK_CHUNK);
    let enqueued = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const c = chunk;
      chunk = [];
      chunkSize = Math.min(chunkSize * 2, ADD_BULK_CHUNK);
      const ids = await retry('adding jobs', () => addChunk(producer, opts.batchId, c.map((s) => s.order!), opts.retryUncertain, opts.hold));
      c.forEach((s, i) => (s.job = ids[i]));
      const first = enqueued === 0;
      enqueued += c.length;
      opts.onEnqueued?.(enqueued);
      if (first) await untilTaken(producer.queue, FIRST_CHUNK_TAKE_MS);
    };
    let lastProgress = Date.now();
    let enqueuedRecorded = false;
    let slice = 64;
    let lastPoll = 0;

    for (;;) {
      // Read ahead: judge, queue valid rows in chunks, until the window is full.
      while (!inputDone && window.length < lookahead && !stopping()) {
        const next = await it.next();
        if (next.done) {
          inputDone = true;
          break;
        }
        const row = next.value;
        counts.rows++;
        if (row.judgement.ok) {
          counts.valid++;
          const slot: Slot = { row, order: toQueued(row, opts.batchId, opts.retryUncertain) };
          window.push(slot);
          chunk.push(slot);
          if (chunk.length >= chunkSize) await flush();
        } else {
          counts.invalid++;
          window.push({ row, outcome: invalidOutcome(row) });
        }
      }
      if (!stopping()) await flush();
      if (inputDone && !stopping() && !enqueuedRecorded) {
        await retry('recording the batch', () => writeBatchInfo(redis, scope, { batchId: opts.batchId, state: 'enqueued', ...counts }));
        enqueuedRecorded = true;
      }

      if (stopping()) break;

      // Yield what is settled, in order. Only the oldest open rows are asked about: rows finish about in input order.
      const waiting: Slot[] = [];
      for (const s of window) {
        if (s.outcome) continue;
        waiting.push(s);
        if (waiting.length >= slice) break;
      }
      if (waiting.length) {
        lastPoll = Date.now();
        const outs = await retry('reading outcomes', () => reader.settled(waiting.map((s) => s.order!)));
        let found = 0;
        waiting.forEach((s, i) => {
          if (outs[i]) {
            s.outcome = outs[i];
            found++;
          }
        });
        slice = Math.min(MAX_POLL_SLICE, 2 * found + 64);
      }
      const yielded = yield* settledHead(window);
      if (inputDone && window.length === 0) break;
      if (yielded) {
        lastProgress = Date.now();
        continue;
      }

      const state = await retry('reading the batch', () => reader.state());
      if (state === 'aborted') {
        const info = await retry('reading the batch', () => reader.info());
        aborted = { code: info?.abortCode ?? 'PB_ABORTED', message: info?.abortMessage ?? 'the batch was aborted by a worker' };
        break;
      }
      // A job lost with Redis (restarted without its last second of AOF): add it again; the ledger keeps it single.
      if (Date.now() - lastProgress > 5_000 && window[0]?.job) {
        const id = window[0].job;
        const state = await retry('checking a job', () => producer.queue.getJobState(id));
        if (state === 'unknown') {
          // In no list, but its hash may have survived (a Redis crash while a worker moved it): BullMQ would not add
          // a job whose id exists, so the remains go first. A locked one is left for the next check.
          const removed = await retry('removing a lost job', () => producer.queue.remove(id)).catch(() => 0);
          if (removed || (await producer.queue.getJob(id)) === undefined) {
            const lost = window.filter((s) => s.job === id && !s.outcome);
            const ids = await retry('adding a lost job', () => addChunk(producer, opts.batchId, lost.map((s) => s.order!), opts.retryUncertain, opts.hold));
            lost.forEach((s, i) => (s.job = ids[i]));
          }
        }
        if (opts.onWaiting) {
          const [done, count, inFlight] = await retry('counting', () => Promise.all([countDone(redis, scope, opts.batchId), producer.queue.getWorkersCount(), countTakenNotDone(redis, scope, producer.queue, opts.batchId)]));
          opts.onWaiting(done, count, inFlight);
        }
        lastProgress = Date.now();
      }
      const gapMs = Math.min(MAX_POLL_GAP_MS, Math.max(MIN_POLL_GAP_MS, window.length * POLL_GAP_MS_PER_ROW));
      const gap = lastPoll + gapMs - Date.now();
      if (gap > 0) await delay(gap, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
      await ticks.wait(pollMs, opts.signal);
      if (crashed) throw new PaybatchError('PB_WORKER_STOPPED', `the local worker stopped: ${crashed.message}. Every row sent so far is in the ledger; run the file again to send the rest`, 3);
    }

    if (stopping()) {
      if (!aborted) aborted = { code: 'PB_INTERRUPTED_RUN', message: 'stopped by a signal: requests in flight were finished and recorded, the rest was not sent' };
      // Remote workers skip what is left of this batch; local ones finish what they hold.
      await retry('stopping the batch', () => writeBatchInfo(redis, scope, { batchId: opts.batchId, state: aborted!.code === 'PB_INTERRUPTED_RUN' ? 'stopped' : 'aborted' }));
      await stopWorkers();
      // Jobs still waiting leave the queue (an active one is locked and stays; its worker skips or finishes it).
      const waitingIds = window.filter((s) => !s.outcome && s.order).map((s) => jobId(scope, opts.batchId, s.order!.orderId));
      for (let i = 0; i < waitingIds.length; i += 500) {
        await Promise.allSettled(waitingIds.slice(i, i + 500).map((id) => producer.queue.remove(id)));
      }
      const notSent: RowOutcome = { status: 'PENDING', attempts: 0, errorCode: 'PB_NOT_SENT', errorMessage: `not sent: the run stopped (${aborted.code}); run again to send it` };
      const report = async function* (slots: Slot[]): AsyncGenerator<RunItem> {
        const open = slots.filter((s) => !s.outcome);
        const outs = await retry('reading outcomes', () => reader.current(open.map((s) => s.order!)));
        open.forEach((s, i) => (s.outcome = outs[i]!.status === 'PENDING' ? notSent : outs[i]));
        for (const s of slots) yield { row: s.row, outcome: s.outcome! };
      };
      yield* report(window.splice(0));
      // The rest of the file is still reported, a chunk at a time, never sent.
      while (!inputDone) {
        const slots: Slot[] = [];
        while (slots.length < ADD_BULK_CHUNK) {
          const next = await it.next();
          if (next.done) {
            inputDone = true;
            break;
          }
          const row = next.value;
          slots.push(row.judgement.ok ? { row, order: toQueued(row, opts.batchId, opts.retryUncertain) } : { row, outcome: invalidOutcome(row) });
        }
        yield* report(slots);
      }
    }
    clean = true;
  } catch (e) {
    fail(e);
    throw e;
  } finally {
    await stopWorkers();
    if (!clean && !inputDone) await it.return?.();
    await producer.close().catch(() => undefined);
    redis.disconnect();
    ticks.close();
  }
  const res: RunResult = aborted ? { aborted } : {};
  settle(res);
  return res;
}

export interface FollowBatchOptions {
  redis: RedisTarget;
  scope: QueueScope;
  batchId: string;
  /** The batch's file judged again, the same way (the report's rows, in input order). */
  rows: AsyncIterable<JudgedRow>;
  /** Same lease as the workers' (a live claim means a POST may still be in the air). */
  claimLeaseMs?: number;
  pollMs?: number;
  lookahead?: number;
  signal?: AbortSignal;
  /** Told while waiting (every 5 s at most): rows finished so far, the batch's valid rows, workers connected to the queue, rows taken and not finished. */
  onWaiting?: (done: number, valid: number | undefined, workers: number, inFlight: number) => void;
}

/**
 * `paybatch report BATCH`: waits for a batch sent by workers anywhere and yields every row of the file with its
 * outcome from the Redis ledger, in input order. A batch that was stopped or aborted is reported as it stands.
 */
export async function* followBatch(opts: FollowBatchOptions): AsyncGenerator<RunItem, RunResult> {
  const retry = <T>(what: string, fn: () => Promise<T>) => whileRedisRecovers(what, fn, { target: opts.redis, signal: opts.signal });
  const redis = await connectRedis(opts.redis, 'producer');
  const { queue, ledger } = openProducer(redis, opts.scope, opts.claimLeaseMs !== undefined ? { claimLeaseMs: opts.claimLeaseMs } : {});
  const reader = new BatchReader(redis, opts.scope, opts.batchId, ledger);
  const lookahead = opts.lookahead ?? 10_000;
  const it = opts.rows[Symbol.asyncIterator]();
  let inputDone = false;
  let result: RunResult = {};
  try {
    const window: Slot[] = [];
    let lastTold = 0;
    for (;;) {
      while (!inputDone && window.length < lookahead) {
        const next = await it.next();
        if (next.done) {
          inputDone = true;
          break;
        }
        const row = next.value;
        window.push(row.judgement.ok ? { row, order: toQueued(row, opts.batchId, false) } : { row, outcome: invalidOutcome(row) });
      }
      const info = await retry('reading the batch', () => reader.info());
      const ended = info?.state === 'aborted' || info?.state === 'stopped' || !!opts.signal?.aborted;
      const open = window.filter((s) => !s.outcome);
      if (ended) {
        result = { aborted: { code: info?.abortCode ?? 'PB_INTERRUPTED_RUN', message: info?.abortMessage ?? `batch ${opts.batchId} was stopped before every row was sent` } };
        const outs = await retry('reading outcomes', () => reader.current(open.map((s) => s.order!)));
        open.forEach((s, i) => (s.outcome = outs[i]));
      } else {
        const slice = open.slice(0, 1000);
        const outs = await retry('reading outcomes', () => reader.settled(slice.map((s) => s.order!)));
        slice.forEach((s, i) => {
          if (outs[i]) s.outcome = outs[i];
        });
      }
      const yielded = yield* settledHead(window);
      if (inputDone && window.length === 0) break;
      if (!yielded) {
        if (opts.onWaiting && Date.now() - lastTold > 5_000) {
          lastTold = Date.now();
          const [done, workers, inFlight] = await retry('counting', () => Promise.all([countDone(redis, opts.scope, opts.batchId), queue.getWorkersCount(), countTakenNotDone(redis, opts.scope, queue, opts.batchId)]));
          opts.onWaiting(done, info?.valid, workers, inFlight);
        }
        await delay(opts.pollMs ?? 250, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
      }
    }
  } finally {
    if (!inputDone) await it.return?.();
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
  return result;
}

export interface EnqueueBatchOptions {
  redis: RedisTarget;
  scope: QueueScope;
  batchId: string;
  rows: AsyncIterable<JudgedRow>;
  retryUncertain: boolean;
  /** The batch's seal (lyra/batch-seal.ts), made once the platform accepted the enqueuer's credentials. */
  seal: string;
  perSecond?: number;
  rateMarginMs?: number;
  source?: unknown;
  /** Rows held back rather than queued (outside their send window): the batch keeps the outcome it gives. */
  hold?: HoldOrder;
  onEnqueued?: (total: number) => void;
}

/** `paybatch enqueue FILE`: every valid row to the queue, in chunks while the file is read; workers do the rest. */
export async function enqueueBatch(opts: EnqueueBatchOptions): Promise<{ rows: number; valid: number; invalid: number }> {
  const retry = <T>(what: string, fn: () => Promise<T>) => whileRedisRecovers(what, fn, { target: opts.redis });
  const redis = await connectRedis(opts.redis, 'producer');
  const producer = openProducer(redis, opts.scope);
  const counts = { rows: 0, valid: 0, invalid: 0 };
  try {
    await retry('recording the batch', async () => {
      await writeBatchInfo(redis, opts.scope, {
        batchId: opts.batchId,
        shopId: opts.scope.shopId,
        mode: opts.scope.mode,
        seal: opts.seal,
        createdAt: new Date().toISOString(),
        state: 'enqueuing',
        retryUncertain: opts.retryUncertain,
        ...counts,
        ...(opts.source !== undefined ? { source: opts.source } : {}),
      });
      if (opts.perSecond !== undefined) await setQueueRate(producer, opts.perSecond, opts.rateMarginMs);
    });
    let chunk: (QueuedOrder & PendingOrder)[] = [];
    const flush = async () => {
      const c = chunk;
      chunk = [];
      await retry('adding jobs', () => addChunk(producer, opts.batchId, c, opts.retryUncertain, opts.hold));
      opts.onEnqueued?.(counts.valid);
    };
    for await (const row of opts.rows) {
      counts.rows++;
      if (!row.judgement.ok) {
        counts.invalid++;
        continue;
      }
      counts.valid++;
      chunk.push(toQueued(row, opts.batchId, opts.retryUncertain));
      if (chunk.length >= ADD_BULK_CHUNK) await flush();
    }
    await flush();
    await retry('recording the batch', () => writeBatchInfo(redis, opts.scope, { batchId: opts.batchId, state: 'enqueued', ...counts }));
    return counts;
  } finally {
    await producer.close().catch(() => undefined);
    redis.disconnect();
  }
}

export { newBatchId } from '../batch-id.js';
