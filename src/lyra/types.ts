/** Types of the Lyra REST API V4 payment-order services (see docs/lyra-api.md §5–§8). */

export type ChannelType = 'URL' | 'MAIL' | 'SMS' | 'WHATSAPP' | 'INVOICE';
export const CHANNEL_TYPES: readonly ChannelType[] = ['URL', 'MAIL', 'SMS', 'WHATSAPP', 'INVOICE'];

/** TEST or PRODUCTION: chosen by the password prefix (`testpassword_…` / `prodpassword_…`). */
export type Mode = 'TEST' | 'PRODUCTION';

/** Statuses of a payment order. Lyra's spelling of the cancelled state is unverified (docs/lyra-api.md Q3): we use CANCELLED. */
export type PaymentOrderStatus = 'RUNNING' | 'PAID' | 'REFUSED' | 'EXPIRED' | 'CANCELLED';

export interface MailOptions {
  recipient: string;
  bcc?: string;
  subject?: string;
  body?: string;
  template?: string;
}
export interface SmsOptions {
  phoneNumber: string;
  message?: string;
}
export interface WhatsAppOptions {
  phoneNumber: string;
}
export interface UrlOptions {
  generateQRCode?: boolean;
  qrCodeSize?: number;
}

export interface ChannelOptions {
  channelType: ChannelType;
  mailOptions?: MailOptions;
  smsOptions?: SmsOptions;
  whatsAppOptions?: WhatsAppOptions;
  urlOptions?: UrlOptions;
}

export interface Customer {
  email?: string;
  reference?: string;
  billingDetails?: Record<string, string>;
}

/** Body of `Charge/CreatePaymentOrder`. Amounts are integers in minor units. */
export interface PaymentOrderRequest {
  amount: number;
  currency: string;
  orderId?: string;
  channelOptions?: ChannelOptions;
  /** ISO-8601 with offset; within (now, now + 90 days]. */
  expirationDate?: string;
  /** `ll_CC`, e.g. fr_FR. */
  locale?: string;
  merchantComment?: string;
  taxAmount?: number;
  taxRate?: number;
  paymentReceiptEmail?: string;
  dataCollectionForm?: boolean;
  ipnTargetUrl?: string;
  metadata?: Record<string, string>;
  customer?: Customer;
  transactionOptions?: { cardOptions?: { manualValidation?: 'YES' | 'NO'; captureDelay?: number } };
  strongAuthentication?: string;
  formAction?: string;
  paymentMethods?: string[];
  returnUrl?: string;
  successUrl?: string;
  cancelUrl?: string;
  refusedUrl?: string;
  errorUrl?: string;
  returnMode?: 'GET' | 'POST' | 'NONE';
}

/** Body of `Charge/PaymentOrder/Update`: amount + currency required, channel object again for MAIL/SMS. */
export interface PaymentOrderUpdateRequest extends Partial<Omit<PaymentOrderRequest, 'amount' | 'currency'>> {
  paymentOrderId: string;
  amount: number;
  currency: string;
}

export interface ChannelDetails {
  channelType: ChannelType;
  mailDetails?: (MailOptions & { _type: 'V4/MailDetails' }) | null;
  smsDetails?: { phoneNumber: string; message?: string | null; _type: string } | null;
  whatsAppDetails?: { phoneNumber: string; message?: string | null; _type: string } | null;
  urlDetails?: { qrCode?: string | null; _type: 'V4/URLDetails' } | null;
  _type: 'V4/ChannelDetails';
}

/** The `V4/PaymentOrder` answer of Create, Get, Update (and Cancel, by inference). */
export interface PaymentOrder {
  paymentOrderId: string;
  paymentURL: string;
  paymentOrderStatus: PaymentOrderStatus;
  creationDate: string;
  updateDate: string | null;
  amount: number;
  currency: string;
  locale: string | null;
  orderId: string | null;
  strongAuthentication?: string;
  formAction?: string;
  channelDetails: ChannelDetails;
  paymentReceiptEmail: string | null;
  taxRate: number | null;
  taxAmount: number | null;
  expirationDate: string;
  merchantComment?: string | null;
  message?: string | null;
  dataCollectionForm?: boolean;
  transactionDetails?: unknown;
  _type: 'V4/PaymentOrder';
}

/** The V4 envelope every service answers with (HTTP 200, SUCCESS or ERROR). */
export interface Envelope<A = unknown> {
  webService: string;
  version: 'V4';
  applicationVersion: string;
  status: 'SUCCESS' | 'ERROR';
  answer: A;
  ticket: string | null;
  serverDate: string;
  applicationProvider: string;
  metadata: null;
  mode?: Mode;
  _type: 'V4/WebService/Response';
}

export interface WebServiceError {
  errorCode: string;
  errorMessage: string;
  detailedErrorCode: string | null;
  detailedErrorMessage: string | null;
  ticket?: string | null;
  _type: 'V4/WebService/WebServiceError';
}

/** The buyer's side of an order, from its transactions (a notification, or Order/Get by orderId). Money in minor units. */
export interface PaymentDetails {
  source: 'IPN' | 'Order/Get';
  /** The latest attempt (DEBIT transaction). */
  transactionUuid?: string;
  /** Its `detailedStatus`: AUTHORISED, CAPTURED, REFUSED, WAITING_AUTHORISATION … */
  detailedStatus?: string;
  /** Its `paymentMethodType`: CARD … */
  method?: string;
  /** Its creationDate (platform clock): the newer details win. */
  at: string;
  /** The accepted payment, if any. */
  paid?: { amountMinor: number; currency: string; at: string; transactionUuid?: string };
  /** The latest refused attempt, if any. */
  refused?: { at: string; errorCode?: string; detailedErrorCode?: string };
  /** Attempts known (Order/Get lists them all; a notification tells of its own). */
  attempts?: number;
}
