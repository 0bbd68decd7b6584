/**
 * What an error means for a payment order that may or may not exist:
 * - permanent: the platform refused; nothing was created; fix the request (or the shop).
 * - retry-safe: provably nothing happened (connection refused, PSP_106 throttling, 429/503 before processing).
 * - unknown: it may have been processed (timeout/reset after the body left, 5xx, a body that is not the envelope).
 */
export type LyraErrorKind = 'permanent' | 'retry-safe' | 'unknown';

export const LYRA_API_ERROR = 'LYRA_API_ERROR' as const;

export interface LyraApiErrorInit {
  code: string;
  message: string;
  kind: LyraErrorKind;
  detailedCode?: string | null;
  detailedMessage?: string | null;
  service: string;
  httpStatus?: number;
  /** From Retry-After (or the platform's own hint), in milliseconds. */
  retryAfterMs?: number;
}

/** Every failed call of the Lyra client. Never carries the password, the Authorization header or the request body. */
export class LyraApiError extends Error {
  override readonly name = 'LyraApiError';
  readonly type = LYRA_API_ERROR;
  readonly code: string;
  readonly kind: LyraErrorKind;
  readonly detailedCode: string | null;
  readonly detailedMessage: string | null;
  readonly service: string;
  readonly httpStatus?: number;
  readonly retryAfterMs?: number;

  constructor(init: LyraApiErrorInit) {
    super(`${init.service}: ${init.code} ${init.message}`);
    this.code = init.code;
    this.kind = init.kind;
    this.detailedCode = init.detailedCode ?? null;
    this.detailedMessage = init.detailedMessage ?? null;
    this.service = init.service;
    this.httpStatus = init.httpStatus;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Bad credentials (INT_905, HTTP 401): the whole run must stop. */
  get isAuthFailure(): boolean {
    return this.code === 'INT_905' || this.httpStatus === 401;
  }

  static is(e: unknown): e is LyraApiError {
    return e instanceof LyraApiError || (typeof e === 'object' && e !== null && (e as { type?: unknown }).type === LYRA_API_ERROR);
  }
}
