import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { PaybatchError } from '../../errors/paybatch-error.js';
import { orderFingerprint } from '../../ledger/fingerprint.js';
import type { JudgedRow } from '../../orders/types.js';
import { RunAbortedError } from '../errors.js';
import { runHandle, type Run, type RunItem, type RunResult } from '../run.js';
import { sendOrder, type JobContext, type OrderToSend } from '../job.js';
import type { RowOutcome } from '../outcome.js';
import { createRateLimiter } from '../rate-limit.js';

export interface EmbeddedRunOptions {
  /** The judged rows, in input order (read lazily: at most `window` rows ahead of the oldest unfinished one). */
  rows: AsyncIterable<JudgedRow>;
  /** The job's context; runEmbedded supplies `beforeAttempt` (its rate limiter) and its own stop signal. */
  ctx: Omit<JobContext, 'beforeAttempt'>;
  /** Requests in flight at most. */
  concurrency: number;
  /** Request starts per sliding second at most (--rate). No limit when absent. */
  perSecond?: number;
  /** Trip after this many consecutive technical failures (outcome unknown, retry-safe exhausted). */
  breaker?: { failures: number };
  /** SIGINT and friends: stop starting, let in-flight requests finish, report every row. */
  signal?: AbortSignal;
  /** Rows read ahead of the oldest unfinished one. Default max(64, 8 × concurrency). */
  window?: number;
}

/**
 * Pause on PSP_106 without a Retry-After. A request's limiter place counts from its answer (the platform counts
 * arrivals), uncapped, so no sliding second there sees more than --rate even on a loaded machine.
 */
const DEFAULT_THROTTLE_PAUSE_MS = 1000;

/**
 * The embedded engine: p-limit, a sliding-window limiter, the one job per row, a reorder buffer (input order, flat
 * memory). On a stop nothing new starts, in-flight sends are recorded, and every row is still yielded.
 */
export function runEmbedded(opts: EmbeddedRunOptions): Run {
  return runHandle('runEmbedded', (settle, fail) => iterate(opts, settle, fail));
}

async function* iterate(opts: EmbeddedRunOptions, settle: (r: RunResult) => void, fail: (e: unknown) => void): AsyncGenerator<RunItem, RunResult> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const window = Math.max(1, opts.window ?? Math.max(64, concurrency * 8));
  const limit = pLimit(concurrency);
  const limiter = opts.perSecond ? createRateLimiter({ perSecond: opts.perSecond, holdCapMs: Number.POSITIVE_INFINITY }) : undefined;
  const stop = new AbortController();
  // Every waiting row listens on it (limiter, backoff): as many listeners as rows in flight is expected.
  setMaxListeners(0, stop.signal);
  let aborted: RunResult['aborted'];
  const abort = (code: string, message: string): void => {
    if (aborted) return;
    aborted = { code, message };
    stop.abort(new RunAbortedError(code, message));
  };
  const onSignal = (): void => abort('PB_INTERRUPTED_RUN', 'stopped by a signal: requests in flight were finished and recorded, the rest was not sent');
  const outer = [opts.signal, opts.ctx.signal].filter((s): s is AbortSignal => !!s);
  for (const s of outer) {
    if (s.aborted) onSignal();
    else s.addEventListener('abort', onSignal, { once: true });
  }

  const ctx: JobContext = {
    ...opts.ctx,
    signal: stop.signal,
    ...(limiter ? { beforeAttempt: (signal?: AbortSignal) => limiter.begin(signal) } : {}),
    onRetrySafe: (err) => {
      opts.ctx.onRetrySafe?.(err);
      if (err.retryAfterMs !== undefined) limiter?.pause(err.retryAfterMs);
      else if (err.code === 'PSP_106') limiter?.pause(DEFAULT_THROTTLE_PAUSE_MS);
    },
  };

  let technicalInARow = 0;
  const notSent = (): RowOutcome => ({
    status: 'PENDING',
    attempts: 0,
    errorCode: 'PB_NOT_SENT',
    errorMessage: `not sent: the run stopped (${aborted?.code ?? 'stopped'}); run again to send it`,
  });

  const send = async (row: JudgedRow, freeSlot?: () => void): Promise<RowOutcome> => {
    if (!row.judgement.ok) throw new Error('unreachable');
    const d = row.judgement.order;
    const order: OrderToSend = {
      orderId: d.orderId,
      request: d.request,
      sent: { amountMinor: d.amountMinor, currency: d.currency, channel: d.channel, recipient: d.recipient, ...(d.expirationDate ? { expirationDate: d.expirationDate } : {}) },
      fingerprint: orderFingerprint(d),
      ...(d.expiresFromDefault ? { expiresFromDefault: true } : {}),
    };
    if (stop.signal.aborted) return notSent();
    let counted = false;
    const count = (o: RowOutcome): void => {
      if (counted) return;
      counted = true;
      if (o.technical) {
        technicalInARow++;
        if (opts.breaker && technicalInARow >= opts.breaker.failures) {
          abort('PB_CIRCUIT_OPEN', `${technicalInARow} technical failures in a row (last: ${o.errorCode}): the run stopped so the platform is not hammered; run again later`);
        }
      } else if (o.status === 'CREATED' || o.status === 'FAILED') {
        if (!o.earlier) technicalInARow = 0;
      }
    };
    // Counted before the slot frees: the breaker must trip before the next row can start.
    const onRecordQueued = freeSlot
      ? (o: RowOutcome): void => {
          count(o);
          freeSlot();
        }
      : undefined;
    let outcome: RowOutcome;
    try {
      outcome = await sendOrder(onRecordQueued ? { ...ctx, onRecordQueued } : ctx, order);
    } catch (e) {
      if (RunAbortedError.is(e)) {
        abort(e.code, e.message);
        return e.outcome ?? notSent();
      }
      // The ledger failed before the POST (claim): nothing left for this row.
      abort(PaybatchError.is(e) ? e.code : 'PB_LEDGER', `the run stopped: ${(e as Error).message ?? String(e)}`);
      return notSent();
    }
    if (outcome.status === 'PENDING') return { ...outcome, errorMessage: notSent().errorMessage };
    count(outcome);
    return outcome;
  };

  const start = (row: JudgedRow): Promise<RowOutcome> => {
    if (!row.judgement.ok) {
      const p = row.judgement.problem;
      return Promise.resolve({ status: 'INVALID', attempts: 0, errorCode: p.code, errorMessage: p.message });
    }
    if (stop.signal.aborted) return Promise.resolve(notSent());
    return answeredByLedger(row)
      .catch(() => false) // a ledger failure surfaces in the job, which stops the run
      .then((known) => (known ? send(row) : limited(row)));
  };

  /**
   * A slot is held from claim until the outcome is queued, not durable, so the next claim shares its fsync (after
   * kill -9 at most one row per slot reads unanswered). The row's promise still waits for durability.
   */
  const limited = (row: JudgedRow): Promise<RowOutcome> =>
    new Promise<RowOutcome>((resolve, reject) => {
      void limit(
        () =>
          new Promise<void>((free) => {
            const p = send(row, free);
            p.then(resolve, reject);
            p.then(() => free(), () => free());
          }),
      );
    });

  /**
   * A row the ledger will refuse skips the concurrency queue, so a re-run of a big file is not paced by the few rows
   * really sent. Only a shortcut: the claim inside the job stays the authority.
   */
  const answeredByLedger = async (row: JudgedRow): Promise<boolean> => {
    if (!row.judgement.ok) return false;
    const e = await opts.ctx.ledger.get(row.judgement.order.orderId);
    if (!e) return false;
    if (e.state === 'CREATED') return true;
    return e.state === 'UNCERTAIN' && !opts.ctx.retryUncertain && row.judgement.order.channel !== 'INVOICE';
  };

  const buffer: { row: JudgedRow; outcome: Promise<RowOutcome> }[] = [];
  const it = opts.rows[Symbol.asyncIterator]();
  let inputDone = false;
  let clean = false;
  try {
    for (;;) {
      while (!inputDone && buffer.length < window) {
        const next = await it.next();
        if (next.done) {
          inputDone = true;
          break;
        }
        const slot = { row: next.value, outcome: start(next.value) };
        // Settled later, in order; a rejection here would be a bug in send(), surfaced when yielded.
        slot.outcome.catch(() => undefined);
        buffer.push(slot);
      }
      const head = buffer.shift();
      if (!head) break;
      yield { row: head.row, outcome: await head.outcome };
    }
    clean = true;
  } catch (e) {
    fail(e);
    throw e;
  } finally {
    for (const s of outer) s.removeEventListener('abort', onSignal);
    if (!clean) {
      // The consumer stopped early or something threw: nothing new starts; what is in flight gets recorded.
      abort('PB_STOPPED', 'the run was stopped before every row was handled');
      await Promise.allSettled(buffer.map((b) => b.outcome));
      if (!inputDone) await it.return?.();
      settle(aborted ? { aborted } : {});
    }
  }
  const res: RunResult = aborted ? { aborted } : {};
  settle(res);
  return res;
}
