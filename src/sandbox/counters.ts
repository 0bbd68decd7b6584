/** Counts events in the last second and remembers the highest count ever seen. */
export class SlidingSecond {
  private times: number[] = [];
  private head = 0;
  max = 0;

  /** Counts an event at `t` (ms, monotonic) and returns how many happened in (t-1000, t]. */
  add(t: number): number {
    const n = this.count(t) + 1;
    this.times.push(t);
    if (n > this.max) this.max = n;
    return n;
  }

  /** How many events happened in (t-1000, t]. */
  count(t: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= t - 1000) this.head++;
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
}

/** Everything tests and benchmarks read: plain JSON, the same from code and from GET /_sandbox/counters. */
export interface SandboxCounters {
  /** Requests per web service (e.g. `Charge/CreatePaymentOrder`), whatever their outcome. */
  requests: Record<string, number>;
  /** Orders actually created, per orderId (`(none)` for orders without one). A value above 1 is a duplicate. */
  ordersCreated: Record<string, number>;
  /** ERROR answers per errorCode, plus injected transport faults as HTTP_500, HTTP_503, RESET, TIMEOUT, BAD_ENVELOPE. */
  errors: Record<string, number>;
  /** Faults injected per kind (deterministic and random). */
  faults: Record<string, number>;
  /** The most requests seen in any sliding second: overall and for Charge/CreatePaymentOrder. */
  maxPerSecond: { all: number; create: number };
  /** IPN deliveries. */
  ipn: { sent: number; delivered: number; failed: number; skipped: number };
  /** Total requests, all services. */
  totalRequests: number;
  /** Orders held in the store. */
  orders: number;
}

export class CounterSet {
  requests: Record<string, number> = {};
  ordersCreated: Record<string, number> = {};
  errors: Record<string, number> = {};
  faults: Record<string, number> = {};
  ipn = { sent: 0, delivered: 0, failed: 0, skipped: 0 };
  totalRequests = 0;
  all = new SlidingSecond();
  create = new SlidingSecond();

  request(service: string, t: number): void {
    this.totalRequests++;
    this.requests[service] = (this.requests[service] ?? 0) + 1;
    this.all.add(t);
    if (service === 'Charge/CreatePaymentOrder') this.create.add(t);
  }

  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  fault(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  created(orderId: string | null | undefined): void {
    const k = orderId ?? '(none)';
    this.ordersCreated[k] = (this.ordersCreated[k] ?? 0) + 1;
  }

  snapshot(orders: number): SandboxCounters {
    return {
      requests: { ...this.requests },
      ordersCreated: { ...this.ordersCreated },
      errors: { ...this.errors },
      faults: { ...this.faults },
      maxPerSecond: { all: this.all.max, create: this.create.max },
      ipn: { ...this.ipn },
      totalRequests: this.totalRequests,
      orders,
    };
  }
}
