import type { ChannelDetails, ChannelType, Mode, PaymentOrder, PaymentOrderStatus } from '../lyra/types.js';
import { formatMoney } from '../orders/currencies.js';
import { isoUtc } from './dates.js';
import type { SandboxFault } from './messages.js';
import { paymentTransaction } from './ipn-sender.js';
import { hexId, shortCode } from './random.js';
import { checkPaymentOrderId, parseIsoWithOffset, validateCreate, validateUpdate } from './validate.js';

/** A transparent 1×1 PNG: the sandbox's stand-in for a QR code. */
const QR_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export interface Transaction {
  uuid: string;
  status: 'PAID' | 'UNPAID';
  detailedStatus: 'AUTHORISED' | 'REFUSED';
  creationDate: string;
}

export interface StoredOrder {
  shopId: string;
  mode: Mode;
  code: string;
  ipnTargetUrl?: string;
  order: PaymentOrder;
  transactions: Transaction[];
}

export type Outcome = { ok: PaymentOrder; created?: StoredOrder } | { error: SandboxFault };

export interface StoreOptions {
  /** Base of the short links, e.g. http://127.0.0.1:4010 → http://127.0.0.1:4010/t/ab12cd34. */
  linkBase: () => string;
  now: () => number;
  /** Expiry when the request gives none (docs/lyra-api.md Q12: a shop setting on the real platform). Default 7 days. */
  defaultExpiryMs?: number;
  /** What Get/Update/Cancel answer for an order of the other mode: PSP_1000 (invisible, default) or PSP_1011. */
  crossModeCode?: 'PSP_1000' | 'PSP_1011';
  /**
   * Keep only what later calls and counters need (not the generated e-mail, SMS or QR texts), so a million-order
   * benchmark fits in memory; later answers then carry `channelDetails` with only the channel type.
   */
  lean?: boolean;
}

type Body = Record<string, any>;

/**
 * The sandbox's orders: one space per (shop, mode), so TEST orders are invisible to PRODUCTION keys.
 * Implements the lifecycle of docs/lyra-api.md §7: RUNNING → PAID / REFUSED / EXPIRED / CANCELLED.
 */
export class OrderStore {
  private readonly byId = new Map<string, StoredOrder>();
  private readonly byCode = new Map<string, StoredOrder>();
  private readonly invoiceRefs = new Map<string, string>();

  constructor(private readonly opts: StoreOptions) {}

  get size(): number {
    return this.byId.size;
  }

  create(shopId: string, mode: Mode, body: unknown): Outcome {
    const now = this.opts.now();
    const problem = validateCreate(body, now);
    if (problem) return { error: problem };
    const b = body as Body;
    const channelType: ChannelType = b.channelOptions?.channelType ?? 'URL';
    const refKey = `${shopId}|${mode}|${b.orderId}`;
    if (channelType === 'INVOICE' && this.invoiceRefs.has(refKey)) return { error: { code: 'PSP_1036', detailedMessage: `reference ${b.orderId} is already used` } };

    const paymentOrderId = hexId();
    let code = shortCode();
    while (this.byCode.has(code)) code = shortCode();
    const paymentURL = `${this.opts.linkBase()}/t/${code}`;
    const expiry = b.expirationDate ? parseIsoWithOffset(b.expirationDate)! : now + (this.opts.defaultExpiryMs ?? 7 * 86_400_000);
    const order: PaymentOrder = {
      paymentOrderId,
      paymentURL,
      paymentOrderStatus: 'RUNNING',
      creationDate: isoUtc(now),
      updateDate: null,
      amount: b.amount,
      currency: b.currency,
      locale: b.locale ?? null,
      orderId: b.orderId ?? null,
      strongAuthentication: b.strongAuthentication ?? 'AUTO',
      formAction: b.formAction ?? 'PAYMENT',
      channelDetails: channelDetails(channelType, b, paymentURL),
      paymentReceiptEmail: b.paymentReceiptEmail ?? null,
      taxRate: b.taxRate ?? null,
      taxAmount: b.taxAmount ?? null,
      expirationDate: isoUtc(expiry),
      merchantComment: b.merchantComment ?? null,
      message: null,
      dataCollectionForm: b.dataCollectionForm === true || b.dataCollectionForm === 'true',
      transactionDetails: {
        cardDetails: {
          manualValidation: b.transactionOptions?.cardOptions?.manualValidation ?? 'NO',
          captureDelay: b.transactionOptions?.cardOptions?.captureDelay ?? 0,
          _type: 'V4/CardDetails',
        },
        _type: 'V4/PaymentOrderTransactionDetails',
      },
      _type: 'V4/PaymentOrder',
    };
    const answer = copy(order);
    if (this.opts.lean) {
      order.channelDetails = leanChannelDetails(channelType);
      if (isDefaultCardDetails(order.transactionDetails)) order.transactionDetails = DEFAULT_TRANSACTION_DETAILS;
    }
    const stored: StoredOrder = { shopId, mode, code, order, transactions: [], ...(b.ipnTargetUrl ? { ipnTargetUrl: b.ipnTargetUrl } : {}) };
    this.byId.set(paymentOrderId, stored);
    this.byCode.set(code, stored);
    if (channelType === 'INVOICE') this.invoiceRefs.set(refKey, paymentOrderId);
    return { ok: answer, created: stored };
  }

  get(shopId: string, mode: Mode, body: unknown): Outcome {
    const found = this.find(shopId, mode, (body as Body | null)?.paymentOrderId);
    if ('error' in found) return found;
    return { ok: copy(found.order) };
  }

  update(shopId: string, mode: Mode, body: unknown): Outcome {
    const now = this.opts.now();
    const found = this.find(shopId, mode, (body as Body | null)?.paymentOrderId);
    if ('error' in found) return found;
    const problem = validateUpdate(body, now);
    if (problem) return { error: problem };
    const guard = guardOpen(found.order.paymentOrderStatus);
    if (guard) return { error: guard };
    const b = body as Body;
    const o = found.order;
    const channel = o.channelDetails.channelType;
    const asked = b.channelOptions?.channelType;
    if (asked !== undefined && asked !== channel) return { error: { code: 'PSP_1017' } };
    // The seed's Update example repeats the channel object: required for MAIL and SMS (SG-UPD), optional otherwise.
    if (channel === 'MAIL' && !b.channelOptions?.mailOptions) return { error: { code: 'INT_841' } };
    if (channel === 'SMS' && !b.channelOptions?.smsOptions) return { error: { code: 'INT_836' } };
    if (channel === 'INVOICE' && b.orderId !== undefined && b.orderId !== o.orderId) {
      const refKey = `${found.shopId}|${found.mode}|${b.orderId}`;
      if (this.invoiceRefs.has(refKey)) return { error: { code: 'PSP_1036' } };
      this.invoiceRefs.delete(`${found.shopId}|${found.mode}|${o.orderId}`);
      this.invoiceRefs.set(refKey, o.paymentOrderId);
    }

    o.amount = b.amount;
    o.currency = b.currency;
    if (b.orderId !== undefined) o.orderId = b.orderId;
    if (b.locale !== undefined) o.locale = b.locale;
    if (b.paymentReceiptEmail !== undefined) o.paymentReceiptEmail = b.paymentReceiptEmail;
    if (b.taxRate !== undefined) o.taxRate = b.taxRate;
    if (b.taxAmount !== undefined) o.taxAmount = b.taxAmount;
    if (b.merchantComment !== undefined) o.merchantComment = b.merchantComment;
    if (b.dataCollectionForm !== undefined) o.dataCollectionForm = b.dataCollectionForm === true || b.dataCollectionForm === 'true';
    // docs/lyra-api.md Q6: an Update without expirationDate keeps the old one (nothing says it resets).
    if (b.expirationDate) o.expirationDate = isoUtc(parseIsoWithOffset(b.expirationDate)!);
    if (b.ipnTargetUrl) found.ipnTargetUrl = b.ipnTargetUrl;
    if (b.channelOptions) o.channelDetails = channelDetails(channel, { ...b, orderId: o.orderId }, o.paymentURL);
    o.updateDate = isoUtc(now);
    const answer = copy(o);
    if (this.opts.lean) o.channelDetails = leanChannelDetails(channel);
    return { ok: answer };
  }

  cancel(shopId: string, mode: Mode, body: unknown): Outcome {
    const found = this.find(shopId, mode, (body as Body | null)?.paymentOrderId);
    if ('error' in found) return found;
    const guard = guardOpen(found.order.paymentOrderStatus);
    if (guard) return { error: guard };
    found.order.paymentOrderStatus = 'CANCELLED';
    found.order.updateDate = isoUtc(this.opts.now());
    return { ok: copy(found.order) };
  }

  /** The buyer pays (or is refused). docs/lyra-api.md Q4: REFUSED is final, like the Back Office's red "Finalized". */
  settle(paymentOrderId: string, refuse: boolean): { ok: StoredOrder } | { error: SandboxFault } {
    const s = this.byId.get(paymentOrderId);
    if (!s) return { error: { code: 'PSP_1000' } };
    this.expireIfDue(s);
    const guard = guardOpen(s.order.paymentOrderStatus);
    if (guard) return { error: guard };
    const now = this.opts.now();
    s.transactions.push({
      uuid: (paymentOrderId.slice(0, 8) + hexId()).slice(0, 32),
      status: refuse ? 'UNPAID' : 'PAID',
      detailedStatus: refuse ? 'REFUSED' : 'AUTHORISED',
      creationDate: isoUtc(now),
    });
    s.order.paymentOrderStatus = refuse ? 'REFUSED' : 'PAID';
    s.order.updateDate = isoUtc(now);
    return { ok: s };
  }

  /**
   * `Order/Get`: the transactions of every payment order of this shop and mode made with `orderId` (only attempts:
   * an order nobody tried to pay lists none), at most 30 (`PSP_015` above), optionally of one `operationType`.
   */
  orderTransactions(shopId: string, mode: Mode, body: unknown): { ok: { shopId: string; transactions: Record<string, unknown>[]; _type: 'V4/OrderTransactions' } } | { error: SandboxFault } {
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Body;
    for (const k of Object.keys(b)) if (k !== 'orderId' && k !== 'operationType') return { error: { code: 'INT_900', detailedMessage: `unknown parameter ${k}` } };
    if (typeof b.orderId !== 'string' || b.orderId === '' || b.orderId.length > 64) return { error: { code: 'INT_013' } };
    if (b.operationType !== undefined && !['DEBIT', 'CREDIT', 'VERIFICATION'].includes(b.operationType)) return { error: { code: 'INT_902', detailedMessage: 'operationType must be DEBIT, CREDIT or VERIFICATION' } };
    const orders = this.byOrderId(b.orderId).filter((s) => s.shopId === shopId && s.mode === mode);
    // Every sandbox transaction is a DEBIT (a payment attempt).
    const transactions = b.operationType === undefined || b.operationType === 'DEBIT' ? orders.flatMap((s) => s.transactions.map((t) => paymentTransaction(s, t))) : [];
    if (transactions.length > 30) return { error: { code: 'PSP_015' } };
    return { ok: { shopId, transactions, _type: 'V4/OrderTransactions' } };
  }

  /** Moves every RUNNING order whose expirationDate has passed to EXPIRED; returns how many moved. */
  expireDue(): number {
    let n = 0;
    for (const s of this.byId.values()) if (this.expireIfDue(s)) n++;
    return n;
  }

  byPaymentOrderId(id: string): StoredOrder | undefined {
    const s = this.byId.get(id);
    if (s) this.expireIfDue(s);
    return s;
  }

  byShortCode(code: string): StoredOrder | undefined {
    const s = this.byCode.get(code);
    if (s) this.expireIfDue(s);
    return s;
  }

  byOrderId(orderId: string): StoredOrder[] {
    const out: StoredOrder[] = [];
    for (const s of this.byId.values()) if (s.order.orderId === orderId) out.push(s);
    for (const s of out) this.expireIfDue(s);
    return out;
  }

  private expireIfDue(s: StoredOrder): boolean {
    if (s.order.paymentOrderStatus !== 'RUNNING') return false;
    if (Date.parse(s.order.expirationDate) > this.opts.now()) return false;
    s.order.paymentOrderStatus = 'EXPIRED';
    return true;
  }

  private find(shopId: string, mode: Mode, id: unknown): StoredOrder | { error: SandboxFault } {
    const bad = checkPaymentOrderId(id);
    if (bad) return { error: bad };
    const s = this.byId.get(id as string);
    if (!s || s.shopId !== shopId) return { error: { code: 'PSP_1000' } };
    if (s.mode !== mode) return { error: { code: this.opts.crossModeCode ?? 'PSP_1000' } };
    this.expireIfDue(s);
    return s;
  }
}

/** Shared by every lean order (answers are copies, so nothing writes into them). */
const LEAN_CHANNEL_DETAILS = new Map<ChannelType, ChannelDetails>();
function leanChannelDetails(type: ChannelType): ChannelDetails {
  let d = LEAN_CHANNEL_DETAILS.get(type);
  if (!d) {
    d = Object.freeze({ channelType: type, mailDetails: null, smsDetails: null, whatsAppDetails: null, urlDetails: null, _type: 'V4/ChannelDetails' }) as ChannelDetails;
    LEAN_CHANNEL_DETAILS.set(type, d);
  }
  return d;
}

const DEFAULT_TRANSACTION_DETAILS = Object.freeze({
  cardDetails: Object.freeze({ manualValidation: 'NO', captureDelay: 0, _type: 'V4/CardDetails' }),
  _type: 'V4/PaymentOrderTransactionDetails',
});
function isDefaultCardDetails(t: unknown): boolean {
  const c = (t as { cardDetails?: { manualValidation?: unknown; captureDelay?: unknown } } | undefined)?.cardDetails;
  return c?.manualValidation === 'NO' && c.captureDelay === 0;
}

/** docs/lyra-api.md §7: only RUNNING may be updated or cancelled. */
function guardOpen(status: PaymentOrderStatus): SandboxFault | null {
  switch (status) {
    case 'RUNNING':
      return null;
    case 'PAID':
    case 'REFUSED':
      return { code: 'PSP_1005' };
    case 'EXPIRED':
      return { code: 'PSP_1006' };
    case 'CANCELLED':
      return { code: 'PSP_1101' };
  }
}


/** What the gateway generates and returns, so a merchant can reuse the text (docs/lyra-api.md §6). */
function channelDetails(type: ChannelType, b: Body, url: string): ChannelDetails {
  const ref = b.orderId ? ` ${b.orderId}` : '';
  const text = `Payment order${ref}: ${formatMoney(b.amount, b.currency)}. Pay here: ${url}`;
  const d: ChannelDetails = { channelType: type, mailDetails: null, smsDetails: null, whatsAppDetails: null, urlDetails: null, _type: 'V4/ChannelDetails' };
  const co = b.channelOptions ?? {};
  switch (type) {
    case 'MAIL': {
      const m = co.mailOptions;
      d.mailDetails = {
        recipient: m.recipient,
        ...(m.bcc ? { bcc: m.bcc } : {}),
        subject: m.subject ?? `Payment order${ref}`,
        body: m.body ?? `<p>${text}</p>`,
        ...(m.template ? { template: m.template } : {}),
        _type: 'V4/MailDetails',
      };
      break;
    }
    case 'SMS':
      d.smsDetails = { phoneNumber: co.smsOptions.phoneNumber, message: co.smsOptions.message ?? text, _type: 'V4/SMSDetails' };
      break;
    case 'WHATSAPP':
      d.whatsAppDetails = { phoneNumber: co.whatsAppOptions.phoneNumber, message: text, _type: 'V4/WhatsAppDetails' };
      break;
    case 'URL': {
      const qr = co.urlOptions?.generateQRCode === true || co.urlOptions?.generateQRCode === 'true';
      d.urlDetails = { qrCode: qr ? QR_PNG : null, _type: 'V4/URLDetails' };
      break;
    }
    case 'INVOICE':
      break;
  }
  return d;
}

function copy<T>(v: T): T {
  return structuredClone(v);
}
