import { formatMoney } from '../orders/currencies.js';
import type { OrderDraft } from '../orders/types.js';
import type { ChannelOptions, PaymentOrder, PaymentOrderStatus, PaymentOrderUpdateRequest } from '../lyra/types.js';

/** A field `update` may change. The channel never changes (PSP_1017), nor the recipient (cancel and re-send instead). */
export type UpdatableField = 'amount' | 'expirationDate' | 'subject' | 'body' | 'message' | 'paymentReceiptEmail';

export interface FieldChange {
  field: UpdatableField;
  from: string;
  to: string;
}

/** Changes every selected order gets, whatever its row says (`--expires-in 15d`). */
export interface RunWideChanges {
  /** ISO-8601 UTC. */
  expirationDate?: string;
}

export type UpdatePlan =
  | { kind: 'update'; request: PaymentOrderUpdateRequest; changes: FieldChange[]; notes: string[] }
  | { kind: 'unchanged'; notes: string[] }
  /** Only RUNNING orders can change (PSP_1005/1006/1101 otherwise): reported, not an error of the run. */
  | { kind: 'not-running'; status: PaymentOrderStatus }
  /** The row asks for something Update cannot do. */
  | { kind: 'refused'; code: 'PB_CHANNEL_CHANGED' | 'PB_CURRENCY_CHANGED'; message: string };

/**
 * What `update` would send: the row's stated fields against a fresh Get; the request repeats the current values of the
 * rest (amount, currency, MAIL/SMS channel and recipient), so an Update never resets a field by omission.
 */
export function planUpdate(input: { draft?: OrderDraft; current: PaymentOrder; runWide?: RunWideChanges }): UpdatePlan {
  const { draft, current } = input;
  if (current.paymentOrderStatus !== 'RUNNING') return { kind: 'not-running', status: current.paymentOrderStatus };
  const notes: string[] = [];
  const changes: FieldChange[] = [];
  const channel = current.channelDetails?.channelType ?? 'URL';
  const want = draft?.request;

  if (draft && draft.channel !== channel) {
    return { kind: 'refused', code: 'PB_CHANNEL_CHANGED', message: `the row says channel ${draft.channel} but the order was sent by ${channel}; a channel cannot change — cancel and send a new order` };
  }
  if (want && want.currency !== current.currency) {
    return { kind: 'refused', code: 'PB_CURRENCY_CHANGED', message: `the row says ${want.currency} but the order is in ${current.currency}; cancel and send a new order` };
  }

  let amount = current.amount;
  if (want && want.amount !== current.amount) {
    changes.push({ field: 'amount', from: formatMoney(current.amount, current.currency), to: formatMoney(want.amount, current.currency) });
    amount = want.amount;
  }

  let expirationDate: string | undefined = current.expirationDate ?? undefined;
  const wantedExpiry = input.runWide?.expirationDate ?? want?.expirationDate;
  if (wantedExpiry !== undefined && !sameInstant(wantedExpiry, current.expirationDate)) {
    changes.push({ field: 'expirationDate', from: current.expirationDate ?? '', to: wantedExpiry });
    expirationDate = wantedExpiry;
  }

  let paymentReceiptEmail = current.paymentReceiptEmail ?? undefined;
  if (want?.paymentReceiptEmail !== undefined && want.paymentReceiptEmail !== (current.paymentReceiptEmail ?? undefined)) {
    changes.push({ field: 'paymentReceiptEmail', from: current.paymentReceiptEmail ?? '', to: want.paymentReceiptEmail });
    paymentReceiptEmail = want.paymentReceiptEmail;
  }

  let channelOptions: ChannelOptions | undefined;
  const details = current.channelDetails;
  if (channel === 'MAIL') {
    const mail = details?.mailDetails ?? undefined;
    const wantMail = want?.channelOptions?.mailOptions;
    const subject = pick('subject', mail?.subject ?? undefined, wantMail?.subject, changes);
    const body = pick('body', mail?.body ?? undefined, wantMail?.body, changes);
    if (draft && mail?.recipient && draft.recipient && !sameText(draft.recipient, mail.recipient)) notes.push('the row names another recipient: not changed (an order keeps its recipient; cancel and re-send)');
    channelOptions = {
      channelType: 'MAIL',
      mailOptions: {
        recipient: mail?.recipient ?? draft?.recipient ?? '',
        ...(subject !== undefined ? { subject } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(mail?.template && subject === undefined ? { template: mail.template } : {}),
        ...(mail?.bcc ? { bcc: mail.bcc } : {}),
      },
    };
  } else if (channel === 'SMS') {
    const sms = details?.smsDetails ?? undefined;
    const message = pick('message', sms?.message ?? undefined, want?.channelOptions?.smsOptions?.message, changes);
    if (draft && sms?.phoneNumber && draft.recipient && draft.recipient !== sms.phoneNumber) notes.push('the row names another phone number: not changed (an order keeps its recipient; cancel and re-send)');
    channelOptions = { channelType: 'SMS', smsOptions: { phoneNumber: sms?.phoneNumber ?? draft?.recipient ?? '', ...(message !== undefined ? { message } : {}) } };
  } else if (channel === 'WHATSAPP') {
    const wa = details?.whatsAppDetails ?? undefined;
    channelOptions = { channelType: 'WHATSAPP', whatsAppOptions: { phoneNumber: wa?.phoneNumber ?? draft?.recipient ?? '' } };
  }

  if (changes.length === 0) return { kind: 'unchanged', notes };
  const request: PaymentOrderUpdateRequest = {
    paymentOrderId: current.paymentOrderId,
    amount,
    currency: current.currency,
    ...(current.orderId ? { orderId: current.orderId } : {}),
    ...(expirationDate ? { expirationDate } : {}),
    ...(paymentReceiptEmail ? { paymentReceiptEmail } : {}),
    ...(current.locale ? { locale: current.locale } : {}),
    ...(channelOptions ? { channelOptions } : {}),
  };
  return { kind: 'update', request, changes, notes };
}

/** The value to send for a text field: the row's when it states one that differs (recorded as a change), else the current one. */
function pick(field: UpdatableField, current: string | undefined, wanted: string | undefined, changes: FieldChange[]): string | undefined {
  if (wanted === undefined || wanted === '' || wanted === current) return current;
  changes.push({ field, from: current ?? '', to: wanted });
  return wanted;
}

function sameInstant(a: string, b: string | null | undefined): boolean {
  if (!b) return false;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  // The platform keeps whole seconds and answers in UTC: compare instants, to the second.
  return Number.isFinite(ta) && Number.isFinite(tb) && Math.floor(ta / 1000) === Math.floor(tb / 1000);
}

function sameText(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** `15d`, `36h`, `90m`, `2w` → milliseconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(m|min|h|d|w)\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const ms = unit === 'w' ? 7 * 86_400_000 : unit === 'd' ? 86_400_000 : unit === 'h' ? 3_600_000 : 60_000;
  return n * ms;
}
