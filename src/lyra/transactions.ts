import type { PaymentDetails } from './types.js';

/**
 * One `V4/PaymentTransaction` as paybatch reads it, from a notification (`V4/Payment`) or from `Order/Get`
 * (`V4/OrderTransactions`): the attempt, never the buyer (card, name, e-mail are not read).
 */
export interface TransactionSummary {
  uuid?: string;
  amountMinor?: number;
  currency?: string;
  method?: string;
  status?: string;
  detailedStatus?: string;
  operationType?: string;
  creationDate?: string;
  errorCode?: string;
  detailedErrorCode?: string;
  /** docs/lyra-api.md Q2: where the platform puts it is undocumented; looked for in the usual places. */
  paymentOrderId?: string;
}

/** detailedStatus values of an accepted payment. */
export const PAID_DETAILS: ReadonlySet<string> = new Set(['AUTHORISED', 'AUTHORISED_TO_VALIDATE', 'CAPTURED', 'ACCEPTED']);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** The transactions of an answer's `transactions` array; anything that is not an object is skipped. */
export function readTransactions(list: unknown): TransactionSummary[] {
  return (Array.isArray(list) ? list : []).flatMap((raw) => {
    const t = obj(raw);
    if (!t) return [];
    const details = obj(t.transactionDetails);
    const amount = typeof t.amount === 'number' && Number.isInteger(t.amount) ? t.amount : undefined;
    const s: TransactionSummary = {};
    const set = <K extends keyof TransactionSummary>(k: K, v: TransactionSummary[K] | undefined): void => {
      if (v !== undefined) s[k] = v;
    };
    set('uuid', str(t.uuid));
    set('amountMinor', amount);
    set('currency', str(t.currency));
    set('method', str(t.paymentMethodType));
    set('status', str(t.status));
    set('detailedStatus', str(t.detailedStatus)?.toUpperCase());
    set('operationType', str(t.operationType));
    set('creationDate', validDate(str(t.creationDate)));
    set('errorCode', str(t.errorCode));
    set('detailedErrorCode', str(t.detailedErrorCode));
    set('paymentOrderId', str(t.paymentOrderId) ?? str(details?.paymentOrderId) ?? str(obj(t.metadata)?.paymentOrderId) ?? str(obj(t.orderDetails)?.paymentOrderId));
    return [s];
  });
}

/** The buyer's attempts: DEBIT (or untyped) transactions; refunds and card verifications are not payments. */
export function debits(txs: readonly TransactionSummary[]): TransactionSummary[] {
  return txs.filter((t) => t.operationType === undefined || t.operationType === 'DEBIT');
}

/** The newest by creationDate; the last of the list when dates are missing or equal. */
export function latestTransaction(txs: readonly TransactionSummary[]): TransactionSummary | undefined {
  let best: TransactionSummary | undefined;
  let bestTime = -Infinity;
  for (const t of txs) {
    const time = t.creationDate ? Date.parse(t.creationDate) : -Infinity;
    if (best === undefined || time >= bestTime) {
      best = t;
      bestTime = time;
    }
  }
  return best;
}

/**
 * What the ledger keeps of a list of attempts (src/ledger/ledger.ts PaymentDetails); undefined when there is no
 * attempt. `fallbackAt` dates an attempt the platform left undated (the answer's serverDate).
 */
export function paymentDetailsOf(all: readonly TransactionSummary[], source: PaymentDetails['source'], fallbackAt: string): PaymentDetails | undefined {
  const txs = debits(all);
  const latest = latestTransaction(txs);
  if (!latest) return undefined;
  const out: PaymentDetails = { source, at: latest.creationDate ?? fallbackAt };
  if (latest.uuid) out.transactionUuid = latest.uuid;
  if (latest.detailedStatus) out.detailedStatus = latest.detailedStatus;
  if (latest.method) out.method = latest.method;
  const paid = latestTransaction(txs.filter((t) => t.detailedStatus && PAID_DETAILS.has(t.detailedStatus)));
  if (paid && paid.amountMinor !== undefined && paid.currency) {
    out.paid = { amountMinor: paid.amountMinor, currency: paid.currency, at: paid.creationDate ?? fallbackAt, ...(paid.uuid ? { transactionUuid: paid.uuid } : {}) };
  }
  const refused = latestTransaction(txs.filter((t) => t.detailedStatus === 'REFUSED'));
  if (refused) out.refused = { at: refused.creationDate ?? fallbackAt, ...(refused.errorCode ? { errorCode: refused.errorCode } : {}), ...(refused.detailedErrorCode ? { detailedErrorCode: refused.detailedErrorCode } : {}) };
  out.attempts = txs.length;
  return out;
}

function validDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}
