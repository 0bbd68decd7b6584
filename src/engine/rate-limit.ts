import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

export interface RateLimiterOptions {
  /** Most request starts in any sliding window. */
  perSecond: number;
  /** Length of the window in ms. Default 1000. */
  windowMs?: number;
  /** Monotonic clock in ms. Default: performance.now. */
  now?: () => number;
  /** Default: a timer that rejects when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RateLimiter {
  /** Resolves when a request may start (and counts it as started); rejects with the signal's reason on abort. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Holds every start for `ms` from now (PSP_106 throttling, Retry-After). */
  pause(ms: number): void;
}

/**
 * A sliding-window limiter: never more than N starts in any window. It keeps the last N start times in a ring; the
 * next start waits until the oldest of them is a full window old. Unlike a token bucket it has no burst beyond N,
 * and unlike a fixed tick it runs at exactly N per window when requests are ready (close to N, never above).
 * Waiters are served in arrival order.
 */
export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const n = Math.floor(opts.perSecond);
  if (!Number.isFinite(opts.perSecond) || n < 1) throw new RangeError(`perSecond must be a number ≥ 1, got ${opts.perSecond}`);
  const windowMs = opts.windowMs ?? 1000;
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }));
  const ring = new Float64Array(n);
  let count = 0;
  let head = 0; // oldest start when count === n
  let pausedUntil = Number.NEGATIVE_INFINITY;
  let tail: Promise<void> = Promise.resolve();

  const take = async (signal?: AbortSignal): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      const t = now();
      const free = count < n ? t : ring[head]! + windowMs;
      const at = Math.max(free, pausedUntil);
      if (at <= t) {
        if (count < n) ring[(head + count++) % n] = t;
        else {
          ring[head] = t;
          head = (head + 1) % n;
        }
        return;
      }
      await sleep(at - t, signal);
    }
  };

  return {
    acquire(signal) {
      const turn = tail.then(() => take(signal));
      tail = turn.catch(() => undefined);
      if (!signal) return turn;
      // An aborted waiter leaves at once; its turn, when it comes, rejects without taking a start.
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        turn.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    pause(ms) {
      if (ms > 0) pausedUntil = Math.max(pausedUntil, now() + ms);
    },
  };
}
