import { describe, expect, it } from 'vitest';
import { buildMapping } from '../../src/orders/map.js';
import { ALIAS_TO_FIELD, FIELDS, FIELD_NAMES, normaliseHeader } from '../../src/orders/fields.js';
import { ConfigError, InputError } from '../../src/errors/paybatch-error.js';

const cols = (headers: string[], opts = {}) =>
  Object.fromEntries(Object.entries(buildMapping(headers, opts).columns).map(([f, c]) => [f, c.header]));

describe('headers are matched to fields case-insensitively, with the aliases finance exports use', () => {
  it('given a French Excel header row, finds every field', () => {
    expect(cols(['N° facture', 'Nom du client', 'Montant TTC', 'Devise', 'Canal', 'Courriel', 'Téléphone', 'Langue', 'Objet', 'Commentaire'])).toEqual({
      orderId: 'N° facture',
      amount: 'Montant TTC',
      currency: 'Devise',
      channel: 'Canal',
      email: 'Courriel',
      phone: 'Téléphone',
      locale: 'Langue',
      subject: 'Objet',
      merchantComment: 'Commentaire',
    });
  });

  it('given an English ERP export, finds every field', () => {
    expect(cols(['Invoice Number', 'Amount', 'CURRENCY', 'Channel', 'E-mail', 'Mobile', 'Expiry Date', 'VAT Rate', 'Tax Amount', 'Receipt E-mail', 'Customer ID'])).toEqual({
      orderId: 'Invoice Number',
      amount: 'Amount',
      currency: 'CURRENCY',
      channel: 'Channel',
      email: 'E-mail',
      phone: 'Mobile',
      expirationDate: 'Expiry Date',
      taxRate: 'VAT Rate',
      taxAmount: 'Tax Amount',
      paymentReceiptEmail: 'Receipt E-mail',
      customerReference: 'Customer ID',
    });
  });

  it("the field's own name wins over an alias", () => {
    expect(cols(['reference', 'orderId', 'amount'], { defaults: { currency: 'EUR', channel: 'URL' } }).orderId).toBe('orderId');
  });

  it('no alias belongs to two fields', () => {
    const seen = new Map<string, string>();
    for (const f of FIELD_NAMES) {
      for (const a of [f, ...FIELDS[f].aliases]) {
        const k = normaliseHeader(a);
        expect(seen.get(k) ?? f, `alias "${a}" of ${f} is also an alias of ${seen.get(k)}`).toBe(f);
        seen.set(k, f);
      }
    }
    expect(ALIAS_TO_FIELD.get('email')).toBe('email');
  });
});

describe('--map and run-wide defaults', () => {
  it('--map FIELD=HEADER names any other header, exactly or ignoring case', () => {
    expect(cols(['Doc', 'Total à régler', 'ccy', 'via'], { map: { orderId: 'Doc', amount: 'total à RÉGLER', channel: 'via' } })).toMatchObject({ orderId: 'Doc', amount: 'Total à régler', currency: 'ccy', channel: 'via' });
  });

  it('an unknown --map field is a setting error listing the fields', () => {
    expect(() => buildMapping(['a'], { map: { montant: 'a' } })).toThrow(ConfigError);
    expect(() => buildMapping(['a'], { map: { montant: 'a' } })).toThrow(/"montant" is not a paybatch field; fields are: orderId, amount, currency/);
  });

  it('a --map header the file does not have is an input error listing its columns', () => {
    const run = () => buildMapping(['invoice', 'amount'], { map: { currency: 'Devise' }, file: 'x.csv' });
    expect(run).toThrow(InputError);
    expect(run).toThrow(/^x\.csv: --map currency=Devise: the file has no column "Devise"; its columns are: "invoice", "amount"$/);
  });

  it('a missing required column without a default says what to add or which flag to pass', () => {
    expect(() => buildMapping(['invoice', 'amount', 'channel'])).toThrow(/no currency column \(or pass --currency EUR for the whole file\)/);
    expect(() => buildMapping(['amount', 'currency', 'channel'])).toThrow(/no orderId column.*--map orderId=HEADER/);
    expect(() => buildMapping(['invoice', 'amount', 'currency'])).toThrow(/no channel column/);
    expect(buildMapping(['invoice', 'amount'], { defaults: { currency: 'eur', channel: 'e-mail' } }).defaults).toMatchObject({ currency: 'EUR', channel: 'MAIL' });
  });

  it('two columns matching one field equally are refused, not guessed', () => {
    expect(() => buildMapping(['invoice', 'Invoice', 'amount'], { defaults: { currency: 'EUR', channel: 'URL' } })).toThrow(/columns "invoice" and "Invoice" could both be the orderId/);
  });

  it('a bare "TVA" column of a French export (HT, TVA, TTC) may be the rate or the amount: not read, and the user is asked which', () => {
    const m = buildMapping(['N° facture', 'Montant HT', 'TVA', 'Montant TTC', 'Devise', 'Canal']);
    expect(m.columns.taxRate).toBeUndefined();
    expect(m.columns.taxAmount).toBeUndefined();
    expect(m.hints).toEqual(['column "TVA" is not read: is it the VAT rate (a percentage) or the VAT amount? Add --map taxRate=TVA or --map taxAmount=TVA']);
    expect(cols(['N° facture', 'Montant HT', 'TVA', 'Montant TTC', 'Devise', 'Canal'], { map: { taxAmount: 'TVA' } })).toMatchObject({ taxAmount: 'TVA', amount: 'Montant TTC' });
    expect(cols(['Invoice', 'Amount', 'Taux TVA', 'Montant TVA', 'Currency', 'Channel'])).toMatchObject({ taxRate: 'Taux TVA', taxAmount: 'Montant TVA' });
  });

  it.each([
    [{ currency: 'EURO' }, /--currency EURO/],
    [{ channel: 'fax' }, /--channel fax/],
    [{ locale: 'french' }, /--locale french/],
    [{ expiresIn: 'a month' }, /--expires-in a month/],
    [{ expiresIn: '91d' }, /at most 90 days/],
    [{ taxRate: '120' }, /--tax-rate 120/],
    [{ paymentReceiptEmail: 'x@' }, /--receipt-email x@/],
  ])('a wrong default %j is a setting error naming the flag', (defaults, message) => {
    expect(() => buildMapping(['invoice', 'amount', 'currency', 'channel'], { defaults })).toThrow(message);
  });
});
