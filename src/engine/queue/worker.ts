import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from './bullmq.js';
import type { Redis } from 'ioredis';
import type { ClaimRequest, ClaimResult, ClaimingLedger, Ledger, Outcome } from '../../ledger/ledger.js';
import { BatchStoppedError, RedisLedger } from '../../ledger/redis/redis-ledger.js';
import type { LyraClient } from '../../lyra/client.js';
import { LyraApiError } from '../../lyra/errors.js';
import { RunAbortedError } from '../errors.js';
import { LIMITER_WAIT_CHANNEL } from '../rate-limit.js';
import { DEFAULT_RETRY, sendOrder, type JobContext, type RetryPolicy } from '../job.js';
import type { RowOutcome } from '../outcome.js';
import { BATCH_TTL_SECONDS, ROWS_PER_JOB, doneFlags, markDone, readBatchSeal, rowsOfJob, writeBatchInfo, type QueuedJob, type QueuedRow } from './batch.js';
import { sameSeal } from '../../lyra/batch-seal.js';
import { DEFAULT_PREFIX, queueKeys, queueName, type QueueScope } from './keys.js';
import { SharedRateLimiter } from './shared-rate-limit.js';
import { waitInLine } from '../../lib/wait-in-line.js';

/** Answers that mean "slow down": every worker pauses, and a row that ran out of attempts on them goes back in line. */
const THROTTLED: ReadonlySet<string> = new Set(['PSP_106', 'PB_HTTP_429', 'PB_HTTP_503']);
/** How many times a throttled row is put back in the queue before FAILED stands. */
const MAX_THROTTLE_REQUEUES = 5;

export interface QueueWorkerOptions {
  /** A worker-role connection (`maxRetriesPerRequest: null`, see redis-preflight); BullMQ duplicates it for blocking calls. */
  redis: Redis;
  /** The Lyra client of this shop+mode: it decides which queue this worker serves. */
  client: JobContext['client'] & Pick<LyraClient, 'shopId' | 'mode' | 'timeoutMs' | 'sealBatch' | 'sdkTest'>;
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
  readonly worker: Worker<QueuedJob, number>;
  readonly scope: QueueScope;
  /**
   * Stops taking jobs. Default (drain): requests in flight finish and are recorded, jobs that had not sent go back to
   * the queue for another worker. `force`: stop now; a request in flight stays SENDING (reads as UNCERTAIN).
   */
  close(opts?: { force?: boolean }): Promise<void>;
}

/**
 * At most `size` rows of this worker hold a claim (`--concurrency`), so after kill -9 at most that many read
 * UNCERTAIN. A slot is taken right before a claim, given back once its record is sent or its claim released.
 */
export class ClaimSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves with the slot's give-back (idempotent); rejects with the signal's reason if it aborts first. */
  take(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    let given = false;
    const give = () => {
      if (given) return;
      given = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(give);
    }
    return waitInLine(this.waiting, signal).then(() => give);
  }
}

/** Jobs BullMQ runs beyond the claim slots: they wait for a slot with their fetch and batch check already done. */
export function extraJobs(concurrency: number): number {
  return Math.min(concurrency, Math.max(2, Math.ceil(concurrency / 5)));
}

/**
 * A per-job view of the ledger: remembers its claim (renewed before a POST), frees the claim slot when done, and asks
 * the shared limiter within the ledger's own calls (a place with the claim, freed with the record).
 */
class ClaimTracker implements ClaimingLedger {
  token: string | undefined;
  /** When the claim was sent (performance.now()). */
  claimSentAt = 0;
  /** The limiter's place granted with the claim, for the first attempt. */
  early: string | undefined;
  /** The record also marked the row done for its batch (the job ends with that answer). */
  marked = false;
  /** The grant of a POST that got its answer: the limiter's `done` goes with the record that follows (one call). */
  pendingDone: string | undefined;
  /** When that answer came (performance.now()): the place is freed one window after it, not after the record. */
  answeredAt: number | undefined;
  constructor(
    private readonly inner: RedisLedger,
    private readonly giveSlot: () => void,
    private readonly limiter: SharedRateLimiter,
    /** Where a final answer marks the row done, and whether an outcome is final (a throttled row may go back in line). */
    private readonly done: { set: string; tick: string; ttlSeconds: number; isFinal: (o: Outcome) => boolean },
    /** The batch's hash: its claims are refused once it is stopped or aborted. */
    private readonly batchKey: string,
  ) {}
  get shopId() {
    return this.inner.shopId;
  }
  get mode() {
    return this.inner.mode;
  }
  get: Ledger['get'] = (id) => this.inner.get(id);
  async claim(orderId: string, req: ClaimRequest): Promise<ClaimResult> {
    this.claimSentAt = performance.now();
    // No place asked for while another request of this process waits in line: the attempt then queues behind it.
    const take = this.limiter.takeAlong();
    const { result, alongAnswer } = await this.inner.claimAlong(orderId, req, { batchKey: this.batchKey, ...(take ? { along: take.along } : {}) });
    if (result.kind === 'claimed') {
      this.token = result.token;
      // Not granted (the window was full): the attempt waits in line (beforeAttempt → acquire).
      if (take) this.early = this.limiter.tookAlong(take.member, alongAnswer, this.claimSentAt);
    } else this.giveSlot();
    return result;
  }
  /** The early grant, once (the first attempt's); later attempts ask the limiter themselves. */
  takeEarly(): string | undefined {
    const e = this.early;
    this.early = undefined;
    return e;
  }
  /**
   * The job is over: an early grant nobody used is given back, a pending done is sent on its own, and the claim slot
   * is free (each idempotent).
   */
  finish(): void {
    const e = this.takeEarly();
    if (e) void this.limiter.cancel(e).catch(() => {});
    this.flushDone();
    this.giveSlot();
  }
  /** The pending `done`, sent on its own (no record follows the answer it was kept for). */
  flushDone(): void {
    const g = this.pendingDone;
    this.pendingDone = undefined;
    if (g) void this.limiter.done(g, this.answeredAt).catch(() => {});
  }
  record: Ledger['record'] = async (id, token, o, onQueued) => {
    try {
      const final = this.done.isFinal(o);
      const g = this.pendingDone;
      this.pendingDone = undefined;
      // The slot is free once the record is sent: the next job's claim follows it on the same connection, so Redis runs
      // the record first and the claims never outnumber the slots, without the next claim waiting for its answer.
      const queued = () => {
        onQueued?.();
        this.giveSlot();
      };
      const ok = await this.inner.record(id, token, o, queued, final ? this.done : undefined, g ? this.limiter.doneAlong(g, this.answeredAt) : undefined);
      if (ok && final) this.marked = true;
      return ok;
    } finally {
      this.giveSlot();
    }
  };
  release: Ledger['release'] = async (id, token) => {
    try {
      await this.inner.release(id, token);
    } finally {
      this.giveSlot();
    }
  };
  observe: Ledger['observe'] = (id, obs) => this.inner.observe(id, obs);
}

/** The BullMQ processor's whole job: the shared job function, with Redis for ledger and limiter. */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorker> {
  const { redis, client } = opts;
  const scope: QueueScope = { shopId: client.shopId, mode: client.mode, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
  const keys = queueKeys(scope);
  const lockDuration = opts.lockDurationMs ?? Math.max(30_000, 2 * client.timeoutMs + 10_000);
  const leaseMs = opts.claimLeaseMs ?? client.timeoutMs + 30_000;
  const ledger = new RedisLedger({ redis, shopId: scope.shopId, mode: scope.mode, prefix: scope.prefix, claimLeaseMs: leaseMs });
  const limiter = new SharedRateLimiter({ redis, keys: keys.limiter, holdMs: client.timeoutMs + 5_000 });
  const queue = new Queue<QueuedJob, number>(queueName(scope), { connection: redis, prefix: scope.prefix ?? DEFAULT_PREFIX });
  queue.on('error', () => {});
  const drain = new AbortController();
  // Every row waiting for a claim slot listens to it.
  setMaxListeners(0, drain.signal);
  const emit = (e: WorkerEvent) => opts.onEvent?.(e);

  /**
   * Each batch's seal, checked once per batch (lyra/batch-seal.ts): a batch whose seal this worker's password does not
   * give is stopped unsent. Which side is wrong is told by this worker's own credential check.
   */
  const seals = new Map<string, Promise<void>>();
  const verifySeal = async (batchId: string): Promise<void> => {
    const found = await readBatchSeal(redis, scope, batchId);
    if (sameSeal(found, client.sealBatch(batchId))) return;
    try {
      await client.sdkTest('paybatch');
    } catch (e) {
      if (LyraApiError.is(e) && e.isAuthFailure) throw new RunAbortedError('PB_AUTH', `${e.code}: the platform refused the shop id or password of this worker; no order was sent with them — fix the credentials and start it again`);
      throw e;
    }
    throw new RunAbortedError('PB_BATCH_NOT_SEALED', `batch ${batchId} was not queued with this shop's password (${found ? 'its seal does not match' : 'it has no seal'}): none of its orders is sent by this worker; queue it again with paybatch enqueue and the shop's credentials`);
  };
  const checkSeal = (batchId: string): Promise<void> => {
    let verdict = seals.get(batchId);
    if (!verdict) {
      if (seals.size >= 1000) seals.clear();
      verdict = verifySeal(batchId);
      seals.set(batchId, verdict);
      // A verdict stands; a failure to reach Redis or the platform is asked again by the job's next attempt.
      verdict.catch((e: unknown) => {
        if (!RunAbortedError.is(e)) seals.delete(batchId);
      });
    }
    return verdict;
  };

  const throttle = (err: LyraApiError) => {
    if (!THROTTLED.has(err.code)) return;
    const pauseMs = Math.max(250, Math.min(err.retryAfterMs ?? 1_000, 60_000));
    emit({ type: 'throttled', pauseMs });
    // Everyone: in-flight jobs wait at the shared limiter, and no worker fetches new jobs meanwhile.
    void limiter.pause(pauseMs).catch(() => {});
    void queue.rateLimit(pauseMs).catch(() => {});
  };

  const concurrency = opts.concurrency ?? 8;
  /** Jobs this worker's processor is running now. */
  const inHand = new Set<string>();
  const slots = new ClaimSlots(concurrency);
  // A claim younger than this cannot have been taken over (only a claim older than its lease can): no renew needed.
  const claimFreshMs = Math.min(1000, leaseMs / 10);

  /** How one row of a job ended in this run of it. */
  type RowEnd =
    | { kind: 'done' }
    /** Not sent and not done: another run of the job takes it (draining, throttled with requeues left, an error). */
    | { kind: 'again'; error?: unknown }
    /** The batch was stopped or aborted: the row is marked done unsent. */
    | { kind: 'stopped'; message: string };

  const sendRow = async (data: QueuedJob, row: QueuedRow, backInLine: (code: string | undefined) => boolean): Promise<RowEnd> => {
    // A stopped or aborted batch: its claims are refused (BatchStoppedError, below), in the claim's own step.
    let giveSlot: () => void;
    try {
      giveSlot = await slots.take(drain.signal);
    } catch {
      // Draining before this row got a slot: nothing claimed, back in line for another worker.
      return { kind: 'again' };
    }
    const tracked = new ClaimTracker(ledger, giveSlot, limiter, {
      set: keys.batchDone(data.batchId),
      tick: keys.batchTick(data.batchId),
      ttlSeconds: BATCH_TTL_SECONDS,
      isFinal: (o) => !(o.state === 'FAILED' && backInLine(o.errorCode)),
    }, keys.batch(data.batchId));
    let grant: string | undefined;
    const ctx: JobContext = {
      client: {
        createPaymentOrder: async (req, o) => {
          const g = grant;
          grant = undefined;
          if (g) await limiter.confirm(g);
          tracked.flushDone();
          try {
            const answer = await client.createPaymentOrder(req, o);
            // Answered: the record follows at once and carries the limiter's done, dated from now.
            tracked.pendingDone = g;
            tracked.answeredAt = performance.now();
            return answer;
          } catch (e) {
            // Another attempt may follow after a back-off: the place must not wait for it.
            if (g) void limiter.done(g).catch(() => {});
            throw e;
          }
        },
      },
      ledger: tracked,
      batchId: data.batchId,
      retryUncertain: data.retryUncertain,
      retry: opts.retry ?? DEFAULT_RETRY,
      signal: drain.signal,
      beforeAttempt: async (signal) => {
        const asked = performance.now();
        grant = tracked.takeEarly() ?? (await limiter.acquire(signal));
        if (LIMITER_WAIT_CHANNEL.hasSubscribers) LIMITER_WAIT_CHANNEL.publish({ ms: performance.now() - asked });
        // A claim taken over while this row slept (stale, and the operator allowed retries) must not POST again.
        if (tracked.token && performance.now() - tracked.claimSentAt >= claimFreshMs && !(await ledger.renew(row.orderId, tracked.token))) {
          const g = grant;
          grant = undefined;
          void limiter.cancel(g).catch(() => {});
          throw new Error(`the claim on ${row.orderId} was taken over by another worker; not sending`);
        }
      },
      onRetrySafe: throttle,
    };
    let outcome: RowOutcome;
    try {
      await checkSeal(data.batchId);
      outcome = await sendOrder(ctx, { orderId: row.orderId, request: row.request, sent: row.sent, ...(row.fingerprint ? { fingerprint: row.fingerprint } : {}) });
    } catch (e) {
      tracked.finish();
      if (e instanceof BatchStoppedError) {
        await markDone(redis, scope, data.batchId, [row.orderId]);
        return { kind: 'stopped', message: e.message };
      }
      if (RunAbortedError.is(e)) {
        await writeBatchInfo(redis, scope, { batchId: data.batchId, state: 'aborted', abortCode: e.code, abortMessage: e.message });
        await markDone(redis, scope, data.batchId, [row.orderId]);
        emit({ type: 'aborted', batchId: data.batchId, code: e.code, message: e.message });
        return { kind: 'stopped', message: e.message };
      }
      return { kind: 'again', error: e };
    }
    tracked.finish();
    // Draining and nothing sent: back in line for another worker, without spending one of the job's attempts.
    if (outcome.status === 'PENDING' && drain.signal.aborted) return { kind: 'again' };
    if (outcome.status === 'FAILED' && backInLine(outcome.errorCode)) return { kind: 'again' };
    if (!tracked.marked) await markDone(redis, scope, data.batchId, [row.orderId]);
    emit({ type: 'done', batchId: data.batchId, orderId: row.orderId, status: outcome.status });
    return { kind: 'done' };
  };

  /**
   * A job: its rows not yet done for the batch, each sent on its own (claim slot, claim, POST, record). The job ends
   * once every row has: rows that must go again stay in the job's data, so the next run of it sends only them.
   */
  const processor = async (job: Job<QueuedJob, number>, token?: string): Promise<number> => {
    inHand.add(job.id!);
    try {
      return await processJob(job, token);
    } finally {
      inHand.delete(job.id!);
    }
  };
  const processJob = async (job: Job<QueuedJob, number>, token?: string): Promise<number> => {
    const data = job.data;
    let rows = rowsOfJob(data);
    // A job run again (after a stall, a drain, a retry or a throttle) skips the rows a run of it already finished.
    if (rows.length > 1 || job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0 || data.requeues) {
      const done = await doneFlags(redis, scope, data.batchId, rows.map((r) => r.orderId));
      rows = rows.filter((_, i) => !done[i]);
    }
    const requeues = data.requeues ?? 0;
    /** A row FAILED with this code goes back in line instead of ending: throttled, with requeues left. */
    const backInLine = (code: string | undefined): boolean => !!code && THROTTLED.has(code) && requeues < MAX_THROTTLE_REQUEUES;
    const ends = await Promise.all(rows.map((row) => sendRow(data, row, backInLine).catch((error: unknown): RowEnd => ({ kind: 'again', error }))));
    const again = rows.filter((_, i) => ends[i]!.kind === 'again');
    const stopped = ends.find((e): e is Extract<RowEnd, { kind: 'stopped' }> => e.kind === 'stopped');
    if (stopped) {
      // The batch is over: what this job still holds is done unsent.
      await markDone(redis, scope, data.batchId, again.map((r) => r.orderId));
      throw new UnrecoverableError(stopped.message);
    }
    if (again.length === 0) return rows.length;
    const rest: QueuedJob = { batchId: data.batchId, retryUncertain: data.retryUncertain, rows: again, ...(data.requeues ? { requeues: data.requeues } : {}) };
    const error = ends.find((e): e is Extract<RowEnd, { kind: 'again' }> => e.kind === 'again' && e.error !== undefined)?.error;
    if (error !== undefined) {
      // An infrastructure error: BullMQ runs the job again after a back-off, with the rows it still holds.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await markDone(redis, scope, data.batchId, again.map((r) => r.orderId));
      else await job.updateData(rest);
      throw error;
    }
    if (drain.signal.aborted) {
      await job.updateData(rest);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    // Throttled rows with requeues left: back in line after a pause every worker keeps.
    await job.updateData({ ...rest, requeues: requeues + 1 });
    await queue.rateLimit(1_000);
    throw Worker.RateLimitError();
  };

  const worker = new Worker<QueuedJob, number>(queueName(scope), processor, {
    connection: redis,
    prefix: scope.prefix ?? DEFAULT_PREFIX,
    concurrency: Math.ceil(concurrency / ROWS_PER_JOB) + extraJobs(concurrency),
    lockDuration,
    stalledInterval: opts.stalledIntervalMs ?? lockDuration,
    // A fetch that failed because Redis was away is tried again this soon (BullMQ's default, 15 s, holds every job the
    // worker already fetched behind it).
    runRetryDelay: 1_000,
    maxStalledCount: 3,
    name: opts.name ?? `${hostname()}-${process.pid}`,
    settings: { backoffStrategy: (attemptsMade: number) => Math.min(1_000 * 2 ** Math.max(0, attemptsMade - 1), 30_000) },
  });
  worker.on('error', (e) => emit({ type: 'error', message: e.message }));
  // A job that stalled too often, or ran out of attempts outside the processor: the batch must not wait for it.
  worker.on('failed', (job) => {
    if (!job) return;
    const finalAttempt = job.attemptsMade >= (job.opts.attempts ?? 1) || job.finishedOn !== undefined;
    if (finalAttempt) void markDone(redis, scope, job.data.batchId, rowsOfJob(job.data).map((r) => r.orderId)).catch(() => {});
  });
  await worker.waitUntilReady();
  const orphans = releaseOrphansAfterReconnect(redis, queue, worker, inHand);

  return {
    worker,
    scope,
    close: async ({ force = false } = {}) => {
      orphans.stop();
      drain.abort(new Error('worker draining'));
      await worker.close(force);
      await queue.close();
    },
  };
}

/** How long after Redis comes back the worker looks for jobs it holds without knowing (ms). */
const ORPHAN_SWEEP_DELAY_MS = 3_000;

/**
 * A fetch whose answer was lost with Redis leaves a job locked by this worker but never received. Once Redis is back
 * such jobs are requeued at once; should one still start here, the ledger's claims prevent a second send.
 */
function releaseOrphansAfterReconnect(redis: Redis, queue: Queue<QueuedJob, number>, worker: Worker<QueuedJob, number>, inHand: ReadonlySet<string>): { stop(): void } {
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  const sweep = async (): Promise<void> => {
    const lockPrefix = `${worker.id}:`;
    for (const job of await queue.getActive(0, -1)) {
      if (!job?.id || inHand.has(job.id)) continue;
      const lock = await redis.get(queue.toKey(`${job.id}:lock`));
      if (lock?.startsWith(lockPrefix) && !inHand.has(job.id)) await job.moveToWait(lock).catch(() => undefined);
    }
  };
  const onClose = (): void => {
    lost = true;
  };
  const onReady = (): void => {
    if (!lost) return;
    lost = false;
    clearTimeout(timer);
    timer = setTimeout(() => void sweep().catch(() => undefined), ORPHAN_SWEEP_DELAY_MS);
  };
  redis.on('close', onClose);
  redis.on('ready', onReady);
  return {
    stop: () => {
      clearTimeout(timer);
      redis.off('close', onClose);
      redis.off('ready', onReady);
    },
  };
}
