/**
 * REST hosts of the Lyra platform's brands (docs/lyra-api.md §2); the client appends `/api-payment/V4`. PayZen Brazil
 * is api.payzen.com.br (Lyra's own `.env.example` swaps it with the static host, Q9).
 */
export const PLATFORMS = {
  'payzen-eu': { name: 'PayZen Europe', baseUrl: 'https://api.payzen.eu' },
  'payzen-latam': { name: 'PayZen LATAM', baseUrl: 'https://api.payzen.lat' },
  'payzen-br': { name: 'PayZen Brazil', baseUrl: 'https://api.payzen.com.br' },
  'payzen-in': { name: 'PayZen India', baseUrl: 'https://secure.payzen.co.in' },
  systempay: { name: 'Systempay', baseUrl: 'https://api.systempay.fr' },
  sogecommerce: { name: 'Sogecommerce', baseUrl: 'https://api-sogecommerce.societegenerale.eu' },
  scellius: { name: 'Scellius', baseUrl: 'https://api.scelliuspaiement.labanquepostale.fr' },
  'lyra-collect': { name: 'Lyra Collect', baseUrl: 'https://api.lyra.com' },
  clicandpay: { name: 'Clic&Pay', baseUrl: 'https://api-clicandpay.groupecdn.fr' },
  micuentaweb: { name: 'Mi Cuenta Web / Izipay', baseUrl: 'https://api.micuentaweb.pe' },
  epaync: { name: 'EpayNC', baseUrl: 'https://epaync.nc' },
  osb: { name: 'PayZen by OSB', baseUrl: 'https://api.secure.osb.pf' },
  payty: { name: 'Payty', baseUrl: 'https://api.payty.com' },
  cobroinmediato: { name: 'Cobro Inmediato', baseUrl: 'https://api.cobroinmediato.tech' },
} as const satisfies Record<string, { name: string; baseUrl: string }>;

export type PlatformId = keyof typeof PLATFORMS;

export const PLATFORM_IDS = Object.keys(PLATFORMS) as PlatformId[];

export function isPlatformId(s: string): s is PlatformId {
  return Object.prototype.hasOwnProperty.call(PLATFORMS, s);
}
