import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/paybatch-error.js';
import { describeTarget, resolveLyraConfig } from '../../src/lyra/config.js';
import { PLATFORMS } from '../../src/lyra/platforms.js';

const PW = 'testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M';
const base = { PAYBATCH_SHOP_ID: '69876357', PAYBATCH_PASSWORD: PW };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('Lyra settings from the environment and flags', () => {
  it('a platform preset gives the brand host and the /api-payment/V4 prefix', () => {
    const c = resolveLyraConfig({ ...base, PAYBATCH_PLATFORM: 'systempay' }, {});
    expect(c).toEqual({ baseUrl: 'https://api.systempay.fr', pathPrefix: '/api-payment/V4', shopId: '69876357', password: PW });
  });

  it('knows every brand of docs/lyra-api.md §2', () => {
    for (const id of ['payzen-eu', 'payzen-latam', 'payzen-br', 'payzen-in', 'systempay', 'sogecommerce', 'scellius', 'lyra-collect', 'clicandpay', 'micuentaweb', 'epaync', 'osb']) {
      expect(PLATFORMS).toHaveProperty(id);
    }
    expect(PLATFORMS['payzen-br'].baseUrl).toBe('https://api.payzen.com.br');
  });

  it('flags beat the environment; an explicit URL beats a preset', () => {
    const env = { ...base, PAYBATCH_PLATFORM: 'payzen-eu', PAYBATCH_PATH_PREFIX: '/api-rest/V4' };
    expect(resolveLyraConfig(env, { apiUrl: 'http://127.0.0.1:4010/' }).baseUrl).toBe('http://127.0.0.1:4010');
    expect(resolveLyraConfig({ ...env, PAYBATCH_API_URL: 'http://localhost:1' }, {}).baseUrl).toBe('http://localhost:1');
    expect(resolveLyraConfig({ ...env, PAYBATCH_API_URL: 'http://localhost:1' }, { platform: 'osb' }).baseUrl).toBe('https://api.secure.osb.pf');
    expect(resolveLyraConfig(env, { shopId: '12345678' }).shopId).toBe('12345678');
    expect(resolveLyraConfig(env, {}).pathPrefix).toBe('/api-rest/V4');
    expect(resolveLyraConfig(env, { pathPrefix: 'api-payment/V4/' }).pathPrefix).toBe('/api-payment/V4');
    expect(resolveLyraConfig(env, { timeoutMs: 5000 }).timeoutMs).toBe(5000);
  });

  it('names the variable and the flag when a setting is missing or wrong, never echoing the password', () => {
    expect(configError(() => resolveLyraConfig(base, {})).message).toMatch(/PAYBATCH_PLATFORM.*PAYBATCH_API_URL.*--platform/);
    expect(configError(() => resolveLyraConfig({ ...base, PAYBATCH_PLATFORM: 'paypal' }, {})).message).toMatch(/unknown platform "paypal".*payzen-eu/);
    expect(configError(() => resolveLyraConfig({ PAYBATCH_PASSWORD: PW, PAYBATCH_PLATFORM: 'osb' }, {})).message).toMatch(/PAYBATCH_SHOP_ID.*--shop-id/);
    expect(configError(() => resolveLyraConfig({ PAYBATCH_SHOP_ID: '1', PAYBATCH_PLATFORM: 'osb' }, {})).message).toMatch(/PAYBATCH_PASSWORD/);
    const wrongKey = configError(() => resolveLyraConfig({ ...base, PAYBATCH_PASSWORD: 'publickey_abc', PAYBATCH_PLATFORM: 'osb' }, {}));
    expect(wrongKey.message).toMatch(/testpassword_ or prodpassword_/);
    expect(wrongKey.message).not.toContain('publickey_abc');
    expect(configError(() => resolveLyraConfig(base, { apiUrl: 'not a url' })).message).toMatch(/--api-url/);
    expect(configError(() => resolveLyraConfig(base, { apiUrl: 'https://u:p@api.payzen.eu' })).message).toMatch(/credentials/);
    expect(configError(() => resolveLyraConfig({ ...base, PAYBATCH_PLATFORM: 'osb', PAYBATCH_TIMEOUT_MS: 'soon' }, {})).message).toMatch(/PAYBATCH_TIMEOUT_MS/);
  });

  it('describes the target in one line with the mode from the key prefix and no password', () => {
    const line = describeTarget({ baseUrl: 'https://api.payzen.eu', shopId: '69876357', password: PW });
    expect(line).toBe('shop 69876357, TEST, https://api.payzen.eu');
    expect(describeTarget({ baseUrl: 'https://api.payzen.eu', shopId: '1', password: 'prodpassword_x' })).toContain('PRODUCTION');
  });
});
