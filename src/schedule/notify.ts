import { createHmac } from 'node:crypto';
import { ConfigError } from '../errors/paybatch-error.js';

/** The environment variable that holds the key webhooks are signed with. */
export const WEBHOOK_SECRET = 'PAYBATCH_WEBHOOK_SECRET';
/** The header carrying `sha256=HEX`: HMAC-SHA256 of the exact body bytes with the secret. */
export const SIGNATURE_HEADER = 'x-paybatch-signature';

export interface WebhookPolicy {
  attempts: number;
  /** Wait before the 2nd attempt; doubled before each next one. */
  firstDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = { attempts: 6, firstDelayMs: 1000, timeoutMs: 10_000 };

/** The secret, required as soon as a job asks for a webhook (an unsigned notice could be forged by anyone). */
export function webhookSecret(env: Record<string, string | undefined>, jobPath: string): string {
  const secret = env[WEBHOOK_SECRET]?.trim();
  if (!secret) throw new ConfigError('PB_CONFIG', `${jobPath}: "notify.webhook" needs ${WEBHOOK_SECRET} in the environment (or the env file): the key its notices are signed with`);
  return secret;
}

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POSTs `payload` as JSON, signed, until the receiver answers 2xx or the attempts run out (1 s, 2 s, 4 s … apart).
 * Resolves to whether it was delivered; never throws: the caller does not wait for it before the next run.
 */
export async function postWebhook(url: string, payload: unknown, secret: string, policy: WebhookPolicy = DEFAULT_WEBHOOK_POLICY, onAttemptFailed?: (attempt: number, why: string) => void): Promise<boolean> {
  const body = JSON.stringify(payload);
  const headers = { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(body, secret), 'user-agent': 'paybatch-schedule' };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    let why: string;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(policy.timeoutMs) });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return true;
      why = `HTTP ${res.status}`;
    } catch (e) {
      why = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
    }
    onAttemptFailed?.(attempt, why);
    if (attempt < policy.attempts) await new Promise((r) => setTimeout(r, policy.firstDelayMs * 2 ** (attempt - 1)));
  }
  return false;
}
