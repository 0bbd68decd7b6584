import type { PaymentDetails } from '../ledger/ledger.js';
import { paymentDetailsOf, readTransactions } from '../lyra/transactions.js';
import type { Mode, PaymentOrderStatus } from '../lyra/types.js';

/**
 * What paybatch keeps of a verified payment notification: enough to find the order and its new state, nothing about
 * the buyer (the kr-answer's e-mail, name, card details … are neither stored nor logged).
 */
export interface IpnNotice {
  shopId: string;
  mode: Mode;
  /** `orderDetails.orderId`: the invoice reference the order was created with. */
  orderId?: string;
  /** Where the platform puts it is undocumented (docs/lyra-api.md Q2): looked for in the usual places. */
  paymentOrderId?: string;
  /**
   * The payment order's state this notification proves, or undefined when it proves no change (the buyer
   * abandoned the page, a payment is still waiting for authorisation …): the link stays usable then.
   */
  paymentOrderStatus?: PaymentOrderStatus;
  /** `orderStatus` as sent (PAID, UNPAID, RUNNING, PARTIALLY_PAID, ABANDONED …), for the log. */
  orderStatus: string;
  /** The latest transaction's `detailedStatus` (AUTHORISED, CAPTURED, REFUSED …), for the log. */
  detailedStatus?: string;
  transactionUuid?: string;
  /** The buyer's attempts as the notification lists them (uuid, status, amount paid, method, refusal): no buyer data. */
  payment?: PaymentDetails;
  /** When the change happened on the platform: the latest transaction's creationDate, else serverDate. */
  at: string;
}

export class IpnAnswerError extends Error {
  override readonly name = 'IpnAnswerError';
  constructor(readonly code: 'PB_IPN_JSON' | 'PB_IPN_SHAPE', message: string) {
    super(message);
  }
}

const STATUSES: readonly PaymentOrderStatus[] = ['RUNNING', 'PAID', 'REFUSED', 'EXPIRED', 'CANCELLED'];
const PAID_DETAILS = new Set(['AUTHORISED', 'AUTHORISED_TO_VALIDATE', 'CAPTURED', 'ACCEPTED']);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The payment-order state a `V4/Payment` answer proves (docs/follow-up.md):
 * - an explicit payment-order status in the answer wins (`paymentOrderStatus`);
 * - orderStatus PAID, or a latest DEBIT transaction AUTHORISED/CAPTURED → PAID;
 * - orderStatus UNPAID with a latest transaction REFUSED → REFUSED, as the Back Office has it (a later payment wins
 *   by date);
 * - anything else (RUNNING, ABANDONED, a session expired or cancelled by the buyer, WAITING_AUTHORISATION …) →
 *   no change: the order stays open until its own expiration date.
 */
export function paymentOrderStatusOf(answer: { orderStatus?: string; explicit?: string; detailedStatus?: string }): PaymentOrderStatus | undefined {
  const explicit = answer.explicit?.toUpperCase();
  if (explicit === 'CANCELED') return 'CANCELLED';
  if (explicit && (STATUSES as readonly string[]).includes(explicit)) return explicit as PaymentOrderStatus;
  const orderStatus = answer.orderStatus?.toUpperCase();
  const detailed = answer.detailedStatus?.toUpperCase();
  if (orderStatus === 'PAID') return 'PAID';
  if (detailed && PAID_DETAILS.has(detailed) && orderStatus !== 'UNPAID') return 'PAID';
  if (orderStatus === 'UNPAID' && detailed === 'REFUSED') return 'REFUSED';
  return undefined;
}

/**
 * Reads a kr-answer that has ALREADY passed the signature check. Parsing happens after verification only:
 * the signature is over the raw string, never over a re-serialisation.
 */
export function readIpnAnswer(rawAnswer: string): IpnNotice {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawAnswer);
  } catch {
    throw new IpnAnswerError('PB_IPN_JSON', 'kr-answer is not JSON');
  }
  const a = obj(parsed);
  if (!a) throw new IpnAnswerError('PB_IPN_SHAPE', 'kr-answer is not an object');
  const details = obj(a.orderDetails) ?? {};
  const shopId = str(a.shopId) ?? (typeof a.shopId === 'number' ? String(a.shopId) : undefined);
  if (!shopId) throw new IpnAnswerError('PB_IPN_SHAPE', 'kr-answer has no shopId');
  const modeRaw = str(details.mode)?.toUpperCase();
  if (modeRaw !== 'TEST' && modeRaw !== 'PRODUCTION') throw new IpnAnswerError('PB_IPN_SHAPE', 'kr-answer has no orderDetails.mode TEST or PRODUCTION');

  const transactions = (Array.isArray(a.transactions) ? a.transactions : []).map(obj).filter((t): t is Json => t !== undefined);
  const latest = latestTransaction(transactions);
  const txDetails = obj(latest?.transactionDetails);
  const paymentOrderId =
    str(a.paymentOrderId) ??
    str(details.paymentOrderId) ??
    str(latest?.paymentOrderId) ??
    str(txDetails?.paymentOrderId) ??
    str(obj(a.metadata)?.paymentOrderId) ??
    str(obj(details.metadata)?.paymentOrderId);
  const explicit = str(a.paymentOrderStatus) ?? str(details.paymentOrderStatus);
  const orderStatus = str(a.orderStatus) ?? '';
  const detailedStatus = str(latest?.detailedStatus);
  const at = validDate(str(latest?.creationDate)) ?? validDate(str(a.serverDate));
  if (!at) throw new IpnAnswerError('PB_IPN_SHAPE', 'kr-answer has neither a transaction creationDate nor a serverDate');

  const payment = paymentDetailsOf(readTransactions(a.transactions), 'IPN', at);
  return {
    shopId,
    mode: modeRaw,
    orderId: str(details.orderId),
    paymentOrderId,
    paymentOrderStatus: paymentOrderStatusOf({ orderStatus, explicit, detailedStatus }),
    orderStatus,
    detailedStatus,
    transactionUuid: str(latest?.uuid),
    ...(payment ? { payment } : {}),
    at,
  };
}

/** The newest DEBIT (or untyped) transaction by creationDate; the last of the list when dates are missing. */
function latestTransaction(transactions: Json[]): Json | undefined {
  const debits = transactions.filter((t) => t.operationType === undefined || t.operationType === 'DEBIT');
  const pool = debits.length > 0 ? debits : transactions;
  let best: Json | undefined;
  let bestTime = -Infinity;
  for (const t of pool) {
    const time = Date.parse(String(t.creationDate ?? ''));
    const key = Number.isNaN(time) ? -Infinity : time;
    if (best === undefined || key >= bestTime) {
      best = t;
      bestTime = key;
    }
  }
  return best;
}

function validDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}
