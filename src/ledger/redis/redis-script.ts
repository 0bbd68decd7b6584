import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A Lua script sent once and then called by its SHA (a restarted Redis forgets scripts: NOSCRIPT → send it again). */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** The script of a `.lua` file (readLua): `RedisScript.load(new URL('./scripts/claim.lua', import.meta.url))`. */
  static load(file: URL): RedisScript {
    return new RedisScript(readLua(file));
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
 * The text of a `.lua` file, each line `--- @include "other.lua"` replaced by that file's text (a path relative to the
 * including file, as BullMQ's scripts write it): how the shared limiter's commands share their sliding window.
 */
export function readLua(file: URL): string {
  return readFileSync(file, 'utf8').replace(/^--- @include "([^"]+)"$/gm, (_, name: string) => readLua(new URL(name, file)).trimEnd());
}
