/**
 * The fields a CSV column can fill, with the header aliases finance exports use (unique across fields), matched after
 * `normaliseHeader` (case, accents, spaces, punctuation ignored). `--map FIELD=HEADER` names any other header.
 */
export interface FieldSpec {
  /** Where it goes in the CreatePaymentOrder body (docs/lyra-api.md §5). */
  api: string;
  doc: string;
  aliases: readonly string[];
  /** Run-wide default flag for files without this column (or with an empty cell). */
  defaultFlag?: string;
}

export const FIELDS = {
  orderId: {
    api: 'orderId',
    doc: 'Invoice reference: required, at most 64 characters, no accents, unique in the file. The key that prevents sending an invoice twice.',
    aliases: ['order id', 'order', 'order ref', 'order reference', 'invoice', 'invoice id', 'invoice number', 'invoice no', 'invoice ref', 'invoice reference', 'reference', 'ref', 'facture', 'n facture', 'no facture', 'num facture', 'numero facture', 'numero de facture', 'reference facture', 'ref facture', 'numero de commande', 'commande'],
  },
  amount: {
    api: 'amount',
    doc: 'Amount to pay, in major units as written (20.00, 20,00, 1 234,56, 1.234,56, 1,234.56); sent in minor units.',
    aliases: ['amount', 'total', 'amount due', 'total due', 'amount incl tax', 'total incl tax', 'total ttc', 'montant', 'montant ttc', 'montant du', 'a payer', 'net a payer', 'sum', 'price'],
  },
  currency: { api: 'currency', doc: 'ISO 4217 code (EUR, USD, JPY, TND, XPF …).', aliases: ['currency', 'currency code', 'ccy', 'cur', 'devise', 'monnaie'], defaultFlag: '--currency' },
  channel: {
    api: 'channelOptions.channelType',
    doc: 'How the link reaches the buyer: MAIL, SMS, WHATSAPP, INVOICE or URL (also email, e-mail, text, link …).',
    aliases: ['channel', 'channel type', 'channeltype', 'canal', 'send by', 'send via', 'delivery', 'mode d envoi', 'envoi'],
    defaultFlag: '--channel',
  },
  email: {
    api: 'channelOptions.mailOptions.recipient',
    doc: 'Buyer e-mail: required for MAIL.',
    aliases: ['email', 'e mail', 'mail', 'email address', 'e mail address', 'customer email', 'client email', 'recipient', 'recipient email', 'courriel', 'adresse email', 'adresse e mail', 'adresse mail'],
  },
  phone: {
    api: 'channelOptions.smsOptions.phoneNumber / whatsAppOptions.phoneNumber',
    doc: 'Buyer mobile number: required for SMS and WHATSAPP; normalised to E.164 (+33612345678).',
    aliases: ['phone', 'phone number', 'mobile', 'mobile number', 'mobile phone', 'cell', 'cell phone', 'cellphone', 'telephone', 'tel', 'tel mobile', 'gsm', 'portable', 'numero de telephone', 'whatsapp', 'whatsapp number', 'msisdn'],
  },
  locale: { api: 'locale', doc: 'Language of the page and message, ll_CC (fr_FR, en_GB); its country also reads national phone numbers.', aliases: ['locale', 'language', 'lang', 'langue'], defaultFlag: '--locale' },
  expirationDate: {
    api: 'expirationDate',
    doc: 'Link expiry: a date (end of that day, in --tz) or a date-time; within the next 90 days.',
    aliases: ['expiration date', 'expiration', 'expires', 'expires at', 'expiry', 'expiry date', 'valid until', 'date d expiration', 'expire le'],
    defaultFlag: '--expires-in',
  },
  subject: { api: 'channelOptions.mailOptions.subject', doc: 'E-mail subject (MAIL): required unless --template names a Back Office template.', aliases: ['subject', 'email subject', 'mail subject', 'objet', 'sujet'], defaultFlag: '--subject' },
  message: { api: 'mailOptions.body / smsOptions.message', doc: 'Text of the e-mail (MAIL) or SMS (SMS); the gateway default otherwise.', aliases: ['message', 'body', 'email body', 'sms message', 'sms text', 'text', 'texte'], defaultFlag: '--message' },
  template: { api: 'channelOptions.mailOptions.template', doc: 'Back Office e-mail template name (MAIL).', aliases: ['template', 'email template', 'modele'], defaultFlag: '--template' },
  bcc: { api: 'channelOptions.mailOptions.bcc', doc: 'Hidden copies of the e-mail (MAIL), separated by ;.', aliases: ['bcc', 'cci'] },
  paymentReceiptEmail: {
    api: 'paymentReceiptEmail',
    doc: 'Where the payment receipt goes.',
    aliases: ['payment receipt email', 'receipt email', 'receipt e mail', 'receipt', 'email recu', 'recu'],
    defaultFlag: '--receipt-email',
  },
  taxRate: { api: 'taxRate', doc: 'VAT rate in percent (20, 5.5).', aliases: ['tax rate', 'vat rate', 'vat %', 'taux tva', 'taux de tva'], defaultFlag: '--tax-rate' },
  taxAmount: { api: 'taxAmount', doc: 'VAT amount, written like the amount; at most the amount.', aliases: ['tax amount', 'tax', 'vat amount', 'montant tva'] },
  merchantComment: { api: 'merchantComment', doc: 'Comment for Back Office users (not shown to the buyer).', aliases: ['merchant comment', 'comment', 'comments', 'note', 'notes', 'commentaire', 'remarque'] },
  customerReference: { api: 'customer.reference', doc: 'Customer account number.', aliases: ['customer reference', 'customer ref', 'customer id', 'customer number', 'client id', 'code client', 'n client', 'numero client', 'reference client'] },
} as const satisfies Record<string, FieldSpec>;

export type FieldName = keyof typeof FIELDS;
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

/**
 * The column paybatch adds to a rows-to-fix file: why the row is there. Reading ignores it (it feeds no field and is
 * never suggested as a misspelt one), so the corrected file goes back in as it is.
 */
export const FIX_REASON_COLUMN = 'paybatchError';

/**
 * Normalised headers that name two fields: a bare `TVA` or `VAT` column holds the rate in some exports and the amount
 * in others (HT / TVA / TTC). Never read as either; the user is asked which with --map.
 */
export const TWO_WAY_HEADERS: ReadonlyMap<string, readonly [FieldName, FieldName]> = new Map([
  ['tva', ['taxRate', 'taxAmount']],
  ['vat', ['taxRate', 'taxAmount']],
]);

/** `Adresse E-mail ` → `adresseemail`; `N° facture` → `nfacture`. */
export function normaliseHeader(h: string): string {
  return h
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/°|º/g, '')
    .replace(/[^a-z0-9%]/g, '');
}

/** Normalised alias → field. Built once; a duplicated alias is a programming error caught by the tests. */
export const ALIAS_TO_FIELD: ReadonlyMap<string, FieldName> = (() => {
  const m = new Map<string, FieldName>();
  for (const f of FIELD_NAMES) {
    for (const a of [f, ...FIELDS[f].aliases]) {
      const k = normaliseHeader(a);
      if (!m.has(k)) m.set(k, f);
    }
  }
  return m;
})();

/** The field a `--map` FIELD names (case-insensitive field name), or undefined. */
export function fieldByName(name: string): FieldName | undefined {
  const k = normaliseHeader(name);
  return FIELD_NAMES.find((f) => normaliseHeader(f) === k);
}
