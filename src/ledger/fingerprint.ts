import { createHash } from 'node:crypto';
import type { PaymentOrderRequest } from '../lyra/types.js';

/**
 * The fingerprint of a judged row: its request, less an expiry computed from the run-wide `--expires-in` (each run
 * computes a new one; that is not an edit of the row, and must not make every re-run report "this row differs").
 */
export function orderFingerprint(order: { request: PaymentOrderRequest; expiresFromDefault?: boolean }): string {
  if (!order.expiresFromDefault) return fingerprint(order.request);
  const { expirationDate: _relative, ...rest } = order.request;
  return fingerprint(rest as PaymentOrderRequest);
}

/**
 * sha256 (hex) of the canonical JSON of the body to send (keys sorted at every depth, undefined dropped): the same
 * body gives the same fingerprint whatever the column order or mapping, so an edited file shows.
 */
export function fingerprint(req: PaymentOrderRequest): string {
  return createHash('sha256').update(canonicalJson(req)).digest('hex');
}

/** JSON with object keys sorted, undefined members dropped (as JSON.stringify drops them). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}
