import type { LyraErrorKind } from './errors.js';

/**
 * Codes (docs/lyra-api.md §10) saying "nothing happened, repeat the call": PSP_106 (throttling) and the "transaction
 * not created" incidents. The other "technical incident" codes (PSP_513 …, PSP_99x, PSP_1001, PSP_1028, PSP_1044)
 * say "read first", so they are `unknown` and the caller reconciles instead of re-sending.
 */
const RETRY_SAFE = new Set(['PSP_106', 'PSP_648', 'PSP_650']);

const UNKNOWN = new Set([
  'PSP_513', 'PSP_514', 'PSP_515', 'PSP_516', 'PSP_525', 'PSP_538', 'PSP_540', 'PSP_541', 'PSP_555', 'PSP_569',
  'PSP_576', 'PSP_577', 'PSP_595', 'PSP_608', 'PSP_632', 'PSP_643', 'PSP_652', 'PSP_658',
  'PSP_993', 'PSP_995', 'PSP_996', 'PSP_998', 'PSP_999', 'PSP_9999',
  'PSP_1001', 'PSP_1028', 'PSP_1044',
]);

/**
 * The kind of an error code answered by the platform (an ERROR envelope). Pure.
 * Anything not listed — including codes Lyra adds later — is `permanent`: a careful integrator never
 * re-sends a payment order on a code it does not understand.
 */
export function classifyErrorCode(code: string): LyraErrorKind {
  if (RETRY_SAFE.has(code)) return 'retry-safe';
  if (UNKNOWN.has(code)) return 'unknown';
  return 'permanent';
}
