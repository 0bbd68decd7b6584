import type { ChannelType, Mode, PaymentDetails, PaymentOrderStatus } from '../lyra/types.js';
import type { MergeReport } from './merge.js';

export type { PaymentDetails };

/**
 * The durable state of every order of one shop and mode, keyed by orderId: the only guard against sending an invoice
 * twice (Lyra has no idempotency key and no lookup by orderId).
 * - SENDING   durable *before* the POST leaves: a request may be on its way. Found after a crash: read as UNCERTAIN.
 * - CREATED   the platform answered with a payment order.
 * - FAILED    ERROR answered, or retry-safe errors ran out: provably nothing exists, a later run may send it.
 * - UNCERTAIN sent, no definite answer: never re-sent without the operator's explicit flag.
 */
export type LedgerState = 'SENDING' | 'CREATED' | 'FAILED' | 'UNCERTAIN';

/** What was sent, for reports and follow-up commands. No secret; the recipient is kept because `update` needs it. */
export interface SentSummary {
  amountMinor: number;
  currency: string;
  channel: ChannelType;
  recipient: string;
  expirationDate?: string;
}

export interface LedgerEntry {
  orderId: string;
  state: LedgerState;
  /** POSTs made for this orderId across all runs. */
  attempts: number;
  /** sha256 of the canonical request body last sent: tells an edited row from the one sent. */
  fingerprint: string;
  sent: SentSummary;
  paymentOrderId?: string;
  paymentURL?: string;
  paymentOrderStatus?: PaymentOrderStatus;
  errorCode?: string;
  errorMessage?: string;
  detailedErrorCode?: string;
  /** The batch (run) that last claimed it. */
  batchId?: string;
  /** ISO date-times. */
  firstSentAt?: string;
  updatedAt: string;
  /** Last change of paymentOrderStatus seen through Get, IPN, Update or Cancel. */
  statusChangedAt?: string;
  /** What a payment notification or Order/Get told of the buyer's attempts (src/ledger/payment-details.ts). */
  payment?: PaymentDetails;
  /** The last decision of `paybatch resolve` about this order, with its evidence. */
  resolution?: Resolution;
}

/**
 * `paybatch resolve` on an UNCERTAIN order (src/follow/resolve.ts):
 * - FOUND            the order exists (a transaction or a notification for its orderId): it is CREATED
 * - SAFE_TO_RESEND   never found, and its latest possible expiry has passed: it can no longer be paid
 * - STILL_UNCERTAIN  not found yet, and it may still be paid: safe to re-send from `safeFrom`
 */
export interface Resolution {
  decision: 'FOUND' | 'SAFE_TO_RESEND' | 'STILL_UNCERTAIN';
  /** When decided (the platform's clock when it answered). */
  at: string;
  evidence: string;
  /** The latest possible expiry: from then on a re-send cannot make two payable orders. */
  safeFrom?: string;
}

export interface ClaimRequest {
  fingerprint: string;
  sent: SentSummary;
  batchId?: string;
  /** The operator said UNCERTAIN (and interrupted SENDING) orders may be sent again. */
  retryUncertain: boolean;
}

export type ClaimResult =
  /** The caller owns the order now and must end the claim with `record` or `release`. */
  | { kind: 'claimed'; token: string; previous?: LedgerEntry }
  /** Not to be sent: CREATED, UNCERTAIN, or SENDING owned by someone else. */
  | { kind: 'refused'; entry: LedgerEntry };

/** `attempts` here: POSTs made under this claim; the ledger adds them to the entry's total (`LedgerEntry.attempts`). */
export type Outcome =
  | { state: 'CREATED'; attempts: number; paymentOrderId: string; paymentURL: string; paymentOrderStatus: PaymentOrderStatus }
  | { state: 'FAILED'; attempts: number; errorCode: string; errorMessage: string; detailedErrorCode?: string }
  | { state: 'UNCERTAIN'; attempts: number; errorCode: string; errorMessage: string; detailedErrorCode?: string };

/** What follow-up commands learn about an existing order (Get, IPN, Update, Cancel). */
export interface Observation {
  paymentOrderId?: string;
  /** Known from a Get: fills an entry that lacks it (an UNCERTAIN order found to exist). */
  paymentURL?: string;
  paymentOrderStatus?: PaymentOrderStatus;
  sent?: Partial<SentSummary>;
  /** The buyer's attempts (notification, Order/Get). */
  payment?: PaymentDetails;
  /** A transaction or notification for the orderId proves the order exists, even without its payment order id. */
  exists?: boolean;
  /** A decision of `paybatch resolve`. */
  resolution?: Resolution;
  /** When the platform says the change happened; ignored if older than what the ledger knows (out-of-order IPNs). */
  at: string;
}

/** Narrows `Ledger.entries`: orders first sent in [sentFrom, sentBefore) (ISO date-times), or last claimed by a batch. */
export interface EntriesFilter {
  sentFrom?: string;
  sentBefore?: string;
  batchId?: string;
}

/** Whether an entry passes an EntriesFilter: the rule every ledger applies, by index or by reading. */
export function entryMatches(e: LedgerEntry, f: EntriesFilter | undefined): boolean {
  if (!f) return true;
  if (f.batchId !== undefined && e.batchId !== f.batchId) return false;
  if (f.sentFrom === undefined && f.sentBefore === undefined) return true;
  const sent = e.firstSentAt ? Date.parse(e.firstSentAt) : Number.NaN;
  if (Number.isNaN(sent)) return false;
  return (f.sentFrom === undefined || sent >= Date.parse(f.sentFrom)) && (f.sentBefore === undefined || sent < Date.parse(f.sentBefore));
}

/**
 * One ledger of record per shop and mode (src/ledger/open-ledger.ts chooses it): the embedded database in the state
 * directory (local/) or Redis (redis/). Every command and both engines go through this interface.
 */
export interface Ledger {
  readonly shopId: string;
  readonly mode: Mode;
  /** Where it is, for messages: a file path or a Redis URL without its password. */
  readonly where: string;
  get(orderId: string): Promise<LedgerEntry | undefined>;
  /** Atomically: if the order may be sent, mark it SENDING and make that durable before resolving. */
  claim(orderId: string, req: ClaimRequest): Promise<ClaimResult>;
  /**
   * End a claim with the platform's answer; resolves once durable. false (nothing changed) if `token` no longer owns it.
   * `onQueued` runs, inside the ledger's step, once the outcome is queued ahead of every later write; it must not throw.
   */
  record(orderId: string, token: string, outcome: Outcome, onQueued?: () => void): Promise<boolean>;
  /** End a claim when provably no request left (aborted before the POST, or an auth failure): back to the state before. */
  release(orderId: string, token: string): Promise<void>;
  observe(orderId: string, obs: Observation): Promise<LedgerEntry | undefined>;
  /** Every entry, or those `filter` selects (the local ledger answers a period or a batch from its indexes). */
  entries(filter?: EntriesFilter): AsyncIterable<LedgerEntry>;
  /** Takes in entries of another ledger or of an earlier report by the one merge rule (merge.ts); durable on return. */
  merge(entries: readonly LedgerEntry[]): Promise<MergeReport>;
  /**
   * Forgets the buyer's e-mail address or phone number of orders that are over (paid, refused, expired, cancelled,
   * failed) and unchanged since `before`. What the guard needs — orderId, state, fingerprint, ids, amount — stays.
   */
  purgePersonalData(before: Date): Promise<number>;
  close(): Promise<void>;
}

/** What the job function needs of a ledger to send one row: the claim protocol, nothing else. */
export type ClaimingLedger = Pick<Ledger, 'shopId' | 'mode' | 'get' | 'claim' | 'record' | 'release' | 'observe'>;
