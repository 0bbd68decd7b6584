import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { ConfigError } from '../errors/paybatch-error.js';

/** The console's only secret: its login password (or token), from the environment or the env file. */
export const CONSOLE_PASSWORD_SETTING = 'PAYBATCH_CONSOLE_PASSWORD';
/** A second secret that opens /metrics only: what a Prometheus scrape config holds, so it cannot log in to the console. */
export const METRICS_TOKEN_SETTING = 'PAYBATCH_METRICS_TOKEN';
/** The shortest secret accepted for either setting. */
export const MIN_SECRET_LENGTH = 12;
export const SESSION_COOKIE = 'paybatch_session';
const SESSION_MS = 12 * 3600_000;
/** Failed logins allowed per client address in a quarter of an hour, and for everyone together. */
const ATTEMPTS_PER_CLIENT = 5;
const ATTEMPTS_OVERALL = 50;

/**
 * The console password and the metrics token from the settings, each at least MIN_SECRET_LENGTH long when set.
 * `need`: `paybatch serve` needs the password, `paybatch worker --metrics-port` either.
 */
export function consoleSecrets(env: Record<string, string | undefined>, need: 'password' | 'any'): { password?: string; metricsToken?: string } {
  const read = (key: string): string | undefined => {
    const v = env[key];
    if (v === undefined || v === '') return undefined;
    if (v.length < MIN_SECRET_LENGTH) throw new ConfigError('PB_CONFIG', `${key} is too short: give a secret of at least ${MIN_SECRET_LENGTH} characters`);
    return v;
  };
  const password = read(CONSOLE_PASSWORD_SETTING);
  const metricsToken = read(METRICS_TOKEN_SETTING);
  if (need === 'password' && !password) throw new ConfigError('PB_CONFIG', `no console password: set ${CONSOLE_PASSWORD_SETTING} (in the environment or the --env-file) to a secret of at least ${MIN_SECRET_LENGTH} characters; every page asks for it`);
  if (need === 'any' && !password && !metricsToken) throw new ConfigError('PB_CONFIG', `--metrics-port: set ${METRICS_TOKEN_SETTING} (or ${CONSOLE_PASSWORD_SETTING}) in the environment or the --env-file, a secret of at least ${MIN_SECRET_LENGTH} characters: /metrics asks for it as a bearer token`);
  return { ...(password ? { password } : {}), ...(metricsToken ? { metricsToken } : {}) };
}

/** What a secret opens: the console (every page, action and /metrics) or /metrics only. */
export type AuthScope = 'console' | 'metrics';

/**
 * Console logins: the password compared in constant time, failed attempts rate-limited per client and overall,
 * sessions in memory only, so no secret is ever written. A metrics token opens /metrics and nothing else.
 */
export class ConsoleAuth {
  readonly #digest: Buffer | undefined;
  readonly #metricsDigest: Buffer | undefined;
  readonly #sessions = new Map<string, number>();
  readonly #perClient = new RateLimiterMemory({ points: ATTEMPTS_PER_CLIENT, duration: 900 });
  readonly #overall = new RateLimiterMemory({ points: ATTEMPTS_OVERALL, duration: 900 });

  /** `password` undefined: no console login at all (a `paybatch worker` serving only /metrics). */
  constructor(password: string | undefined, opts: { metricsToken?: string } = {}) {
    this.#digest = password === undefined ? undefined : digest(password);
    this.#metricsDigest = opts.metricsToken === undefined ? undefined : digest(opts.metricsToken);
  }

  /**
   * Whether `given` opens `scope` (the password opens all, the metrics token only /metrics). Failures count per client
   * and scope, so a stale scraper locks itself out of /metrics only. `limited`: too many attempts, not checked.
   */
  async check(given: string, client: string, scope: AuthScope = 'console'): Promise<'ok' | 'wrong' | 'limited'> {
    const [clientKey, allKey] = [`${scope}:${client}`, `${scope}:all`];
    const [mine, all] = await Promise.all([this.#perClient.get(clientKey), this.#overall.get(allKey)]);
    if ((mine?.consumedPoints ?? 0) >= ATTEMPTS_PER_CLIENT || (all?.consumedPoints ?? 0) >= ATTEMPTS_OVERALL) return 'limited';
    const g = digest(given);
    // Both compared every time, each in constant time: how long a check takes says nothing of which secret is near.
    const isPassword = this.#digest !== undefined && timingSafeEqual(g, this.#digest);
    const isToken = this.#metricsDigest !== undefined && timingSafeEqual(g, this.#metricsDigest);
    if (isPassword || (scope === 'metrics' && isToken)) return 'ok';
    await Promise.all([this.#perClient.penalty(clientKey, 1), this.#overall.penalty(allKey, 1)]);
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
