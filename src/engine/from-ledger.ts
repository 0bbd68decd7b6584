import { formatMoney } from '../orders/currencies.js';
import type { LedgerEntry, SentSummary } from '../ledger/ledger.js';
import type { RowOutcome } from './outcome.js';

/** UNCERTAIN INVOICE order the platform says exists (reference already used) whose id was lost: see job.ts. */
export const INVOICE_EXISTS_CODE = 'PB_INVOICE_EXISTS';

export const RETRY_UNCERTAIN_HINT = 'it may exist — check the Back Office, then re-run with --retry-uncertain if it does not';

/**
 * Whether the ledger's entry answers the row without a request (CREATED; UNCERTAIN, unless re-sending it is asked for
 * or it is an INVOICE, which the job re-sends safely): such a row is reported from the ledger, never sent.
 */
export function ledgerAnswers(entry: LedgerEntry | undefined, retryUncertain: boolean, channel: string | undefined): boolean {
  return !!entry && (entry.state === 'CREATED' || (!retryUncertain && entry.state === 'UNCERTAIN' && channel !== 'INVOICE'));
}

/** A row as its report outcome is judged against the ledger: its fingerprint, its batch, what it would send. */
export interface RowToCompare {
  fingerprint: string;
  batchId: string;
  sent?: SentSummary;
  /** Its expiry is the run's --expires-in, not the row's: a new one each run, never an edit worth a note. */
  expiresFromDefault?: boolean;
}

/**
 * The report outcome of an existing ledger entry (a refused claim, or the queue engine's report). `row`'s fingerprint
 * tells an edited row from the one sent; its batch, "created by this run" from "by an earlier one".
 */
export function outcomeFromEntry(entry: LedgerEntry, row: RowToCompare): RowOutcome {
  const thisRun = entry.batchId === row.batchId;
  switch (entry.state) {
    case 'CREATED': {
      const out: RowOutcome = { status: 'CREATED', attempts: entry.attempts, order: entry.sent };
      if (!thisRun) out.earlier = true;
      if (entry.paymentOrderId) out.paymentOrderId = entry.paymentOrderId;
      if (entry.paymentURL) out.paymentURL = entry.paymentURL;
      if (entry.paymentOrderStatus) out.paymentOrderStatus = entry.paymentOrderStatus;
      // An order adopted from an earlier report has no fingerprint: what it sent is known by amount, channel and recipient.
      if (entry.fingerprint === '' ? adoptedDiffers(entry.sent, row.sent) : entry.fingerprint !== row.fingerprint) out.note = differenceNote(entry, row.sent, entry.fingerprint !== '' && !row.expiresFromDefault);
      return out;
    }
    case 'FAILED':
      return withError({ status: 'FAILED', attempts: entry.attempts, ...(thisRun ? {} : { earlier: true }) }, entry);
    case 'UNCERTAIN': {
      const out = withError({ status: 'UNCERTAIN', attempts: entry.attempts }, entry);
      if (!thisRun) {
        out.earlier = true;
        if (entry.errorCode === INVOICE_EXISTS_CODE) out.errorMessage = `not re-sent: ${entry.errorMessage ?? 'the order exists but its id was lost'}`;
        else {
          const why = entry.errorMessage?.includes('--retry-uncertain') ? entry.errorMessage : `${entry.errorMessage ?? 'no definite answer'}; ${RETRY_UNCERTAIN_HINT}`;
          out.errorMessage = `not re-sent: an earlier run sent it without a definite answer (${why})`;
        }
      }
      return out;
    }
    case 'SENDING':
      return {
        status: 'UNCERTAIN',
        attempts: entry.attempts,
        errorCode: 'PB_SENDING',
        errorMessage: `being sent by another run or worker, or that run stopped mid-send; ${RETRY_UNCERTAIN_HINT}`,
      };
  }
}

function withError(out: RowOutcome, entry: LedgerEntry): RowOutcome {
  if (entry.errorCode) out.errorCode = entry.errorCode;
  if (entry.errorMessage) out.errorMessage = entry.errorMessage;
  if (entry.detailedErrorCode) out.detailedErrorCode = entry.detailedErrorCode;
  return out;
}

function differenceNote(entry: LedgerEntry, sent: SentSummary | undefined, withExpiry = true): string {
  const when = entry.firstSentAt ? ` on ${entry.firstSentAt.slice(0, 10)}` : '';
  const diffs: string[] = [];
  if (sent) {
    const was = entry.sent;
    if (was.amountMinor !== sent.amountMinor || was.currency !== sent.currency) diffs.push(`amount ${formatMoney(was.amountMinor, was.currency)} → ${formatMoney(sent.amountMinor, sent.currency)}`);
    if (was.channel !== sent.channel) diffs.push(`channel ${was.channel} → ${sent.channel}`);
    if (was.recipient !== sent.recipient) diffs.push('recipient changed');
    if (withExpiry && (was.expirationDate ?? '') !== (sent.expirationDate ?? '')) diffs.push(`expiration ${was.expirationDate ?? 'default'} → ${sent.expirationDate ?? 'default'}`);
  }
  const what = diffs.length ? diffs.join(', ') : 'other fields of the request';
  return `this row differs from the order sent${when} (${what}); the order was not changed, and this report shows it as it is — \`paybatch update\` changes a RUNNING order`;
}

function adoptedDiffers(was: SentSummary, now: SentSummary | undefined): boolean {
  return !!now && (was.amountMinor !== now.amountMinor || was.currency !== now.currency || was.channel !== now.channel || (was.recipient !== '' && was.recipient !== now.recipient));
}
