import { DEFAULT_RETRY } from '../engine/job.js';
import pLimit from 'p-limit';
import { LyraApiError } from '../lyra/errors.js';

/** The shape of src/engine/rate-limit.ts `createRateLimiter`: one token per API call, shared by every task. */
export interface CallLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
  /** The platform asked us to slow down (PSP_106, Retry-After): nobody calls for `ms`. */
  pause(ms: number): void;
}

export interface BulkOptions {
  /** Calls in flight at once. */
  concurrency: number;
  limiter: CallLimiter;
  /** Attempts per item for errors `retryable` accepts. Default DEFAULT_RETRY's. */
  maxAttempts?: number;
  /** Which failures may be tried again as is. Default: LyraApiError of kind retry-safe. */
  retryable?: (e: unknown) => boolean;
  /** Wait before attempt n+1 (n ≥ 1) when the error gives no Retry-After. Default DEFAULT_RETRY's: 500 ms · 2^(n-1), max 10 s. */
  backoffMs?: (attempt: number) => number;
  /** Aborting stops starting new items; the ones not started end as `skipped`. */
  signal?: AbortSignal;
  /** Called as each item ends, in completion order (progress, per-row logging). */
  onDone?: (index: number, result: BulkResult<unknown>) => void;
}

export type BulkResult<R> =
  | { kind: 'done'; value: R; attempts: number }
  | { kind: 'failed'; error: unknown; attempts: number }
  /** Not attempted: the run was aborted (signal, or an auth failure that stops everything). */
  | { kind: 'skipped'; reason: 'aborted' | 'auth-failure' };

export interface BulkSummary<R> {
  results: BulkResult<R>[];
  /** The first auth failure: the whole run stopped on it (exit 3). */
  authFailure?: LyraApiError;
  aborted: boolean;
}

const defaultRetryable = (e: unknown): boolean => LyraApiError.is(e) && e.kind === 'retry-safe';
// The sending engines' policy (DEFAULT_RETRY), without jitter: follow-up calls are few and already rate-limited.
const defaultBackoff = (n: number): number => Math.min(DEFAULT_RETRY.baseDelayMs * 2 ** (n - 1), DEFAULT_RETRY.maxDelayMs);

/**
 * Runs `work` over every item, at most `concurrency` at once, behind the shared limiter, retrying retry-safe failures.
 * An auth failure (INT_905 / 401) stops the run: every further call would fail too and could lock the account.
 */
export async function runBulk<T, R>(items: readonly T[], work: (item: T, attempt: number) => Promise<R>, opts: BulkOptions): Promise<BulkSummary<R>> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_RETRY.maxAttempts);
  const retryable = opts.retryable ?? defaultRetryable;
  const backoff = opts.backoffMs ?? defaultBackoff;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  let authFailure: LyraApiError | undefined;

  const one = async (item: T): Promise<BulkResult<R>> => {
    for (let attempt = 1; ; attempt += 1) {
      if (stop.signal.aborted) return { kind: 'skipped', reason: authFailure ? 'auth-failure' : 'aborted' };
      try {
        await opts.limiter.acquire(stop.signal);
      } catch {
        return { kind: 'skipped', reason: authFailure ? 'auth-failure' : 'aborted' };
      }
      try {
        return { kind: 'done', value: await work(item, attempt), attempts: attempt };
      } catch (e) {
        if (LyraApiError.is(e) && e.isAuthFailure) {
          authFailure ??= e;
          stop.abort();
          return { kind: 'failed', error: e, attempts: attempt };
        }
        if (attempt >= maxAttempts || !retryable(e)) return { kind: 'failed', error: e, attempts: attempt };
        const hinted = LyraApiError.is(e) ? e.retryAfterMs : undefined;
        if (hinted !== undefined) opts.limiter.pause(hinted);
        else if (!(await sleep(backoff(attempt), stop.signal))) return { kind: 'failed', error: e, attempts: attempt };
      }
    }
  };

  try {
    const results = await Promise.all(
      items.map((item, i) =>
        limit(async () => {
          const r = await one(item);
          opts.onDone?.(i, r as BulkResult<unknown>);
          return r;
        }),
      ),
    );
    return { results, authFailure, aborted: opts.signal?.aborted === true };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
