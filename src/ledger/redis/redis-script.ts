import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script sent once and then called by its SHA (a restarted Redis forgets scripts: NOSCRIPT → send it again). */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (e instanceof Error && e.message.includes('NOSCRIPT')) return redis.eval(this.source, keys.length, ...keys, ...args);
      throw e;
    }
  }
}

/**
 * A script's body with its keys and arguments moved up by `keys` and `args` places (`KEYS[1]` → `KEYS[1 + keys]` …), so
 * it can run after another script's in one call, on the keys and arguments that follow the first script's.
 */
export function shiftLua(body: string, keys: number, args: number): string {
  return body.replace(/\bKEYS\[(\d+)\]/g, (_, n: string) => `KEYS[${Number(n) + keys}]`).replace(/\bARGV\[(\d+)\]/g, (_, n: string) => `ARGV[${Number(n) + args}]`);
}

/**
 * One atomic call that runs `first` and then `then` (each a whole script body, `then` already shifted past `first`'s
 * keys and arguments): `combine` is Lua that gets `first`'s answer as `r` and the second's as a call `second()`, and
 * returns the answer. One round trip, one script execution, where two calls took two.
 */
export function chainLua(first: string, then: string, combine: string): string {
  return `local function first()\n${first}\nend\nlocal function second()\n${then}\nend\nlocal r = first()\n${combine}`;
}
