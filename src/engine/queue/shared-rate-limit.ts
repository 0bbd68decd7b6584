import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { waitInLine } from '../../lib/wait-in-line.js';
import type { RideAlong } from '../../ledger/redis/ride-along.js';
import { RedisScript } from '../../ledger/redis/redis-script.js';
import type { RateLimiter } from '../rate-limit.js';

// One sliding-window limit shared by every worker of a queue, on Redis's clock. A request holds its place from its
// grant to one window after its answer, so no second at the platform sees more than `rate`. Commands: scripts/*.lua.
const lua = (name: string) => RedisScript.load(new URL(`./scripts/${name}.lua`, import.meta.url));
const ACQUIRE = lua('acquire');
const CONFIRM = lua('confirm');
const DONE = lua('done');
const CANCEL = lua('cancel');
const PAUSE = lua('pause');

export interface SharedRateLimiterOptions {
  redis: Redis;
  /** Keys of this queue's limiter (see `queueKeys`). */
  keys: { window: string; pause: string; settings: string };
  /** Requests per second when the settings hash has none; 0 or absent = no limit. */
  fallbackPerSecond?: number;
  /** Added to the one-second window, ms (default 5, for clocks of ms precision), unless the queue's settings say `marginMs`. */
  slackMs?: number;
  /** How long an unanswered request holds its place at most, ms (default 35 000: above the HTTP timeout). */
  holdMs?: number;
  /**
   * A grant younger than this (ms since its call was sent) is surely still held: `confirm` skips Redis. At most hold −
   * the HTTP timeout. Default: min(1000, hold / 10).
   */
  freshMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Whole ms since `at` (performance.now()), rounded down so that the place is never freed early; 0 without `at`. */
function sinceMs(at: number | undefined): number {
  return at === undefined ? 0 : Math.max(0, Math.floor(performance.now() - at));
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The shared limiter: `acquire` before every POST (the job function's `beforeAttempt`), `pause` on throttling. */
export class SharedRateLimiter implements RateLimiter {
  private readonly opts: Required<Omit<SharedRateLimiterOptions, 'fallbackPerSecond' | 'freshMs'>> & { fallbackPerSecond: number; freshMs: number };
  /** Grants of this process not yet confirmed: when the call that granted each was sent (performance.now()). */
  private readonly issued = new Map<string, number>();
  /** One of this process's requests is waiting on Redis for a place; the others queue behind it here. */
  private polling = false;
  private readonly turns: (() => void)[] = [];

  constructor(opts: SharedRateLimiterOptions) {
    const holdMs = opts.holdMs ?? 35_000;
    this.opts = { slackMs: 5, sleep: abortableSleep, fallbackPerSecond: 0, freshMs: Math.min(1000, holdMs / 10), ...opts, holdMs };
  }

  /**
   * Resolves when this process may start one request; every worker on every machine shares the same window. Returns
   * the grant, for `confirm`.
   */
  async acquire(signal?: AbortSignal): Promise<string> {
    const member = randomUUID();
    let wait = 0;
    if (!this.polling) {
      // Nobody of this process waits: ask at once.
      signal?.throwIfAborted();
      const sentAt = performance.now();
      wait = await this.run(ACQUIRE, member);
      if (wait <= 0) {
        this.issued.set(member, sentAt);
        return member;
      }
    }
    // The window is full: one waiter per process asks Redis, the others wait their turn here rather than all asking
    // for each place that frees.
    const queued = await this.takeTurn(signal);
    try {
      // Its turn came after a grant (ask now), or at once (wait what Redis said first).
      this.issued.set(member, await this.loop(ACQUIRE, member, signal, queued ? 0 : wait));
      return member;
    } finally {
      this.passTurn();
    }
  }

  /** Resolves when this caller is the one to ask Redis: true if it waited behind another. */
  private takeTurn(signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    if (!this.polling) {
      this.polling = true;
      return Promise.resolve(false);
    }
    return waitInLine(this.turns, signal).then(() => true);
  }

  private passTurn(): void {
    const next = this.turns.shift();
    if (next) next();
    else this.polling = false;
  }

  /** Resolves to when (performance.now()) the call that succeeded was sent. */
  private async loop(script: RedisScript, member: string, signal?: AbortSignal, firstWait = 0): Promise<number> {
    if (firstWait > 0) await this.opts.sleep(Math.min(firstWait, 1000) + Math.floor(Math.random() * 3), signal);
    for (;;) {
      signal?.throwIfAborted();
      const sentAt = performance.now();
      const wait = await this.run(script, member);
      if (wait <= 0) return sentAt;
      // A little jitter so the waiters of different processes do not all ask again in the same millisecond.
      await this.opts.sleep(Math.min(wait, 1000) + Math.floor(Math.random() * 3), signal);
    }
  }

  private async run(script: RedisScript, member: string): Promise<number> {
    return Number(await script.run(this.opts.redis, this.keyList(), this.args(member)));
  }

  /**
   * The granted request is leaving now (a grant that lapsed meanwhile waits for a new one). A grant this process got
   * less than `freshMs` ago cannot have lapsed: no round trip then.
   */
  async confirm(grant: string, signal?: AbortSignal): Promise<void> {
    const sentAt = this.issued.get(grant);
    this.issued.delete(grant);
    if (sentAt !== undefined && performance.now() - sentAt < this.opts.freshMs) return;
    await this.loop(CONFIRM, grant, signal);
  }

  /**
   * A place asked for in another script's call (the worker's claim), unless one of this process's requests already
   * waits in line (then `acquire`, behind it). Give the call's answer to `tookAlong`.
   */
  takeAlong(): { member: string; along: RideAlong } | undefined {
    if (this.polling) return undefined;
    const member = randomUUID();
    return { member, along: { body: ACQUIRE.source, keys: this.keyList(), args: this.args(member) } };
  }

  /** The answer of `takeAlong`'s step, its call sent at `sentAt` (performance.now()): the grant, or undefined (full: `acquire`). */
  tookAlong(member: string, answer: unknown, sentAt: number): string | undefined {
    if (Number(answer) > 0) return undefined;
    this.issued.set(member, sentAt);
    return member;
  }

  /** `done` as a step of another script's call (the worker's record of the answer). */
  doneAlong(grant: string, answeredAt?: number): RideAlong {
    this.issued.delete(grant);
    return { body: DONE.source, keys: this.keyList(), args: this.doneArgs(grant, answeredAt) };
  }

  private keyList(): string[] {
    const { keys } = this.opts;
    return [keys.window, keys.pause, keys.settings];
  }

  private args(member: string): (string | number)[] {
    const { slackMs, fallbackPerSecond, holdMs } = this.opts;
    return [member, 1000 + slackMs, fallbackPerSecond, holdMs];
  }

  /** DONE's: the grant's, then the ms since its answer. */
  private doneArgs(grant: string, answeredAt: number | undefined): (string | number)[] {
    return [...this.args(grant), sinceMs(answeredAt)];
  }

  /** The request got its answer (or failed) at `answeredAt` (performance.now(); default now): its place frees one window after it. */
  async done(grant: string, answeredAt?: number): Promise<void> {
    this.issued.delete(grant);
    await DONE.run(this.opts.redis, this.keyList(), this.doneArgs(grant, answeredAt));
  }

  /** The grant will not be used (nothing was sent with it): its place is free at once. */
  async cancel(grant: string): Promise<void> {
    this.issued.delete(grant);
    await this.run(CANCEL, grant);
  }

  /** Every worker stops starting requests for `ms` (the platform said PSP_106 / 429). */
  async pause(ms: number): Promise<void> {
    await PAUSE.run(this.opts.redis, [this.opts.keys.pause], [Math.max(1, Math.ceil(ms))]);
  }
}
