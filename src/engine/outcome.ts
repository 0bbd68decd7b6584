import type { SentSummary } from '../ledger/ledger.js';
import type { PaymentOrderStatus } from '../lyra/types.js';

/**
 * The report's `status` of a row (design.md "Outcomes of a row"), plus PENDING: valid, not sent because the
 * run stopped (auth failure, circuit breaker, signal); a re-run sends it.
 */
export type RowStatus = 'CREATED' | 'INVALID' | 'FAILED' | 'UNCERTAIN' | 'PENDING';

export interface RowOutcome {
  status: RowStatus;
  paymentOrderId?: string;
  paymentURL?: string;
  paymentOrderStatus?: PaymentOrderStatus;
  errorCode?: string;
  errorMessage?: string;
  detailedErrorCode?: string;
  /** POSTs made for this order, across runs. */
  attempts: number;
  /** Settled by an earlier run: this run sent nothing for it (CREATED, or UNCERTAIN not re-sent). */
  earlier?: boolean;
  /**
   * The order that exists (CREATED), as the ledger holds it: the report and the totals show its amount, currency,
   * channel, recipient and expiry, not those of a row edited since (the `note` says what the row asks).
   */
  order?: SentSummary;
  /** Something the operator should know that is not an error, e.g. the row differs from the order sent. */
  note?: string;
  /**
   * A technical failure of this run (outcome unknown, or a transient error that ran out of attempts), as opposed to
   * the platform's considered answer: what the circuit breaker counts. Not a report column.
   */
  technical?: boolean;
}
