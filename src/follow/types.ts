import type { TransactionSummary } from '../lyra/transactions.js';
import type { PaymentOrder, PaymentOrderUpdateRequest } from '../lyra/types.js';

/** The part of src/lyra/client.ts `LyraClient` the follow-up commands use. */
export interface FollowClient {
  getPaymentOrder(paymentOrderId: string): Promise<PaymentOrder>;
  updatePaymentOrder(req: PaymentOrderUpdateRequest): Promise<PaymentOrder>;
  cancelPaymentOrder(paymentOrderId: string): Promise<PaymentOrder>;
  getOrderTransactions(orderId: string): Promise<{ transactions: TransactionSummary[]; serverDate?: string }>;
}

/**
 * What happened to one order in a follow-up command (report column `result`):
 * - OK         status: read; update/cancel: done now
 * - UNCHANGED  update: nothing differs · cancel: already CANCELLED
 * - SKIPPED    not RUNNING (PAID, REFUSED, EXPIRED, CANCELLED): reported, not an error of the run
 * - NOT_SENT   the ledger has no payment order for it (never sent, FAILED, or UNCERTAIN without an id)
 * - WOULD      dry run: what would be done
 * - FAILED     the platform refused, or the call failed: `errorCode`, `errorMessage`
 * - UNCERTAIN  update/cancel sent, no definite answer and a re-read did not settle it
 * - PENDING    not attempted: the run stopped (auth failure, signal); a re-run does it
 */
export type FollowResult = 'OK' | 'UNCHANGED' | 'SKIPPED' | 'NOT_SENT' | 'WOULD' | 'FAILED' | 'UNCERTAIN' | 'PENDING';

/** Results that leave the row "not done" (exit code 1). */
export const NOT_DONE: ReadonlySet<FollowResult> = new Set(['FAILED', 'UNCERTAIN', 'PENDING']);
