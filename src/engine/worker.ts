import { hostname } from 'node:os';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClaimRequest, ClaimResult, Ledger } from '../ledger/ledger.js';
import { RedisLedger } from '../ledger/redis-ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import type { Mode } from '../lyra/types.js';
import { RunAbortedError } from './errors.js';
import { sendOrder, type JobContext, type RetryPolicy } from './job.js';
import type { RowOutcome } from './outcome.js';
import { markDone, readBatchInfo, writeBatchInfo, type QueuedOrder } from './queue-batch.js';
import { queueKeys, queueName, type QueueScope } from './queue-keys.js';
import { SharedRateLimiter } from './redis-rate-limit.js';

/** Answers that mean "slow down": every worker pauses, and a row that ran out of attempts on them goes back in line. */
const THROTTLED: ReadonlySet<string> = new Set(['PSP_106', 'PB_HTTP_429', 'PB_HTTP_503']);
/** How many times a throttled row is put back in the queue before FAILED stands. */
const MAX_THROTTLE_REQUEUES = 5;

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 10_000 };

export interface QueueWorkerOptions {
  /** A worker-role connection (`maxRetriesPerRequest: null`, see redis-preflight); BullMQ duplicates it for blocking calls. */
  redis: Redis;
  /** The Lyra client of this shop+mode: it decides which queue this worker serves. */
  client: JobContext['client'] & { readonly shopId: string; readonly mode: Mode; readonly timeoutMs: number };
  /** Key prefix (default `paybatch`). */
  prefix?: string;
  /** Jobs in flight in this process (default 8). */
  concurrency?: number;
  retry?: RetryPolicy;
  /**
   * BullMQ lock of a job, ms. Default max(30 000, 2 × HTTP timeout + 10 000): the HTTP timeout stays well below it,
   * so a healthy worker never loses a job to the stalled checker mid-POST.
   */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, ms (default: the lock duration). */
  stalledIntervalMs?: number;
  /** How long a ledger claim counts as live (default HTTP timeout + 30 000); renewed before every POST. */
  claimLeaseMs?: number;
  /** Name shown in BullMQ (default host-pid). */
  name?: string;
  /** What the worker did, for the CLI's log lines. Never carries a secret or the recipient. */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'done'; batchId: string; orderId: string; status: RowOutcome['status'] }
  | { type: 'aborted'; batchId: string; code: string; message: string }
  | { type: 'throttled'; pauseMs: number }
  | { type: 'error'; message: string };

export interface QueueWorker {
  readonly worker: Worker<QueuedOrder, RowOutcome>;
  readonly scope: QueueScope;
  /**
   * Stops taking jobs. Default (drain): requests in flight finish and are recorded, jobs that had not sent go back to
   * the queue for another worker. `force`: stop now; a request in flight stays SENDING (reads as UNCERTAIN).
   */
  close(opts?: { force?: boolean }): Promise<void>;
}

/** A per-job view of the ledger that remembers its claim, so the claim can be renewed before every POST. */
class ClaimTracker implements Ledger {
  token: string | undefined;
  constructor(private readonly inner: RedisLedger) {}
  get shopId() {
    return this.inner.shopId;
  }
  get mode() {
    return this.inner.mode;
  }
  get: Ledger['get'] = (id) => this.inner.get(id);
  async claim(orderId: string, req: ClaimRequest): Promise<ClaimResult> {
    const r = await this.inner.claim(orderId, req);
    if (r.kind === 'claimed') this.token = r.token;
    return r;
  }
  record: Ledger['record'] = (id, token, o) => this.inner.record(id, token, o);
  release: Ledger['release'] = (id, token) => this.inner.release(id, token);
  observe: Ledger['observe'] = (id, obs) => this.inner.observe(id, obs);
  entries: Ledger['entries'] = () => this.inner.entries();
  close = async () => {};
}

/** The BullMQ processor's whole job: the shared job function, with Redis for ledger and limiter. */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorker> {
  const { redis, client } = opts;
  const scope: QueueScope = { shopId: client.shopId, mode: client.mode, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
  const keys = queueKeys(scope);
  const lockDuration = opts.lockDurationMs ?? Math.max(30_000, 2 * client.timeoutMs + 10_000);
  const ledger = new RedisLedger({ redis, shopId: scope.shopId, mode: scope.mode, prefix: scope.prefix, claimLeaseMs: opts.claimLeaseMs ?? client.timeoutMs + 30_000 });
  const limiter = new SharedRateLimiter({ redis, keys: keys.limiter, holdMs: client.timeoutMs + 5_000 });
  const queue = new Queue<QueuedOrder, RowOutcome>(queueName(scope), { connection: redis, prefix: scope.prefix ?? 'paybatch' });
  queue.on('error', () => {});
  const drain = new AbortController();
  const emit = (e: WorkerEvent) => opts.onEvent?.(e);

  const throttle = (err: LyraApiError) => {
    if (!THROTTLED.has(err.code)) return;
    const pauseMs = Math.max(250, Math.min(err.retryAfterMs ?? 1_000, 60_000));
    emit({ type: 'throttled', pauseMs });
    // Everyone: in-flight jobs wait at the shared limiter, and no worker fetches new jobs meanwhile.
    void limiter.pause(pauseMs).catch(() => {});
    void queue.rateLimit(pauseMs).catch(() => {});
  };

  const processor = async (job: Job<QueuedOrder, RowOutcome>, token?: string): Promise<RowOutcome> => {
    const data = job.data;
    const batch = await readBatchInfo(redis, scope, data.batchId);
    if (batch && (batch.state === 'aborted' || batch.state === 'stopped')) {
      await markDone(redis, scope, data.batchId, [data.orderId]);
      throw new UnrecoverableError(`batch ${data.batchId} was ${batch.state}: not sent`);
    }
    const tracked = new ClaimTracker(ledger);
    let grant: string | undefined;
    const ctx: JobContext = {
      client: {
        createPaymentOrder: async (req, o) => {
          const g = grant;
          grant = undefined;
          if (g) await limiter.confirm(g);
          try {
            return await client.createPaymentOrder(req, o);
          } finally {
            if (g) await limiter.done(g).catch(() => {});
          }
        },
      },
      ledger: tracked,
      batchId: data.batchId,
      retryUncertain: data.retryUncertain,
      retry: opts.retry ?? DEFAULT_RETRY,
      signal: drain.signal,
      beforeAttempt: async (signal) => {
        grant = await limiter.acquire(signal);
        // A claim taken over while this job slept (stale, and the operator allowed retries) must not POST again.
        if (tracked.token && !(await ledger.renew(data.orderId, tracked.token))) {
          throw new Error(`the claim on ${data.orderId} was taken over by another worker; not sending`);
        }
      },
      onRetrySafe: throttle,
    };
    let outcome: RowOutcome;
    try {
      outcome = await sendOrder(ctx, { orderId: data.orderId, request: data.request, sent: data.sent });
    } catch (e) {
      if (RunAbortedError.is(e)) {
        await writeBatchInfo(redis, scope, { batchId: data.batchId, state: 'aborted', abortCode: e.code, abortMessage: e.message });
        await markDone(redis, scope, data.batchId, [data.orderId]);
        emit({ type: 'aborted', batchId: data.batchId, code: e.code, message: e.message });
        throw new UnrecoverableError(e.message);
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) await markDone(redis, scope, data.batchId, [data.orderId]);
      throw e;
    }
    if (outcome.status === 'PENDING' && drain.signal.aborted) {
      // Draining and nothing sent: back in line for another worker, without spending one of the job's attempts.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (outcome.status === 'FAILED' && outcome.errorCode && THROTTLED.has(outcome.errorCode)) {
      const requeues = (data as QueuedOrder & { requeues?: number }).requeues ?? 0;
      if (requeues < MAX_THROTTLE_REQUEUES) {
        await job.updateData({ ...data, requeues: requeues + 1 } as QueuedOrder);
        await queue.rateLimit(1_000);
        throw Worker.RateLimitError();
      }
    }
    await markDone(redis, scope, data.batchId, [data.orderId]);
    emit({ type: 'done', batchId: data.batchId, orderId: data.orderId, status: outcome.status });
    return outcome;
  };

  const worker = new Worker<QueuedOrder, RowOutcome>(queueName(scope), processor, {
    connection: redis,
    prefix: scope.prefix ?? 'paybatch',
    concurrency: opts.concurrency ?? 8,
    lockDuration,
    stalledInterval: opts.stalledIntervalMs ?? lockDuration,
    maxStalledCount: 3,
    name: opts.name ?? `${hostname()}-${process.pid}`,
    settings: { backoffStrategy: (attemptsMade: number) => Math.min(1_000 * 2 ** Math.max(0, attemptsMade - 1), 30_000) },
  });
  worker.on('error', (e) => emit({ type: 'error', message: e.message }));
  // A job that stalled too often, or ran out of attempts outside the processor: the batch must not wait for it.
  worker.on('failed', (job) => {
    if (!job) return;
    const finalAttempt = job.attemptsMade >= (job.opts.attempts ?? 1) || job.finishedOn !== undefined;
    if (finalAttempt) void markDone(redis, scope, job.data.batchId, [job.data.orderId]).catch(() => {});
  });
  await worker.waitUntilReady();

  return {
    worker,
    scope,
    close: async ({ force = false } = {}) => {
      drain.abort(new Error('worker draining'));
      await worker.close(force);
      await queue.close();
    },
  };
}
