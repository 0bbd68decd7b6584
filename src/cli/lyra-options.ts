import type { Argv } from 'yargs';
import type { LyraArgs } from '../settings/settings.js';

export function withLyraOptions<T>(y: Argv<T>): Argv<T & LyraArgs> {
  return y
    .option('platform', { type: 'string', group: 'Lyra:', describe: 'platform preset, e.g. payzen-eu, systempay, sogecommerce, scellius, clicandpay, micuentaweb (env PAYBATCH_PLATFORM)' })
    .option('api-url', { type: 'string', group: 'Lyra:', describe: 'explicit API base URL, e.g. https://api.payzen.eu (env PAYBATCH_API_URL)' })
    .option('shop-id', { type: 'string', group: 'Lyra:', describe: 'shop id, the "User" of the REST API keys (env PAYBATCH_SHOP_ID)' })
    .option('env-file', { type: 'string', group: 'Lyra:', describe: 'read PAYBATCH_* settings (and the password) from this file' })
    .option('timeout-ms', { type: 'number', group: 'Lyra:', describe: 'request timeout (env PAYBATCH_TIMEOUT_MS)', defaultDescription: '30000' })
    .option('path-prefix', { type: 'string', group: 'Lyra:', describe: 'API path prefix (env PAYBATCH_PATH_PREFIX)', defaultDescription: '/api-payment/V4' }) as Argv<T & LyraArgs>;
}
