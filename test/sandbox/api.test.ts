import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PROD_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { http, post } from './helpers.js';

const CREATE = 'Charge/CreatePaymentOrder';
const GET = 'Charge/PaymentOrder/Get';
const UPDATE = 'Charge/PaymentOrder/Update';
const CANCEL = 'Charge/PaymentOrder/Cancel';

// Keys of the official examples in docs/lyra-api.md §4 (envelope, error answer) and §6 (V4/PaymentOrder).
const ENVELOPE_KEYS = ['webService', 'version', 'applicationVersion', 'status', 'answer', 'ticket', 'serverDate', 'applicationProvider', 'metadata', '_type'];
const ERROR_KEYS = ['errorCode', 'errorMessage', 'detailedErrorCode', 'detailedErrorMessage', 'ticket', '_type'];
const ORDER_KEYS = [
  'paymentOrderId', 'paymentURL', 'paymentOrderStatus', 'creationDate', 'updateDate', 'amount', 'currency', 'locale', 'orderId',
  'strongAuthentication', 'formAction', 'channelDetails', 'paymentReceiptEmail', 'taxRate', 'taxAmount', 'expirationDate',
  'transactionDetails', 'dataCollectionForm', '_type',
];

describe('the sandbox speaks the V4 payment-order API (as curl sees it)', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  afterAll(() => sb.stop());

  it('answers the reference\'s minimal URL order with a SUCCESS envelope shaped like the official example', async () => {
    const r = await post(sb.url, CREATE, { amount: 10000, currency: 'EUR', orderId: 'myOrderId-1234', channelOptions: { channelType: 'URL' } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(expect.arrayContaining(ENVELOPE_KEYS));
    expect(r.json).toMatchObject({ webService: CREATE, version: 'V4', status: 'SUCCESS', metadata: null, mode: 'TEST', _type: 'V4/WebService/Response' });
    expect(r.json.serverDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
    const o = r.json.answer;
    expect(Object.keys(o)).toEqual(expect.arrayContaining(ORDER_KEYS));
    expect(o).toMatchObject({ amount: 10000, currency: 'EUR', orderId: 'myOrderId-1234', paymentOrderStatus: 'RUNNING', updateDate: null, _type: 'V4/PaymentOrder' });
    expect(o.paymentOrderId).toMatch(/^[0-9a-f]{32}$/);
    expect(o.paymentURL).toMatch(new RegExp(`^${sb.url}/t/[a-z0-9]{8}$`));
    expect(o.channelDetails).toMatchObject({ channelType: 'URL', urlDetails: { qrCode: null, _type: 'V4/URLDetails' }, _type: 'V4/ChannelDetails' });
    expect(o.transactionDetails).toMatchObject({ cardDetails: { manualValidation: 'NO', captureDelay: 0, _type: 'V4/CardDetails' }, _type: 'V4/PaymentOrderTransactionDetails' });
  });

  it('fills channelDetails per channel with the generated text carrying the link', async () => {
    const mail = (await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId: 'CH-MAIL', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'a@example.com' } } })).json.answer;
    expect(mail.channelDetails.mailDetails).toMatchObject({ recipient: 'a@example.com', _type: 'V4/MailDetails' });
    expect(mail.channelDetails.mailDetails.body).toContain(mail.paymentURL);
    expect(mail.channelDetails.mailDetails.subject).toContain('CH-MAIL');

    const sms = (await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId: 'CH-SMS', channelOptions: { channelType: 'SMS', smsOptions: { phoneNumber: '+33611111111' } } })).json.answer;
    expect(sms.channelDetails.smsDetails.phoneNumber).toBe('+33611111111');
    expect(sms.channelDetails.smsDetails.message).toContain(sms.paymentURL);

    const wa = (await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId: 'CH-WA', channelOptions: { channelType: 'WHATSAPP', whatsAppOptions: { phoneNumber: '+33611111111' } } })).json.answer;
    expect(wa.channelDetails.whatsAppDetails.message).toContain(wa.paymentURL);

    const inv = (await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId: 'CH-INV', channelOptions: { channelType: 'INVOICE' } })).json.answer;
    expect(inv.channelDetails).toMatchObject({ channelType: 'INVOICE', mailDetails: null, smsDetails: null });

    const qr = (await post(sb.url, CREATE, { amount: 4500, currency: 'EUR', orderId: 'CH-QR', channelOptions: { channelType: 'URL', urlOptions: { generateQRCode: 'true', qrCodeSize: 200 } } })).json.answer;
    expect(typeof qr.channelDetails.urlDetails.qrCode).toBe('string');
  });

  it('returns expirationDate normalised to UTC', async () => {
    const instant = Math.floor(Date.now() / 1000) * 1000 + 3 * 86_400_000;
    // The same instant written in local time at +02:00, like the reference's example.
    const withOffset = `${new Date(instant + 2 * 3_600_000).toISOString().slice(0, 19)}+02:00`;
    const r = await post(sb.url, CREATE, { amount: 1, currency: 'EUR', orderId: 'EXP-UTC', expirationDate: withOffset });
    expect(r.json.answer.expirationDate).toMatch(/\+00:00$/);
    expect(Date.parse(r.json.answer.expirationDate)).toBe(instant);
  });

  describe('validation answers the documented codes', () => {
    const url = { channelType: 'URL' };
    const cases: [string, Record<string, unknown>, string][] = [
      ['amount not an integer', { amount: 10.5, currency: 'EUR' }, 'INT_009'],
      ['amount missing', { currency: 'EUR' }, 'INT_009'],
      ['amount zero', { amount: 0, currency: 'EUR' }, 'PSP_1024'],
      ['currency lowercase', { amount: 1, currency: 'eur' }, 'INT_010'],
      ['currency unknown', { amount: 1, currency: 'ZZZ' }, 'PSP_021'],
      ['orderId too long', { amount: 1, currency: 'EUR', orderId: 'x'.repeat(65) }, 'INT_013'],
      ['SMS without smsOptions', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'SMS' } }, 'INT_836'],
      ['WhatsApp without phone', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'WHATSAPP', whatsAppOptions: {} } }, 'INT_837'],
      ['SMS bad phone', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'SMS', smsOptions: { phoneNumber: 'call me' } } }, 'INT_838'],
      ['WhatsApp without whatsAppOptions', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'WHATSAPP' } }, 'INT_839'],
      ['MAIL without mailOptions', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'MAIL' } }, 'INT_841'],
      ['SMS message not text', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'SMS', smsOptions: { phoneNumber: '+33611111111', message: 42 } } }, 'INT_842'],
      ['MAIL subject not text', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'a@b.fr', subject: 7 } } }, 'INT_843'],
      ['MAIL without recipient', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'MAIL', mailOptions: {} } }, 'INT_850'],
      ['MAIL bad recipient', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'nobody' } } }, 'PSP_1032'],
      ['locale', { amount: 1, currency: 'EUR', locale: 'french' }, 'INT_856'],
      ['taxRate', { amount: 1, currency: 'EUR', taxRate: 'twenty' }, 'INT_858'],
      ['taxAmount', { amount: 100, currency: 'EUR', taxAmount: -1 }, 'INT_869'],
      ['taxAmount above amount', { amount: 100, currency: 'EUR', taxAmount: 200 }, 'INT_868'],
      ['expiration in the past', { amount: 1, currency: 'EUR', expirationDate: '2020-04-20T20:13:26+02:00' }, 'PSP_1007'],
      ['expiration beyond 90 days', { amount: 1, currency: 'EUR', expirationDate: new Date(Date.now() + 91 * 86_400_000).toISOString() }, 'PSP_1007'],
      ['expiration unreadable', { amount: 1, currency: 'EUR', expirationDate: 'next week' }, 'INT_855'],
      ['unknown channel', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'FAX' } }, 'PSP_1016'],
      ['INVOICE without reference', { amount: 1, currency: 'EUR', channelOptions: { channelType: 'INVOICE' } }, 'INT_942'],
      ['bad qrCodeSize', { amount: 1, currency: 'EUR', channelOptions: { ...url, urlOptions: { qrCodeSize: 9 } } }, 'INT_936'],
      ['bad ipnTargetUrl', { amount: 1, currency: 'EUR', ipnTargetUrl: 'ftp://x' }, 'INT_926'],
      ['unknown parameter', { amount: 1, currency: 'EUR', amout: 1 }, 'INT_900'],
    ];
    it.each(cases)('%s → %s', async (_name, body, code) => {
      const r = await post(sb.url, CREATE, body);
      expect(r.status).toBe(200);
      expect(r.json.status).toBe('ERROR');
      expect(Object.keys(r.json.answer)).toEqual(expect.arrayContaining(ERROR_KEYS));
      expect(r.json.answer).toMatchObject({ errorCode: code, _type: 'V4/WebService/WebServiceError' });
      expect(typeof r.json.answer.errorMessage).toBe('string');
    });

    it('refuses a reused INVOICE reference with PSP_1036 (URL orders may reuse an orderId)', async () => {
      const body = { amount: 1000, currency: 'EUR', orderId: 'INV-DUP-1', channelOptions: { channelType: 'INVOICE' } };
      expect((await post(sb.url, CREATE, body)).json.status).toBe('SUCCESS');
      expect((await post(sb.url, CREATE, body)).json.answer.errorCode).toBe('PSP_1036');
      const urlBody = { amount: 1000, currency: 'EUR', orderId: 'URL-DUP-1' };
      expect((await post(sb.url, CREATE, urlBody)).json.status).toBe('SUCCESS');
      expect((await post(sb.url, CREATE, urlBody)).json.status).toBe('SUCCESS');
    });

    it('answers INT_902 for a body that is not JSON, INT_901 for an unknown service or a GET, INT_905 for bad credentials', async () => {
      const bad = await post(sb.url, CREATE, '{"amount": 1,');
      expect(bad.json.answer.errorCode).toBe('INT_902');
      expect(bad.json.answer.detailedErrorMessage).toMatch(/can't decode JSON data/);
      expect((await post(sb.url, 'Charge/Nope', {})).json.answer.errorCode).toBe('INT_901');
      expect((await http('GET', `${sb.url}/api-payment/V4/${GET}`)).json.answer.errorCode).toBe('INT_901');
      const auth = await post(sb.url, 'Charge/SDKTest', { value: 'x' }, 'testpassword_nope');
      expect(auth.status).toBe(200);
      expect(auth.json.answer.errorCode).toBe('INT_905');
      expect(JSON.stringify(auth.json)).not.toContain('testpassword_nope');
    });

    it('Get/Update/Cancel check the paymentOrderId: PSP_1052 missing, INT_840 malformed, PSP_1000 unknown', async () => {
      expect((await post(sb.url, GET, {})).json.answer.errorCode).toBe('PSP_1052');
      expect((await post(sb.url, GET, { paymentOrderId: 'abc' })).json.answer.errorCode).toBe('INT_840');
      expect((await post(sb.url, CANCEL, { paymentOrderId: 'f'.repeat(32) })).json.answer.errorCode).toBe('PSP_1000');
    });
  });

  describe('Update', () => {
    async function mailOrder(orderId: string): Promise<string> {
      const r = await post(sb.url, CREATE, { amount: 10000, currency: 'EUR', orderId, channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'customer@example.com' } } });
      return r.json.answer.paymentOrderId;
    }

    it('accepts the Update example of the seed (amount €200.00, new reference, MAIL channel repeated)', async () => {
      const id = await mailOrder('myOrderId-1');
      const r = await post(sb.url, UPDATE, {
        paymentOrderId: id,
        amount: 20000,
        currency: 'EUR',
        orderId: 'myOrderId-999999',
        channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'customer@example.com' } },
      });
      expect(r.json.status).toBe('SUCCESS');
      expect(r.json.answer).toMatchObject({ paymentOrderId: id, amount: 20000, orderId: 'myOrderId-999999', paymentOrderStatus: 'RUNNING', _type: 'V4/PaymentOrder' });
      expect(r.json.answer.updateDate).toMatch(/\+00:00$/);
      expect(r.json.answer.channelDetails.mailDetails.body).toContain('myOrderId-999999');
    });

    it('accepts dataCollectionForm sent as the string "true", like the seed\'s second example', async () => {
      const id = await mailOrder('DCF-1');
      const r = await post(sb.url, UPDATE, {
        paymentOrderId: id, amount: 200050, currency: 'PEN', orderId: 'myOrderId-999999',
        channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'sample@example.com' } },
        paymentReceiptEmail: 'sample@example.com', locale: 'es_PE', dataCollectionForm: 'true',
      });
      expect(r.json.answer).toMatchObject({ currency: 'PEN', locale: 'es_PE', dataCollectionForm: true });
    });

    it('never changes the channel (PSP_1017) and wants the mail object again (INT_841)', async () => {
      const id = await mailOrder('UPD-CH');
      expect((await post(sb.url, UPDATE, { paymentOrderId: id, amount: 1, currency: 'EUR', channelOptions: { channelType: 'SMS', smsOptions: { phoneNumber: '+33611111111' } } })).json.answer.errorCode).toBe('PSP_1017');
      expect((await post(sb.url, UPDATE, { paymentOrderId: id, amount: 1, currency: 'EUR' })).json.answer.errorCode).toBe('INT_841');
    });
  });

  it('keeps TEST and PRODUCTION apart: an order is invisible with the other mode\'s key', async () => {
    const test = (await post(sb.url, CREATE, { amount: 1, currency: 'EUR', orderId: 'MODE-1' })).json;
    expect(test.mode).toBe('TEST');
    const prod = await post(sb.url, GET, { paymentOrderId: test.answer.paymentOrderId }, DEMO_PROD_PASSWORD);
    expect(prod.json.mode).toBe('PRODUCTION');
    expect(prod.json.answer.errorCode).toBe('PSP_1000');
    expect((await post(sb.url, CANCEL, { paymentOrderId: test.answer.paymentOrderId }, DEMO_PROD_PASSWORD)).json.answer.errorCode).toBe('PSP_1000');
  });

  it('echoes SDKTest', async () => {
    const r = await post(sb.url, 'Charge/SDKTest', { value: 'ping' });
    expect(r.json).toMatchObject({ status: 'SUCCESS', answer: { value: 'ping' } });
  });
});
