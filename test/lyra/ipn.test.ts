import { describe, expect, it } from 'vitest';
import { signIpn, verifyIpn } from '../../src/lyra/ipn.js';

// The worked example of docs/lyra-api.md §9, byte for byte.
const PASSWORD = 'testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M';
const HMAC_KEY = '38453613e7f44dc58732bad3dca2bca3';
const ANSWER =
  '{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","serverDate":"2025-03-04T09:30:12+00:00","orderDetails":{"orderTotalAmount":4500,"orderEffectiveAmount":4500,"orderCurrency":"EUR","mode":"TEST","orderId":"INV-2025-0042","_type":"V4/OrderDetails"},"transactions":[{"uuid":"5b1f0c2e9a7d4c1f8e3b2a6d9c0f1e23","amount":4500,"currency":"EUR","paymentMethodType":"CARD","status":"PAID","detailedStatus":"AUTHORISED","operationType":"DEBIT","_type":"V4/PaymentTransaction"}],"_type":"V4/Payment"}';
const HASH_PASSWORD = '1bf4e22e43c1a18ed9e4130ce8098db802835e7bd5031166e9389307b7d30584';
const HASH_HMAC = '31ec0b762b5fed06267ce802750265463f390745761070551bd783461eb337ee';

const fields = (over: Record<string, string> = {}) => ({
  'kr-hash': HASH_PASSWORD,
  'kr-hash-algorithm': 'sha256_hmac',
  'kr-hash-key': 'password',
  'kr-answer-type': 'V4/Payment',
  'kr-answer': ANSWER,
  ...over,
});

describe('IPN signature (the worked example of the reference)', () => {
  it('the example answer is 504 characters and signs to the published hashes', () => {
    expect(ANSWER).toHaveLength(504);
    expect(signIpn(ANSWER, PASSWORD)).toBe(HASH_PASSWORD);
    expect(signIpn(ANSWER, HMAC_KEY)).toBe(HASH_HMAC);
  });

  it('accepts the IPN signed with the password and returns the parsed answer', () => {
    const v = verifyIpn(fields(), { password: PASSWORD });
    expect(v.ok).toBe(true);
    if (v.ok) expect((v.answer as { orderDetails: { orderId: string } }).orderDetails.orderId).toBe('INV-2025-0042');
  });

  it('accepts the browser-return form signed with the HMAC key when kr-hash-key says sha256_hmac', () => {
    expect(verifyIpn(fields({ 'kr-hash': HASH_HMAC, 'kr-hash-key': 'sha256_hmac' }), { password: PASSWORD, hmacKey: HMAC_KEY }).ok).toBe(true);
    // …and refuses it without the HMAC key, or when the key names are swapped.
    expect(verifyIpn(fields({ 'kr-hash': HASH_HMAC, 'kr-hash-key': 'sha256_hmac' }), { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-hash': HASH_HMAC }), { password: PASSWORD, hmacKey: HMAC_KEY }).ok).toBe(false);
  });

  it('rejects a re-serialised kr-answer (json.dumps adds spaces): the hash is over the raw string', () => {
    const reserialised = JSON.stringify(JSON.parse(ANSWER), null, 0).replace(/":/g, '": ').replace(/,"/g, ', "');
    expect(signIpn(reserialised, PASSWORD).startsWith('739bd167')).toBe(true);
    const v = verifyIpn(fields({ 'kr-answer': reserialised }), { password: PASSWORD });
    expect(v).toEqual({ ok: false, reason: expect.stringContaining('does not match') });
  });

  it('rejects the answer with "/" escaped as "\\/" (no PHP-style normalisation)', () => {
    const escaped = ANSWER.replace(/\//g, '\\/');
    expect(signIpn(escaped, PASSWORD).startsWith('4da054a2')).toBe(true);
    expect(verifyIpn(fields({ 'kr-answer': escaped }), { password: PASSWORD }).ok).toBe(false);
  });

  it('rejects missing fields, another algorithm, an unknown key name and a malformed hash', () => {
    expect(verifyIpn({ 'kr-answer': ANSWER }, { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-answer': '' }), { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-hash-algorithm': 'sha1' }), { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-hash-key': 'public' }), { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-hash': 'zz' }), { password: PASSWORD }).ok).toBe(false);
    expect(verifyIpn(fields({ 'kr-hash': HASH_PASSWORD.toUpperCase() }), { password: PASSWORD }).ok).toBe(true);
  });

  it('never puts the password in its reason', () => {
    const v = verifyIpn(fields({ 'kr-hash': HASH_HMAC }), { password: PASSWORD });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).not.toContain(PASSWORD);
  });
});
