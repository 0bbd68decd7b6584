import { createHmac, timingSafeEqual } from 'node:crypto';

export interface IpnFields {
  'kr-hash'?: string;
  'kr-hash-algorithm'?: string;
  'kr-hash-key'?: string;
  'kr-answer'?: string;
  'kr-answer-type'?: string;
}

export type IpnVerdict = { ok: true; answer: unknown } | { ok: false; reason: string };

/** Lowercase hex HMAC-SHA-256 of the exact kr-answer string (docs/lyra-api.md §9). */
export function signIpn(answer: string, key: string): string {
  return createHmac('sha256', key).update(answer, 'utf8').digest('hex');
}

/**
 * Checks an IPN over the raw kr-answer string with the key kr-hash-key names (`password` or `sha256_hmac`). No PHP-SDK
 * stripslashes fallback: Node gets the bytes as sent, so a mismatch is real.
 */
export function verifyIpn(fields: IpnFields, keys: { password: string; hmacKey?: string }): IpnVerdict {
  const hash = fields['kr-hash'];
  const answer = fields['kr-answer'];
  if (typeof hash !== 'string' || hash === '') return { ok: false, reason: 'kr-hash is missing' };
  if (typeof answer !== 'string' || answer === '') return { ok: false, reason: 'kr-answer is missing' };
  const algorithm = fields['kr-hash-algorithm'] ?? 'sha256_hmac';
  if (algorithm !== 'sha256_hmac') return { ok: false, reason: `unsupported kr-hash-algorithm "${String(algorithm).slice(0, 40)}"` };

  const keyName = fields['kr-hash-key'] ?? 'password';
  let key: string;
  if (keyName === 'password') key = keys.password;
  else if (keyName === 'sha256_hmac') {
    if (!keys.hmacKey) return { ok: false, reason: 'signed with the HMAC-SHA-256 key, which is not configured' };
    key = keys.hmacKey;
  } else return { ok: false, reason: `unknown kr-hash-key "${String(keyName).slice(0, 40)}"` };

  const expected = Buffer.from(signIpn(answer, key), 'hex');
  const given = /^[0-9a-fA-F]{64}$/.test(hash) ? Buffer.from(hash, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: `kr-hash does not match (signed with the ${keyName === 'password' ? 'password' : 'HMAC key'})` };
  }
  try {
    return { ok: true, answer: JSON.parse(answer) };
  } catch {
    return { ok: false, reason: 'kr-answer is signed but is not JSON' };
  }
}
