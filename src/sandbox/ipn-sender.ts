import { Agent, request } from 'undici';
import { signIpn } from '../lyra/ipn.js';
import { isoUtc } from './dates.js';
import type { StoredOrder } from './store.js';

export interface IpnDelivery {
  paymentOrderId: string;
  orderId: string | null;
  url: string;
  attempts: number;
  /** HTTP status of the last attempt, or the network error code. */
  last: number | string;
  delivered: boolean;
  /** The exact form fields posted (kr-answer is signed as is). */
  fields: Record<string, string>;
}

/** Lyra counts these as a delivered IPN (docs/lyra-api.md Q7); anything else is retried. */
const DELIVERED = new Set([200, 201, 202, 203, 204, 205, 206, 301, 302, 303, 307, 308]);

/** The `V4/Payment` answer for a settled order (docs/lyra-api.md §9). Q2: paymentOrderId sits in `orderDetails.paymentOrderId`. */
export function paymentAnswer(s: StoredOrder, now: number): string {
  const o = s.order;
  const answer = {
    shopId: s.shopId,
    orderCycle: o.paymentOrderStatus === 'PAID' || o.paymentOrderStatus === 'REFUSED' ? 'CLOSED' : 'OPEN',
    orderStatus: o.paymentOrderStatus === 'PAID' ? 'PAID' : 'UNPAID',
    serverDate: isoUtc(now),
    orderDetails: {
      orderTotalAmount: o.amount,
      orderEffectiveAmount: o.paymentOrderStatus === 'PAID' ? o.amount : 0,
      orderCurrency: o.currency,
      mode: s.mode,
      orderId: o.orderId,
      paymentOrderId: o.paymentOrderId,
      _type: 'V4/OrderDetails',
    },
    transactions: s.transactions.map((t) => paymentTransaction(s, t)),
    _type: 'V4/Payment',
  };
  return JSON.stringify(answer);
}

/**
 * One attempt as a `V4/PaymentTransaction`, in notifications and in Order/Get. Q2: the sandbox names the payment
 * order in `transactionDetails.paymentOrderId`.
 */
export function paymentTransaction(s: StoredOrder, t: StoredOrder['transactions'][number]): Record<string, unknown> {
  const o = s.order;
  return {
    uuid: t.uuid,
    amount: o.amount,
    currency: o.currency,
    paymentMethodType: 'CARD',
    status: t.status,
    detailedStatus: t.detailedStatus,
    operationType: 'DEBIT',
    creationDate: t.creationDate,
    errorCode: t.detailedStatus === 'REFUSED' ? '149' : null,
    detailedErrorCode: null,
    orderDetails: { orderId: o.orderId, mode: s.mode, _type: 'V4/OrderDetails' },
    transactionDetails: { paymentOrderId: o.paymentOrderId, _type: 'V4/TransactionDetails' },
    _type: 'V4/PaymentTransaction',
  };
}

/** Posts signed IPNs like the platform: form-encoded, 10 s limit, retried on failure. */
export class IpnSender {
  private readonly agent = new Agent({ connections: 8, headersTimeout: 10_000, bodyTimeout: 10_000, connectTimeout: 10_000 });
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  readonly log: IpnDelivery[] = [];

  constructor(
    private readonly retryDelaysMs: readonly number[],
    private readonly onResult: (delivered: boolean) => void,
  ) {}

  /** Sends; resolves after the first attempt. Later attempts (retries) continue in the background. */
  send(url: string, s: StoredOrder, password: string, now: number): Promise<IpnDelivery> {
    const answer = paymentAnswer(s, now);
    const fields = {
      'kr-hash': signIpn(answer, password),
      'kr-hash-algorithm': 'sha256_hmac',
      'kr-hash-key': 'password',
      'kr-answer-type': 'V4/Payment',
      'kr-answer': answer,
    };
    const d: IpnDelivery = { paymentOrderId: s.order.paymentOrderId, orderId: s.order.orderId, url, attempts: 0, last: 0, delivered: false, fields };
    this.log.push(d);
    return this.attempt(d);
  }

  private async attempt(d: IpnDelivery): Promise<IpnDelivery> {
    if (this.stopped) return d;
    d.attempts++;
    try {
      const res = await request(d.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(d.fields).toString(),
      });
      await res.body.dump();
      d.last = res.statusCode;
      d.delivered = DELIVERED.has(res.statusCode);
    } catch (e) {
      d.last = (e as { code?: string }).code ?? 'ERROR';
      d.delivered = false;
    }
    this.onResult(d.delivered);
    const delay = this.retryDelaysMs[d.attempts - 1];
    if (!d.delivered && delay !== undefined && !this.stopped) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        void this.attempt(d);
      }, delay);
      t.unref();
      this.timers.add(t);
    }
    return d;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.agent.destroy();
  }
}
