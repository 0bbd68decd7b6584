import { describe, expect, it } from 'vitest';
import { buildMapping, type MappingOptions } from '../../src/orders/map.js';
import { judgeRow, type JudgeContext } from '../../src/orders/judge.js';
import type { Judgement } from '../../src/orders/types.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const HEADERS = ['invoice', 'amount', 'currency', 'channel', 'email', 'phone', 'locale', 'subject', 'message', 'expires', 'tax rate', 'tax amount', 'comment', 'customer id'];

function judge(values: Record<string, string>, opts: MappingOptions = {}, ctx: Partial<JudgeContext> = {}): Judgement {
  const mapping = buildMapping(HEADERS, opts);
  const cells = HEADERS.map((h) => values[h] ?? '');
  return judgeRow({ index: 0, line: 2, cells }, mapping, { now: NOW, seen: new Set(), timeZone: 'Europe/Paris', ...ctx });
}
const code = (j: Judgement) => (j.ok ? 'VALID' : j.problem.code);

describe('a valid row becomes the exact CreatePaymentOrder body', () => {
  it('MAIL: recipient, subject and body; French amount in cents', () => {
    const j = judge({ invoice: 'F-1', amount: '1 234,56', currency: 'eur', channel: 'e-mail', email: 'compta@example.com', locale: 'fr-FR', subject: 'Facture F-1', message: 'Bonjour', comment: 'relance', 'customer id': 'C42' });
    expect(j).toEqual({
      ok: true,
      order: {
        orderId: 'F-1',
        channel: 'MAIL',
        amountMinor: 123456,
        currency: 'EUR',
        recipient: 'compta@example.com',
        request: {
          amount: 123456,
          currency: 'EUR',
          orderId: 'F-1',
          channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'compta@example.com', subject: 'Facture F-1', body: 'Bonjour' } },
          locale: 'fr_FR',
          merchantComment: 'relance',
          customer: { reference: 'C42' },
        },
      },
    });
  });

  it('SMS: the national number is read with the locale country and sent in E.164, with the message', () => {
    const j = judge({ invoice: 'F-2', amount: '20,00', currency: 'EUR', channel: 'sms', phone: '06 12 34 56 78', locale: 'fr_FR', message: 'Votre facture' });
    expect(j.ok && j.order.request.channelOptions).toEqual({ channelType: 'SMS', smsOptions: { phoneNumber: '+33612345678', message: 'Votre facture' } });
    expect(j.ok && j.order.recipient).toBe('+33612345678');
  });

  it('WHATSAPP: --phone-region reads national numbers even without a locale', () => {
    const j = judge({ invoice: 'F-3', amount: '5', currency: 'EUR', channel: 'WhatsApp', phone: '07 81 23 45 67' }, {}, { phoneRegion: 'FR' });
    expect(j.ok && j.order.request.channelOptions).toEqual({ channelType: 'WHATSAPP', whatsAppOptions: { phoneNumber: '+33781234567' } });
  });

  it('INVOICE goes through the data-collection form; URL needs nothing else; JPY has no decimals', () => {
    const inv = judge({ invoice: 'F-4', amount: '15000', currency: 'JPY', channel: 'invoice' });
    expect(inv.ok && inv.order.request).toEqual({ amount: 15000, currency: 'JPY', orderId: 'F-4', channelOptions: { channelType: 'INVOICE' }, dataCollectionForm: true });
    const url = judge({ invoice: 'F-5', amount: '1250.500', currency: 'TND', channel: 'link' });
    expect(url.ok && url.order.request).toEqual({ amount: 1250500, currency: 'TND', orderId: 'F-5', channelOptions: { channelType: 'URL' } });
  });

  it('an expiration date means the end of that day in --tz, sent with its offset; tax fields in the body', () => {
    const j = judge({ invoice: 'F-6', amount: '120', currency: 'EUR', channel: 'URL', expires: '2026-12-31', 'tax rate': '20', 'tax amount': '20,00' });
    expect(j.ok && j.order.request).toMatchObject({ expirationDate: '2026-12-31T23:59:59+01:00', taxRate: 20, taxAmount: 2000 });
  });

  it('run-wide defaults fill absent columns and empty cells: currency, channel, locale, subject, --expires-in', () => {
    const j = judge(
      { invoice: 'F-7', amount: '10', email: 'a@example.com' },
      { defaults: { currency: 'EUR', channel: 'MAIL', locale: 'en_GB', subject: 'Your invoice', expiresIn: '30d' } },
    );
    expect(j.ok && j.order.request).toMatchObject({
      currency: 'EUR',
      locale: 'en_GB',
      expirationDate: '2026-12-22T11:00:00+01:00',
      channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'a@example.com', subject: 'Your invoice' } },
    });
  });
});

describe('a row that cannot be sent says why, with the API code where there is one', () => {
  const base = { invoice: 'F-9', amount: '10', currency: 'EUR', channel: 'URL' };

  it('the second occurrence of an invoice is INVALID, the first is not', () => {
    const seen = new Set<string>();
    expect(code(judge(base, {}, { seen }))).toBe('VALID');
    const second = judge({ ...base, amount: '99' }, {}, { seen });
    expect(second).toMatchObject({ ok: false, problem: { code: 'PB_DUPLICATE_ORDER_ID', field: 'orderId', column: 'invoice' } });
  });

  it.each([
    [{ invoice: '' }, 'INT_942'],
    [{ invoice: 'X'.repeat(65) }, 'INT_013'],
    [{ invoice: 'Facturé-1' }, 'INT_013'],
    [{ amount: '1,234' }, 'INT_009'],
    [{ amount: '0' }, 'PSP_1024'],
    [{ currency: 'EURO' }, 'INT_010'],
    [{ currency: '' }, 'INT_010'],
    [{ channel: 'fax' }, 'INT_854'],
    [{ channel: 'constructor' }, 'INT_854'],
    [{ channel: 'toString' }, 'INT_854'],
    [{ channel: 'MAIL', subject: 'S' }, 'INT_850'],
    [{ channel: 'MAIL', subject: 'S', email: 'a@b' }, 'PSP_1032'],
    [{ channel: 'MAIL', email: 'a@example.com' }, 'PSP_1019'],
    [{ channel: 'SMS', locale: 'fr_FR' }, 'INT_838'],
    [{ channel: 'WHATSAPP', locale: 'fr_FR' }, 'INT_837'],
    [{ channel: 'SMS', locale: 'fr_FR', phone: '01 23 45 67 89' }, 'PB_PHONE_NOT_MOBILE'],
    [{ channel: 'SMS', locale: 'fr_FR', phone: '12' }, 'PSP_1031'],
    [{ channel: 'WHATSAPP', locale: 'fr_FR', phone: '12' }, 'PB_PHONE_INVALID'],
    [{ locale: 'French' }, 'INT_856'],
    [{ expires: '2026-11-22T10:00:00Z' }, 'PSP_1007'],
    [{ expires: '2027-02-21' }, 'PSP_1007'],
    [{ expires: 'soon' }, 'INT_855'],
    [{ 'tax rate': 'abc' }, 'INT_858'],
    [{ 'tax amount': '11' }, 'INT_868'],
    [{ 'tax amount': '-1' }, 'INT_869'],
  ])('%j → %s', (change, expected) => {
    expect(code(judge({ ...base, ...change }))).toBe(expected);
  });

  it('the last instant accepted is exactly now + 90 days', () => {
    expect(code(judge({ ...base, expires: '2027-02-20T10:00:00Z' }))).toBe('VALID');
    expect(code(judge({ ...base, expires: '2027-02-20T10:00:01Z' }))).toBe('PSP_1007');
  });

  it('every problem of a row is listed, the first one is its code', () => {
    const j = judge({ invoice: 'F-10', amount: '-5', currency: 'EUR', channel: 'SMS', phone: '01 23 45 67 89', locale: 'fr_FR' });
    expect(j.ok).toBe(false);
    if (!j.ok) {
      expect(j.problem.code).toBe('INT_009');
      expect(j.problems?.map((p) => `${p.code}@${p.column}`)).toEqual(['INT_009@amount', 'PB_PHONE_NOT_MOBILE@phone']);
    }
  });
});
