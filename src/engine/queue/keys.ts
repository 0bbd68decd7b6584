import { createHash } from 'node:crypto';
import type { Mode } from '../../lyra/types.js';

/** Default key prefix of everything paybatch keeps in Redis (BullMQ's queue keys included). */
export const DEFAULT_PREFIX = 'paybatch';

/** Where one shop+mode queue lives: BullMQ's queue name, and our keys beside it. */
export interface QueueScope {
  shopId: string;
  mode: Mode;
  /** Key prefix; default `paybatch`. */
  prefix?: string;
}

/** One queue per shop and mode: the credentials and the rate belong to it, whatever machine a worker runs on. */
export function queueName(scope: QueueScope): string {
  return `send-${scope.shopId}-${scope.mode}`;
}

export function queueKeys(scope: QueueScope) {
  const base = `${scope.prefix ?? DEFAULT_PREFIX}:${queueName(scope)}:pb`;
  return {
    /** Hash: `rate` (per second), set by run/enqueue, read by every worker at every request. */
    settings: `${base}:settings`,
    /** The shared limiter's sliding window (sorted set of start times) and its pause key. */
    limiter: { window: `${base}:limiter:window`, pause: `${base}:limiter:pause`, settings: `${base}:settings` },
    /** Hash of one batch: how it was judged, counts, state. */
    batch: (batchId: string) => `${base}:batch:${batchId}`,
    /** Set of the batch's orderIds whose job has ended (a worker finished it, or it failed for good). */
    batchDone: (batchId: string) => `${base}:batch:${batchId}:done`,
    /** Hash orderId → outcome (JSON) of the batch's rows held back by its producer (outside their send window). */
    batchHeld: (batchId: string) => `${base}:batch:${batchId}:held`,
    /** A list of at most one element, pushed whenever rows are marked done: what a waiting `run` blocks on. */
    batchTick: (batchId: string) => `${base}:batch:${batchId}:tick`,
  };
}

/**
 * The job id: the idempotency key (shop, mode, orderId) hashed, scoped by batch so a re-run is never swallowed by a
 * finished job BullMQ still keeps, and a batch enqueued twice adds nothing. Across batches, the ledger guards.
 */
export function jobId(scope: QueueScope, batchId: string, orderId: string): string {
  const key = createHash('sha256').update(`${scope.shopId}\u0000${scope.mode}\u0000${orderId}`).digest('hex').slice(0, 40);
  return `${batchId}.${key}`;
}
