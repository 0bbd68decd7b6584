import type { Redis } from 'ioredis';
import type { Queue } from './bullmq.js';
import type { SentSummary } from '../../ledger/ledger.js';
import type { RedisLedger } from '../../ledger/redis/redis-ledger.js';
import { RedisScript } from '../../ledger/redis/redis-script.js';
import type { Mode, PaymentOrderRequest } from '../../lyra/types.js';
import { outcomeFromEntry } from '../from-ledger.js';
import type { RowOutcome } from '../outcome.js';
import { queueKeys, type QueueScope } from './keys.js';

/** One row as a job carries it: what sending needs, nothing more (no credentials; the recipient because the POST needs it). */
export interface QueuedRow {
  orderId: string;
  request: PaymentOrderRequest;
  sent: SentSummary;
  /**
   * The row's fingerprint (orderFingerprint: without an expiry computed from --expires-in), so the worker claims with
   * the one the run reports against. Rows queued before it existed have none: the worker then hashes the request.
   */
  fingerprint?: string;
}

/**
 * A few consecutive rows of one batch: BullMQ's bookkeeping is paid once per job, each row still claims, sends and
 * records on its own. A job run again (stall, drain, retry, throttle) sends only its rows not yet done.
 */
export interface QueuedJob {
  batchId: string;
  retryUncertain: boolean;
  rows: QueuedRow[];
  /** How many times throttled rows of this job went back in line. */
  requeues?: number;
}

/** Rows per job at most: BullMQ's bookkeeping is paid once per job, and a worker still holds few rows beyond its slots. */
export const ROWS_PER_JOB = 10;

/** A job as earlier versions queued it: one row per job. */
type OneRowJob = QueuedRow & { batchId: string; retryUncertain: boolean; requeues?: number };

/** The rows of a job, whichever version queued it. */
export function rowsOfJob(data: QueuedJob | OneRowJob): QueuedRow[] {
  if ('rows' in data) return data.rows;
  const { batchId: _b, retryUncertain: _r, requeues: _q, ...row } = data;
  return [row];
}

/** A valid row of a run, on its way to a job. */
export type QueuedOrder = QueuedRow & { batchId: string; retryUncertain: boolean };

export type BatchState = 'enqueuing' | 'enqueued' | 'aborted' | 'stopped';

/** A batch as kept in Redis (hash `…:batch:{id}`), so `report` on any machine can rebuild the report. */
export interface BatchInfo {
  batchId: string;
  shopId: string;
  mode: Mode;
  createdAt: string;
  state: BatchState;
  retryUncertain: boolean;
  /** Rows read, valid rows (jobs or already settled), invalid rows; final once state is `enqueued`. */
  rows: number;
  valid: number;
  invalid: number;
  /** Opaque to the engine: how the CLI judged the file (file path + options), to judge it again for the report. */
  source?: unknown;
  /** The batch's seal (lyra/batch-seal.ts): workers send its jobs only if their own password gives the same. */
  seal?: string;
  /** Why the batch stopped (auth failure …), as a one-line message. */
  abortCode?: string;
  abortMessage?: string;
}

/** Batches are kept 30 days: long enough for a late `paybatch report`, short enough not to pile up. */
export const BATCH_TTL_SECONDS = 30 * 24 * 3600;

export async function writeBatchInfo(redis: Redis, scope: QueueScope, info: Partial<BatchInfo> & { batchId: string }): Promise<void> {
  const k = queueKeys(scope);
  const fields: Record<string, string> = {};
  for (const [key, v] of Object.entries(info)) if (v !== undefined) fields[key] = JSON.stringify(v);
  await redis.multi().hset(k.batch(info.batchId), fields).expire(k.batch(info.batchId), BATCH_TTL_SECONDS).exec();
}

export async function readBatchInfo(redis: Redis, scope: QueueScope, batchId: string): Promise<BatchInfo | undefined> {
  const raw = await redis.hgetall(queueKeys(scope).batch(batchId));
  if (!raw.batchId) return undefined;
  return Object.fromEntries(Object.entries(raw).map(([key, v]) => [key, JSON.parse(v)])) as unknown as BatchInfo;
}

/** Only the batch's state, for the check every job makes before it sends (one field, not the whole hash). */
export async function readBatchState(redis: Redis, scope: QueueScope, batchId: string): Promise<BatchState | undefined> {
  const raw = await redis.hget(queueKeys(scope).batch(batchId), 'state');
  return raw ? (JSON.parse(raw) as BatchState) : undefined;
}

/** Only the batch's seal, read once per batch by each worker. */
export async function readBatchSeal(redis: Redis, scope: QueueScope, batchId: string): Promise<string | undefined> {
  const raw = await redis.hget(queueKeys(scope).batch(batchId), 'seal');
  return raw ? (JSON.parse(raw) as string) : undefined;
}

/** The done set and the tick in one command (scripts/mark-done.lua). */
const MARK_DONE = RedisScript.load(new URL('./scripts/mark-done.lua', import.meta.url));

/** Marks orders of a batch as finished with (a worker ended their job, or they needed no job). Idempotent. */
export async function markDone(redis: Redis, scope: QueueScope, batchId: string, orderIds: string[]): Promise<void> {
  const k = queueKeys(scope);
  const keys = [k.batchDone(batchId), k.batchTick(batchId)];
  // Lua's unpack takes a few thousand values at most: chunks of 1000.
  for (let i = 0; i < orderIds.length; i += 1000) await MARK_DONE.run(redis, keys, [BATCH_TTL_SECONDS, ...orderIds.slice(i, i + 1000)]);
}

/**
 * Rows of this batch in jobs a worker has taken (active) and not finished: a stopped worker's among them until its
 * jobs' lock lapses.
 */
/** For each orderId, whether it is marked done for the batch (same positions). */
export async function doneFlags(redis: Redis, scope: QueueScope, batchId: string, orderIds: string[]): Promise<boolean[]> {
  if (orderIds.length === 0) return [];
  const done = (await redis.smismember(queueKeys(scope).batchDone(batchId), ...orderIds)) as number[];
  return done.map((d) => d === 1);
}

export async function countTakenNotDone(redis: Redis, scope: QueueScope, queue: Queue<QueuedJob, number>, batchId: string): Promise<number> {
  const ids = (await queue.getActive(0, 999)).filter((j) => j?.data?.batchId === batchId).flatMap((j) => rowsOfJob(j.data).map((r) => r.orderId));
  return (await doneFlags(redis, scope, batchId, ids)).filter((d) => !d).length;
}

/**
 * Rows of a batch its producer held back (outside their send window): no job, marked done, and their outcome kept
 * with the batch, so the run, `paybatch report` and anyone following the batch report them alike. Idempotent.
 */
export async function markHeld(redis: Redis, scope: QueueScope, batchId: string, held: { orderId: string; outcome: RowOutcome }[]): Promise<void> {
  if (held.length === 0) return;
  const key = queueKeys(scope).batchHeld(batchId);
  await redis.multi().hset(key, Object.fromEntries(held.map((h) => [h.orderId, JSON.stringify(h.outcome)]))).expire(key, BATCH_TTL_SECONDS).exec();
  await markDone(redis, scope, batchId, held.map((h) => h.orderId));
}

export async function countDone(redis: Redis, scope: QueueScope, batchId: string): Promise<number> {
  return redis.scard(queueKeys(scope).batchDone(batchId));
}

/** One valid row waiting for its outcome. */
export interface PendingOrder {
  orderId: string;
  fingerprint: string;
  sent: SentSummary;
  /** The expiry comes from --expires-in (see RowToCompare). */
  expiresFromDefault?: boolean;
}

/**
 * Reads outcomes of a batch. A row is settled when its job ended and no claim on it is live: a stalled job run twice
 * ends refused while the first run's POST is still in the air, so the ledger, not the job, is the truth.
 */
export class BatchReader {
  constructor(
    private readonly redis: Redis,
    private readonly scope: QueueScope,
    private readonly batchId: string,
    private readonly ledger: RedisLedger,
    private readonly now: () => number = Date.now,
    /** Whether rows of the batch may have been held back (markHeld): a producer that held none skips the lookup. */
    private readonly mayHold = true,
  ) {}

  /** Outcomes of the orders that are settled (same positions; undefined = not yet). */
  async settled(orders: PendingOrder[]): Promise<(RowOutcome | undefined)[]> {
    if (orders.length === 0) return [];
    const ids = orders.map((o) => o.orderId);
    const done = await doneFlags(this.redis, this.scope, this.batchId, ids);
    const which = orders.filter((_, i) => done[i]);
    const found = new Map<string, RowOutcome>();
    if (which.length > 0) {
      const wids = which.map((o) => o.orderId);
      const [entries, claims, held] = await Promise.all([this.ledger.getMany(wids), this.ledger.claims(wids), this.held(wids)]);
      const now = this.now();
      which.forEach((o, i) => {
        const hold = held[i];
        if (hold) return void found.set(o.orderId, hold);
        const entry = entries[i];
        const claim = claims[i];
        if (entry?.state === 'SENDING' && claim && claim.until > now) return;
        found.set(o.orderId, this.outcome(o, entry));
      });
    }
    return orders.map((o) => found.get(o.orderId));
  }

  /** What the ledger says now, settled or not (for a stopped batch). */
  async current(orders: PendingOrder[]): Promise<RowOutcome[]> {
    const ids = orders.map((o) => o.orderId);
    const [entries, held] = await Promise.all([this.ledger.getMany(ids), this.held(ids)]);
    return orders.map((o, i) => held[i] ?? this.outcome(o, entries[i]));
  }

  private async held(ids: string[]): Promise<(RowOutcome | undefined)[]> {
    if (!this.mayHold || ids.length === 0) return [];
    const raw = await this.redis.hmget(queueKeys(this.scope).batchHeld(this.batchId), ...ids);
    return raw.map((v) => (v ? (JSON.parse(v) as RowOutcome) : undefined));
  }

  private outcome(o: PendingOrder, entry: Awaited<ReturnType<RedisLedger['get']>>): RowOutcome {
    if (!entry) return { status: 'PENDING', attempts: 0, errorCode: 'PB_NOT_SENT', errorMessage: 'not sent: the batch stopped before this row; run the file again to send it' };
    return outcomeFromEntry(entry, { fingerprint: o.fingerprint, batchId: this.batchId, sent: o.sent, ...(o.expiresFromDefault ? { expiresFromDefault: true } : {}) });
  }

  async info(): Promise<BatchInfo | undefined> {
    return readBatchInfo(this.redis, this.scope, this.batchId);
  }

  async state(): Promise<BatchState | undefined> {
    return readBatchState(this.redis, this.scope, this.batchId);
  }
}
