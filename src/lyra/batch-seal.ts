import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Mode } from './types.js';

/**
 * A queued batch's seal: HMAC-SHA256 of its identity under the shop's API password, made once it authenticated. A
 * worker sends only if its own password gives the same seal; the seal reveals nothing of the password.
 */
export function batchSeal(password: string, scope: { shopId: string; mode: Mode }, batchId: string): string {
  return createHmac('sha256', password).update(`paybatch batch\n${scope.shopId}\n${scope.mode}\n${batchId}`).digest('hex');
}

/** Compares two seals in constant time; a missing one never matches. */
export function sameSeal(found: string | undefined, expected: string): boolean {
  if (typeof found !== 'string' || found.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(found), Buffer.from(expected));
}
