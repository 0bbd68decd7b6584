import type { RawRow } from '../csv/raw-row.js';
import type { ChannelType, PaymentOrderRequest } from '../lyra/types.js';


/** A row that passed every check: what would be sent, and the normalised values the report shows. */
export interface OrderDraft {
  orderId: string;
  channel: ChannelType;
  /** Minor units (cents for EUR, none for JPY, mills for TND). */
  amountMinor: number;
  currency: string;
  /** e-mail for MAIL, E.164 phone for SMS/WHATSAPP, empty for URL/INVOICE. */
  recipient: string;
  expirationDate?: string;
  /**
   * The expiry came from the run-wide `--expires-in`, not from the row: every run computes a new one, so it is not a
   * change of the row (the fingerprint leaves it out).
   */
  expiresFromDefault?: boolean;
  request: PaymentOrderRequest;
}

/** Why a row cannot be sent. `code` is the API's own where one exists (INT_009 …), else a PB_ project code. */
export interface RowProblem {
  code: string;
  /** The paybatch field the problem is about (amount, currency, email …). */
  field: string;
  /** The input column header, when the field came from one. */
  column?: string;
  /** In words an accountant understands: what is wrong and what to do. */
  message: string;
}

/** `problem` is the first problem (the report's errorCode); `problems` lists every problem found, first included. */
export type Judgement = { ok: true; order: OrderDraft } | { ok: false; problem: RowProblem; problems?: RowProblem[] };

export interface JudgedRow extends RawRow {
  judgement: Judgement;
}
