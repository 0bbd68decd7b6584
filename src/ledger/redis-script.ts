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
