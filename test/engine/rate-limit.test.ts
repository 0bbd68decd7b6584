import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/engine/rate-limit.js';

/** A clock that only moves when someone sleeps: the limiter's waits become exact and instant. */
function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    advance: (ms: number) => (t += ms),
  };
}

function maxInAnyWindow(starts: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0; i < starts.length; i++) {
    let j = i;
    while (j < starts.length && starts[j]! - starts[i]! < windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

describe('rate limiter (injected clock)', () => {
  it('at --rate 3, ten ready requests start 3 per second, exactly on the window edges', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 3, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      await limiter.acquire();
      starts.push(clock.now());
    }
    expect(starts).toEqual([0, 0, 0, 1000, 1000, 1000, 2000, 2000, 2000, 3000]);
    expect(maxInAnyWindow(starts, 1000)).toBe(3);
  });

  it('requests that trickle in are not delayed while the window has room', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 2, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    for (const gap of [0, 400, 400, 400, 100]) {
      clock.advance(gap);
      await limiter.acquire();
      starts.push(clock.now());
    }
    // Each start beyond two waits until the start two before it is a second old: 0, 400, then 1000, 1400, 2000.
    expect(starts).toEqual([0, 400, 1000, 1400, 2000]);
    expect(maxInAnyWindow(starts, 1000)).toBe(2);
  });

  it('pause() (PSP_106, Retry-After) holds every start until it is over', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 10, now: clock.now, sleep: clock.sleep });
    await limiter.acquire();
    limiter.pause(2500);
    await limiter.acquire();
    expect(clock.now()).toBe(2500);
  });

  it('an aborted waiter leaves at once and takes no start from the others', async () => {
    const clock = fakeClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Sleeps block on a gate so the waiter is really waiting when it is aborted.
    const limiter = createRateLimiter({ perSecond: 1, now: clock.now, sleep: async (ms) => { await gate; clock.advance(ms); } });
    await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    release();
    await limiter.acquire();
    expect(clock.now()).toBe(1000);
  });

  it('begin()/end(): the window of a request runs from its end, so a late arrival cannot crowd the next second', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 2, holdCapMs: 100, now: clock.now, sleep: clock.sleep });
    const endA = await limiter.begin();
    const endB = await limiter.begin();
    clock.advance(30);
    endA();
    clock.advance(20);
    endB();
    await limiter.begin();
    expect(clock.now()).toBe(1030);
    await limiter.begin();
    expect(clock.now()).toBe(1050);
  });

  it('begin(): a request still in flight counts from its start + holdCapMs, so a slow API does not stall the rate', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 1, holdCapMs: 100, now: clock.now, sleep: clock.sleep });
    const end = await limiter.begin();
    await limiter.begin();
    expect(clock.now()).toBe(1100);
    end(); // late: changes nothing any more
    await limiter.acquire();
    expect(clock.now()).toBe(2200);
  });

  it('begin() with no hold cap: a hung request holds its own place, the others keep the rate', async () => {
    const clock = fakeClock();
    const slept: number[] = [];
    const limiter = createRateLimiter({ perSecond: 2, holdCapMs: Number.POSITIVE_INFINITY, now: clock.now, sleep: async (ms) => { slept.push(ms); clock.advance(ms); } });
    await limiter.begin(); // hangs: never ends
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const end = await limiter.begin();
      starts.push(clock.now());
      clock.advance(10);
      end();
    }
    // One place is held for good; the other is taken once a second, a window after its last request ended.
    expect(starts).toEqual([0, 1010, 2020, 3030]);
    expect(slept.every((ms) => Number.isFinite(ms))).toBe(true);
  });

  it('begin() with no hold cap: with every place in flight, the next start waits for an end, with no timer', async () => {
    const clock = fakeClock();
    const slept: number[] = [];
    const limiter = createRateLimiter({ perSecond: 1, holdCapMs: Number.POSITIVE_INFINITY, now: clock.now, sleep: async (ms) => { slept.push(ms); clock.advance(ms); } });
    const end = await limiter.begin();
    let started = false;
    const next = limiter.begin().then(() => (started = true));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(started).toBe(false);
    expect(slept).toEqual([]);
    clock.advance(5000);
    end();
    await next;
    expect(clock.now()).toBe(6000);
    const ac = new AbortController();
    const waiting = limiter.begin(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('a very high --rate (the "no limit" of a benchmark) costs each start the same as a low one', async () => {
    // 60,000 starts inside one second at --rate 100000: each must find a free place at once, not after scanning the
    // places taken before it (which made the first second quadratic: 1.8e9 steps here, many seconds).
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 100_000, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 60_000; i++) {
      const end = await limiter.begin();
      starts.push(clock.now());
      end();
      clock.advance(0.01);
    }
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(starts[starts.length - 1]).toBeCloseTo(599.99, 1);
    // The places are reused only after their window: the next 100,000 starts wait for the first second to end.
    const more = await (async () => {
      for (let i = 0; i < 40_000; i++) await limiter.acquire();
      await limiter.acquire();
      return clock.now();
    })();
    expect(more).toBeGreaterThanOrEqual(1000);
  });

  it('--rate 0.5 means one start every two seconds; a zero or negative rate is refused', async () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ perSecond: 0.5, now: clock.now, sleep: clock.sleep });
    await limiter.acquire();
    await limiter.acquire();
    expect(clock.now()).toBe(2000);
    expect(() => createRateLimiter({ perSecond: 0 })).toThrow(RangeError);
  });
});

describe('rate limiter (real time)', () => {
  it('forty concurrent requests at --rate 15: never more than 15 starts in any sliding second', async () => {
    const limiter = createRateLimiter({ perSecond: 15 });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 40 }, () => limiter.acquire().then(() => starts.push(performance.now()))));
    starts.sort((a, b) => a - b);
    expect(starts).toHaveLength(40);
    // 1 ms of slack: the recorded time is taken a microtask after the limiter's own.
    expect(maxInAnyWindow(starts, 999)).toBeLessThanOrEqual(15);
  });
});
