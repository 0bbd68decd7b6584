import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RateLimiterMemory } from 'rate-limiter-flexible';

/** The console's only secret: its login password (or token), from the environment or the env file. */
export const CONSOLE_PASSWORD_SETTING = 'PAYBATCH_CONSOLE_PASSWORD';
export const SESSION_COOKIE = 'paybatch_session';
const SESSION_MS = 12 * 3600_000;
/** Failed logins allowed per client address in a quarter of an hour, and for everyone together. */
const ATTEMPTS_PER_CLIENT = 5;
const ATTEMPTS_OVERALL = 50;

/**
 * Logins for the console: one password compared in constant time (SHA-256 digests of equal length), failed attempts
 * rate-limited per client and overall, and random session ids kept in memory only (a restart logs everyone out; no
 * secret is ever written anywhere).
 */
export class ConsoleAuth {
  readonly #digest: Buffer;
  readonly #sessions = new Map<string, number>();
  readonly #perClient = new RateLimiterMemory({ points: ATTEMPTS_PER_CLIENT, duration: 900 });
  readonly #overall = new RateLimiterMemory({ points: ATTEMPTS_OVERALL, duration: 900 });

  constructor(password: string) {
    this.#digest = digest(password);
  }

  /** Whether `given` is the password; a failed attempt counts against `client`. `limited`: too many attempts, not checked. */
  async check(given: string, client: string): Promise<'ok' | 'wrong' | 'limited'> {
    const [mine, all] = await Promise.all([this.#perClient.get(client), this.#overall.get('all')]);
    if ((mine?.consumedPoints ?? 0) >= ATTEMPTS_PER_CLIENT || (all?.consumedPoints ?? 0) >= ATTEMPTS_OVERALL) return 'limited';
    if (timingSafeEqual(digest(given), this.#digest)) return 'ok';
    await Promise.all([this.#perClient.penalty(client, 1), this.#overall.penalty('all', 1)]);
    return 'wrong';
  }

  newSession(): string {
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, Date.now() + SESSION_MS);
    return id;
  }

  isSession(id: string | undefined): boolean {
    if (!id) return false;
    const until = this.#sessions.get(id);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.#sessions.delete(id);
      return false;
    }
    return true;
  }

  endSession(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
