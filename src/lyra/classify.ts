import type { LyraErrorKind } from './errors.js';

/**
 * Codes saying "nothing happened, repeat the call" (docs/lyra-api.md §10): PSP_106 and "transaction not created".
 * Other "technical incident" codes say "read first": `unknown`, reconciled rather than re-sent.
 */
const RETRY_SAFE = new Set(['PSP_106', 'PSP_648', 'PSP_650']);

const UNKNOWN = new Set([
  'PSP_513', 'PSP_514', 'PSP_515', 'PSP_516', 'PSP_525', 'PSP_538', 'PSP_540', 'PSP_541', 'PSP_555', 'PSP_569',
  'PSP_576', 'PSP_577', 'PSP_595', 'PSP_608', 'PSP_632', 'PSP_643', 'PSP_652', 'PSP_658',
  'PSP_993', 'PSP_995', 'PSP_996', 'PSP_998', 'PSP_999', 'PSP_9999',
  'PSP_1001', 'PSP_1028', 'PSP_1044',
]);

/**
 * The kind of an error code in an ERROR envelope. Pure. Anything not listed, including codes Lyra adds later, is
 * `permanent`: never re-send a payment order on a code we do not understand.
 */
export function classifyErrorCode(code: string): LyraErrorKind {
  if (RETRY_SAFE.has(code)) return 'retry-safe';
  if (UNKNOWN.has(code)) return 'unknown';
  return 'permanent';
}
