import { setTimeout as delay } from 'node:timers/promises';
import { fingerprint } from '../ledger/fingerprint.js';
import type { ClaimingLedger, LedgerEntry, Outcome, SentSummary } from '../ledger/ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import type { PaymentOrder, PaymentOrderRequest } from '../lyra/types.js';
import { RunAbortedError } from './errors.js';
import { INVOICE_EXISTS_CODE, outcomeFromEntry, RETRY_UNCERTAIN_HINT, type RowToCompare } from './from-ledger.js';
import type { RowOutcome } from './outcome.js';

export interface OrderToSend {
  orderId: string;
  request: PaymentOrderRequest;
  sent: SentSummary;
  /** The row's fingerprint when it is not simply the request's (see orderFingerprint). */
  fingerprint?: string;
  /** The expiry comes from --expires-in (see RowToCompare). */
  expiresFromDefault?: boolean;
}

export interface RetryPolicy {
  /** POSTs per row in this run, the first included. */
  maxAttempts: number;
  /** Backoff: attempt k waits a random time in [0, min(maxDelayMs, baseDelayMs·2^(k-1))] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The one retry policy for a request that provably created nothing (so a row's fate does not depend on the engine):
 * half a second doubling to ten rides out a throttling platform; a Retry-After decides instead.
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 10_000 };

export interface JobContext {
  client: { createPaymentOrder(req: PaymentOrderRequest, opts?: { signal?: AbortSignal }): Promise<PaymentOrder> };
  ledger: ClaimingLedger;
  /** This run: recorded on every claim, tells "created now" from "created by an earlier run". */
  batchId: string;
  /** The operator's --retry-uncertain. */
  retryUncertain: boolean;
  retry: RetryPolicy;
  /**
   * Waited before every POST (the rate limiter); may reject when `signal` aborts. If it resolves to a function,
   * that function is called when the POST settles (the embedded limiter measures its window from there).
   */
  beforeAttempt?: (signal?: AbortSignal) => Promise<unknown>;
  /** Told of every retry-safe error (e.g. to pause the shared limiter on PSP_106 / Retry-After). */
  onRetrySafe?: (err: LyraApiError) => void;
  /** Stop: no new POST starts; a POST in flight finishes and is recorded. */
  signal?: AbortSignal;
  /**
   * Called once the outcome is queued in the ledger ahead of any later claim, before it is durable: the embedded engine
   * frees the slot there so the next claim shares the fsync. sendOrder still resolves only once durable.
   */
  onRecordQueued?: (outcome: RowOutcome) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** INVOICE orders refuse a reused reference: these answers mean "an order with this reference exists". */
const REFERENCE_EXISTS: ReadonlySet<string> = new Set(['PSP_1036', 'PSP_1045', 'PSP_1046']);
export { INVOICE_EXISTS_CODE };

/** Retry-After is honoured, but a hint beyond this many times maxDelayMs is cut (a run should not sleep for an hour). */
const RETRY_AFTER_CAP_FACTOR = 10;

/**
 * THE job: one row → Lyra → ledger, the same for both engines.
 * 1. Claim: SENDING is durable before the POST leaves; a refused claim (CREATED, UNCERTAIN) is answered from the entry.
 * 2. Wait for the limiter, POST. Only retry-safe errors are retried (backoff, Retry-After); permanent or exhausted →
 *    FAILED; unknown (timeout after the body left, reset, 5xx) → UNCERTAIN, re-sent only with --retry-uncertain.
 * 3. INVOICE: the platform refuses a reused reference, so an unknown outcome is retried (now or by a later run), and
 *    "reference exists" then means an attempt created it: UNCERTAIN `PB_INVOICE_EXISTS`, never re-sent.
 * 4. Auth failure or abort before the POST releases the claim (RunAbortedError(PB_AUTH) / PENDING); a POST in flight
 *    is never cancelled. Ledger errors propagate, or become RunAbortedError(PB_LEDGER_WRITE) after the POST.
 */
export async function sendOrder(ctx: JobContext, order: OrderToSend): Promise<RowOutcome> {
  const fp = order.fingerprint ?? fingerprint(order.request);
  const rowRef: RowToCompare = { fingerprint: fp, batchId: ctx.batchId, sent: order.sent, ...(order.expiresFromDefault ? { expiresFromDefault: true } : {}) };
  const invoice = order.request.channelOptions?.channelType === 'INVOICE';
  // Only INVOICE needs a look first: its UNCERTAIN rows are re-sent without the operator's flag (see 4.).
  const existing = invoice && !ctx.retryUncertain ? await ctx.ledger.get(order.orderId) : undefined;
  const retryUncertain = ctx.retryUncertain || (existing?.state === 'UNCERTAIN' && existing.errorCode !== INVOICE_EXISTS_CODE);

  const claim = await ctx.ledger.claim(order.orderId, { fingerprint: fp, sent: order.sent, batchId: ctx.batchId, retryUncertain });
  if (claim.kind === 'refused') return outcomeFromEntry(claim.entry, rowRef);
  const { token } = claim;
  const before = claim.previous?.attempts ?? 0;
  const sleep = ctx.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }));
  const random = ctx.random ?? Math.random;

  let attempts = 0;
  /** Set once an attempt ended without a definite answer: from then on the order may exist. */
  let unknown: LyraApiError | undefined;
  /** An INVOICE row re-sent because an earlier run left it UNCERTAIN: the order may exist from the start. */
  const priorUnknown = invoice && claim.previous?.state === 'UNCERTAIN' ? claim.previous : undefined;

  const finish = async (outcome: Outcome, row: RowOutcome): Promise<RowOutcome> => {
    let ok: boolean;
    try {
      const queued = ctx.onRecordQueued;
      ok = await ctx.ledger.record(order.orderId, token, outcome, queued && (() => queued(row)));
    } catch (e) {
      throw new RunAbortedError('PB_LEDGER_WRITE', `the ledger could not record ${order.orderId}: ${(e as Error).message}`, {
        outcome: { ...row, note: joinNote(row.note, 'not recorded in the ledger (it will read as UNCERTAIN): keep this report') },
        cause: e,
      });
    }
    if (!ok) return { ...row, note: joinNote(row.note, 'the ledger no longer held this claim; the outcome was not recorded') };
    return row;
  };
  const uncertain = (err: LyraApiError, code = err.code, message = `${rawMessage(err)}; ${RETRY_UNCERTAIN_HINT}`): Promise<RowOutcome> => {
    const detailed = err.detailedCode ?? undefined;
    return finish(
      { state: 'UNCERTAIN', attempts, errorCode: code, errorMessage: message, ...(detailed ? { detailedErrorCode: detailed } : {}) },
      { status: 'UNCERTAIN', attempts: before + attempts, errorCode: code, errorMessage: message, ...(detailed ? { detailedErrorCode: detailed } : {}), technical: true },
    );
  };
  const failed = (err: LyraApiError, technical: boolean): Promise<RowOutcome> => {
    const detailed = err.detailedCode ?? undefined;
    const message = rawMessage(err);
    return finish(
      { state: 'FAILED', attempts, errorCode: err.code, errorMessage: message, ...(detailed ? { detailedErrorCode: detailed } : {}) },
      { status: 'FAILED', attempts: before + attempts, errorCode: err.code, errorMessage: message, ...(detailed ? { detailedErrorCode: detailed } : {}), ...(technical ? { technical: true } : {}) },
    );
  };
  /** Stop before a POST: nothing left if nothing is unknown, so the row goes back to what it was. */
  const stopBeforePost = async (): Promise<RowOutcome> => {
    if (unknown) return uncertain(unknown);
    await ctx.ledger.release(order.orderId, token);
    return pending(claim.previous);
  };
  const backoff = async (err: LyraApiError | undefined): Promise<boolean> => {
    const cap = Math.min(ctx.retry.maxDelayMs, ctx.retry.baseDelayMs * 2 ** (attempts - 1));
    let wait = random() * cap;
    if (err?.retryAfterMs !== undefined) wait = Math.max(wait, Math.min(err.retryAfterMs, ctx.retry.maxDelayMs * RETRY_AFTER_CAP_FACTOR));
    try {
      await sleep(wait, ctx.signal);
      return true;
    } catch (e) {
      if (ctx.signal?.aborted) return false;
      throw e;
    }
  };

  for (;;) {
    if (ctx.signal?.aborted) return stopBeforePost();
    // The limiter is waited right before the POST (not before the claim): a claim's fsync between the two would
    // let POSTs bunch up beyond the rate. The cost: after kill -9, rows claimed while waiting read as UNCERTAIN
    // (at most `concurrency` of them); a clean stop (SIGINT) releases them.
    let attemptEnded: unknown;
    try {
      attemptEnded = await ctx.beforeAttempt?.(ctx.signal);
    } catch (e) {
      if (ctx.signal?.aborted) return stopBeforePost();
      throw e;
    }
    attempts++;
    let po: PaymentOrder;
    try {
      // No signal: a POST that left is let finish, so its answer is recorded.
      try {
        po = await ctx.client.createPaymentOrder(order.request);
      } finally {
        if (typeof attemptEnded === 'function') (attemptEnded as () => void)();
      }
    } catch (e) {
      const err = LyraApiError.is(e) ? e : unexpected(e);
      if (err.isAuthFailure) {
        // Provably nothing created by this attempt: the claim goes back, unless an earlier attempt of this row is unknown.
        const known = unknown ? await uncertain(unknown) : undefined;
        if (!unknown) await ctx.ledger.release(order.orderId, token);
        throw new RunAbortedError(
          'PB_AUTH',
          `${err.code}: the platform refused the shop id or password (${rawMessage(err)}); no order was sent with them — fix the credentials and run again`,
          known ? { outcome: known } : {},
        );
      }
      if ((unknown || priorUnknown) && invoice && err.kind === 'permanent' && REFERENCE_EXISTS.has(err.code)) {
        const first = unknown ? `the first attempt got no answer (${unknown.code})` : `an earlier run got no answer (${priorUnknown!.errorCode ?? 'unknown'})`;
        return uncertain(
          err,
          INVOICE_EXISTS_CODE,
          `the order exists but its id was lost: ${first} and the retry was refused with ${err.code} (reference already used); find the order by its reference ${order.orderId} in the Back Office`,
        );
      }
      const retryable = err.kind === 'retry-safe' || (invoice && err.kind === 'unknown');
      if (err.kind === 'retry-safe') ctx.onRetrySafe?.(err);
      if (err.kind === 'unknown') unknown = err;
      if (retryable && attempts < ctx.retry.maxAttempts) {
        if (await backoff(err)) continue;
        return stopBeforePost();
      }
      if (unknown) return uncertain(err.kind === 'unknown' ? err : unknown);
      if (priorUnknown && err.kind === 'retry-safe') {
        // Nothing settled: the earlier run's UNCERTAIN stands (release restores it), a later run tries again.
        await ctx.ledger.release(order.orderId, token);
        return {
          status: 'UNCERTAIN',
          attempts: priorUnknown.attempts,
          errorCode: priorUnknown.errorCode ?? err.code,
          errorMessage: `re-sent to settle an earlier unanswered attempt, but every attempt got ${err.code} (${rawMessage(err)}); still uncertain — a later run tries again`,
          technical: true,
        };
      }
      return failed(err, err.kind === 'retry-safe');
    }
    return finish(
      { state: 'CREATED', attempts, paymentOrderId: po.paymentOrderId, paymentURL: po.paymentURL, paymentOrderStatus: po.paymentOrderStatus },
      { status: 'CREATED', attempts: before + attempts, paymentOrderId: po.paymentOrderId, paymentURL: po.paymentURL, paymentOrderStatus: po.paymentOrderStatus },
    );
  }
}

function pending(entry: LedgerEntry | undefined): RowOutcome {
  return { status: 'PENDING', attempts: entry?.attempts ?? 0, errorCode: 'PB_NOT_SENT', errorMessage: 'not sent: the run stopped before this row; run again to send it' };
}

/** The platform's own message, without the "service: CODE " prefix LyraApiError adds. */
function rawMessage(err: LyraApiError): string {
  const prefix = `${err.service}: ${err.code} `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function unexpected(e: unknown): LyraApiError {
  // Not the client's typed error: a bug somewhere after the request may have left. Treat the outcome as unknown.
  return new LyraApiError({ code: 'PB_UNEXPECTED', message: `unexpected error: ${(e as Error)?.message ?? String(e)}`, kind: 'unknown', service: 'Charge/CreatePaymentOrder' });
}

function joinNote(a: string | undefined, b: string): string {
  return a ? `${a}; ${b}` : b;
}
