import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

export interface RateLimiterOptions {
  /** Most request starts in any sliding window (a second by default). Below 1: one start per 1/perSecond windows. */
  perSecond: number;
  /** Length of the window in ms. Default 1000. */
  windowMs?: number;
  /**
   * With `begin()`: a request counts from its start until it ends, capped at this many ms after the start
   * (default 100). See createRateLimiter.
   */
  holdCapMs?: number;
  /** Monotonic clock in ms. Default: performance.now. */
  now?: () => number;
  /** Default: a timer that rejects when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RateLimiter {
  /**
   * Resolves when a request may start (and counts it as started now); rejects with the signal's reason on abort.
   * What it resolves to is the implementation's (e.g. a grant id); callers only wait for it.
   */
  acquire(signal?: AbortSignal): Promise<unknown>;
  /** Holds every start for `ms` from now (PSP_106 throttling, Retry-After). */
  pause(ms: number): void;
}

/** The in-process limiter: also knows when a request ends. */
export interface LocalRateLimiter extends RateLimiter {
  acquire(signal?: AbortSignal): Promise<void>;
  /**
   * Like acquire, but the start is held open until the returned `end()` is called (at most `holdCapMs`): the
   * next window is measured from the end, so the platform, which counts arrivals, never sees more than N in
   * a second even when a cold connection delays one request's arrival.
   */
  begin(signal?: AbortSignal): Promise<() => void>;
}

/**
 * A sliding-window limiter: never more than N starts in any window. It keeps the last N start times in a ring; the
 * next start waits until the oldest of them is a full window old. Unlike a token bucket it has no burst beyond N,
 * and unlike a fixed tick it runs at N per window when requests are ready (close to N, never above).
 * Waiters are served in arrival order.
 *
 * Why `begin()/end()`: our start is not the platform's arrival. Arrival lies between the start and the end of the
 * request; measuring the window from the end (capped: a slow answer must not collapse the rate) keeps the
 * guarantee at the server. The price is at most `holdCapMs` per window when the API is slow.
 */
export function createRateLimiter(opts: RateLimiterOptions): LocalRateLimiter {
  if (!Number.isFinite(opts.perSecond) || opts.perSecond <= 0) throw new RangeError(`perSecond must be a positive number, got ${opts.perSecond}`);
  // Below one a second (--rate 0.5): one start per 1/rate seconds. Above, a fraction cannot be honoured in every
  // sliding second, so 2.5 means 2.
  const slow = opts.perSecond < 1;
  const n = slow ? 1 : Math.floor(opts.perSecond);
  const windowMs = (opts.windowMs ?? 1000) / (slow ? opts.perSecond : 1);
  const cap = opts.holdCapMs ?? 100;
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }));
  /** When each of the last N requests counts from: its start, its end, or NaN while it is in flight. */
  const ring = new Float64Array(n);
  const startedAt = new Float64Array(n);
  let count = 0;
  let head = 0; // oldest slot when count === n
  let pausedUntil = Number.NEGATIVE_INFINITY;
  let tail: Promise<void> = Promise.resolve();
  let ended: (() => void) | undefined;

  /** Waits for `ms`, or less if an in-flight request ends meanwhile (the head may become free sooner). */
  const waitFor = async (ms: number, signal?: AbortSignal): Promise<void> => {
    const local = new AbortController();
    const woke = new Promise<void>((r) => (ended = r));
    const both = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
    try {
      await Promise.race([sleep(ms, both), woke]);
    } catch (e) {
      if (!local.signal.aborted) throw e;
    } finally {
      ended = undefined;
      local.abort();
    }
  };

  const take = async (hold: boolean, signal?: AbortSignal): Promise<number> => {
    for (;;) {
      signal?.throwIfAborted();
      const t = now();
      let free = t;
      if (count === n) {
        const from = Number.isNaN(ring[head]!) ? startedAt[head]! + cap : ring[head]!;
        free = from + windowMs;
      }
      const at = Math.max(free, pausedUntil);
      if (at <= t) {
        let slot: number;
        if (count < n) slot = (head + count++) % n;
        else {
          slot = head;
          head = (head + 1) % n;
        }
        startedAt[slot] = t;
        ring[slot] = hold ? Number.NaN : t;
        return slot;
      }
      await waitFor(at - t, signal);
    }
  };

  const queue = <T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const turn = tail.then(fn);
    tail = turn.then(
      () => undefined,
      () => undefined,
    );
    if (!signal) return turn;
    // An aborted waiter leaves at once; its turn, when it comes, rejects without taking a start.
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      turn.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };

  return {
    async acquire(signal) {
      await queue(() => take(false, signal), signal);
    },
    async begin(signal) {
      const slot = await queue(() => take(true, signal), signal);
      const started = startedAt[slot]!;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        // The slot may have been reused only after it ended or its cap passed; then this end is moot.
        if (startedAt[slot] === started && Number.isNaN(ring[slot]!)) ring[slot] = Math.min(now(), started + cap);
        ended?.();
      };
    },
    pause(ms) {
      if (ms > 0) pausedUntil = Math.max(pausedUntil, now() + ms);
    },
  };
}
