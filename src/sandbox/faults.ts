/**
 * Faults the sandbox can inject. "after-create" ones let the request do its work (the order exists) and then
 * lose the answer — exactly the case a client must report as outcome-unknown.
 */
export type FaultKind =
  | 'psp-106' // ERROR envelope PSP_106 (throttled), nothing done
  | 'http-500' // HTTP 500 with a non-JSON body, nothing done
  | 'http-503' // HTTP 503 + Retry-After: 1, nothing done
  | 'timeout' // the request is processed, then no answer until the client gives up
  | 'timeout-before-create' // no answer and nothing done
  | 'reset-after-create' // the request is processed, then the socket is destroyed
  | 'reset-before-create' // the socket is destroyed, nothing done
  | 'bad-envelope'; // the request is processed, then an HTML proxy page with HTTP 200

export const FAULT_KINDS: readonly FaultKind[] = ['psp-106', 'http-500', 'http-503', 'timeout', 'timeout-before-create', 'reset-after-create', 'reset-before-create', 'bad-envelope'];

/** What random faults pick from by default: every kind a careful client must survive. */
export const DEFAULT_RANDOM_FAULTS: readonly FaultKind[] = ['psp-106', 'http-500', 'http-503', 'timeout', 'reset-after-create'];

export function isFaultKind(s: unknown): s is FaultKind {
  return typeof s === 'string' && (FAULT_KINDS as readonly string[]).includes(s);
}

export interface AimOptions {
  /** How many matching requests get the fault. Default 1; Infinity for every one. */
  times?: number;
  /** Only requests to this web service (e.g. `Charge/CreatePaymentOrder`). Default: any payment-order service. */
  service?: string;
}

interface Aimed {
  kind: FaultKind;
  remaining: number;
  service?: string;
}

/** Faults aimed at an orderId or a paymentOrderId, consumed in the order they were added. */
export class FaultPlan {
  private readonly byKey = new Map<string, Aimed[]>();

  /** The next `times` requests about `key` (an orderId, or a paymentOrderId) get `kind`. */
  forOrder(key: string, kind: FaultKind, opts: AimOptions = {}): void {
    if (!isFaultKind(kind)) throw new Error(`unknown fault kind ${String(kind)}: use one of ${FAULT_KINDS.join(', ')}`);
    const list = this.byKey.get(key) ?? [];
    list.push({ kind, remaining: opts.times ?? 1, ...(opts.service ? { service: opts.service } : {}) });
    this.byKey.set(key, list);
  }

  /** Forgets the faults aimed at `key`, or all of them. */
  clear(key?: string): void {
    if (key === undefined) this.byKey.clear();
    else this.byKey.delete(key);
  }

  /** Takes one fault for a request about any of `keys` to `service`, if one is aimed. */
  take(keys: readonly (string | null | undefined)[], service: string): FaultKind | undefined {
    for (const key of keys) {
      if (!key) continue;
      const list = this.byKey.get(key);
      if (!list) continue;
      const i = list.findIndex((a) => a.remaining > 0 && (!a.service || a.service === service));
      if (i < 0) continue;
      const a = list[i]!;
      a.remaining--;
      if (a.remaining <= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(key);
      return a.kind;
    }
    return undefined;
  }

  /** What is still aimed, for GET /_sandbox/faults. */
  list(): Record<string, { kind: FaultKind; remaining: number | 'Infinity'; service?: string }[]> {
    const out: Record<string, { kind: FaultKind; remaining: number | 'Infinity'; service?: string }[]> = {};
    for (const [k, v] of this.byKey) out[k] = v.map((a) => ({ ...a, remaining: Number.isFinite(a.remaining) ? a.remaining : 'Infinity' }));
    return out;
  }
}
