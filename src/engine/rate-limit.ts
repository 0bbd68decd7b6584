import { channel } from 'node:diagnostics_channel';
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
   * Like acquire, but the window is measured from `end()` (at most `holdCapMs` later): the platform counts arrivals,
   * so it never sees more than N in a window even when a cold connection delays one.
   */
  begin(signal?: AbortSignal): Promise<() => void>;
}

/** How long each start waited for the limiter, in ms (`{ ms }`), and every throttling pause (`{ ms }`): for /metrics. */
export const LIMITER_WAIT_CHANNEL = channel('paybatch:limiter:wait');
export const THROTTLE_PAUSE_CHANNEL = channel('paybatch:limiter:pause');

/**
 * A sliding-window limiter: N places, each free for a full window before reuse, so no window holds more than N starts
 * (no burst, unlike a token bucket); FIFO. `begin()/end()` holds a place until the answer (see begin).
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
  /** When each place's last request counts from: its start, its end, or NaN while it is in flight. */
  const countsFrom = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
  const startedAt = new Float64Array(n);
  /** Bumped whenever a place is taken: an `end()` of an earlier holder must not touch the new one. */
  const generation = new Uint32Array(n);
  /** Where the next search for a free place starts. */
  let next = 0;
  let pausedUntil = Number.NEGATIVE_INFINITY;
  let tail: Promise<void> = Promise.resolve();
  let ended: (() => void) | undefined;

  /** When a place can be taken again (Infinity: held by a request in flight, with no cap). */
  const freeAt = (place: number): number => {
    const from = countsFrom[place]!;
    return (Number.isNaN(from) ? startedAt[place]! + cap : from) + windowMs;
  };

  /**
   * Waits for `ms` (Infinity: with no timer at all), or less if an in-flight request ends meanwhile (its place may
   * become free sooner).
   */
  const waitFor = async (ms: number, signal?: AbortSignal): Promise<void> => {
    const local = new AbortController();
    const woke = new Promise<void>((r) => (ended = r));
    const both = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
    const aborted = new Promise<never>((_, reject) => {
      if (both.aborted) reject(both.reason);
      else both.addEventListener('abort', () => reject(both.reason), { once: true });
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([Number.isFinite(ms) ? sleep(ms, both) : aborted, woke]);
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
      // From the place after the last one taken: places are taken in turn, so the next is the oldest and most often
      // free at once (a scan from 0 would cost O(perSecond) per start).
      let place = next;
      let free = freeAt(place);
      for (let k = 1; k < n && free > t; k++) {
        const i = (next + k) % n;
        const f = freeAt(i);
        if (f < free) {
          free = f;
          place = i;
        }
      }
      const at = Math.max(free, pausedUntil);
      if (at <= t) {
        next = place + 1 === n ? 0 : place + 1;
        startedAt[place] = t;
        countsFrom[place] = hold ? Number.NaN : t;
        generation[place]!++;
        return place;
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
      const asked = now();
      await queue(() => take(false, signal), signal);
      if (LIMITER_WAIT_CHANNEL.hasSubscribers) LIMITER_WAIT_CHANNEL.publish({ ms: now() - asked });
    },
    async begin(signal) {
      const asked = now();
      const place = await queue(() => take(true, signal), signal);
      if (LIMITER_WAIT_CHANNEL.hasSubscribers) LIMITER_WAIT_CHANNEL.publish({ ms: now() - asked });
      const started = startedAt[place]!;
      const held = generation[place]!;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        // The place may have been taken again only after its cap passed; then this end is moot.
        if (generation[place] === held) countsFrom[place] = Math.min(now(), started + cap);
        ended?.();
      };
    },
    pause(ms) {
      if (ms > 0) pausedUntil = Math.max(pausedUntil, now() + ms);
      if (ms > 0 && THROTTLE_PAUSE_CHANNEL.hasSubscribers) THROTTLE_PAUSE_CHANNEL.publish({ ms });
    },
  };
}
