/**
 * Codes for failures with no Lyra answer. PB_TIMEOUT / PB_RESET / PB_ABORTED are `unknown` once the whole body was
 * handed to the socket (the platform may have acted); every other kind is fixed here.
 */
export const TransportCode = {
  /** No answer in time. unknown once the body was sent; retry-safe if it never left (queued, connecting). */
  TIMEOUT: 'PB_TIMEOUT',
  /** Connection reset / closed before a full answer. unknown once the body was sent, else retry-safe. */
  RESET: 'PB_RESET',
  /** The caller's AbortSignal fired. Same rule as PB_TIMEOUT. */
  ABORTED: 'PB_ABORTED',
  /** Nothing listens there (ECONNREFUSED). retry-safe. */
  CONN_REFUSED: 'PB_CONN_REFUSED',
  /** TCP/TLS connect did not finish in time. retry-safe. */
  CONNECT_TIMEOUT: 'PB_CONNECT_TIMEOUT',
  /** Host name does not resolve (ENOTFOUND, EAI_AGAIN). retry-safe. */
  DNS: 'PB_DNS',
  /** Network/host unreachable. retry-safe. */
  UNREACHABLE: 'PB_UNREACHABLE',
  /** Certificate problem: retrying will not help, and nothing was sent. permanent. */
  TLS: 'PB_TLS',
  /** HTTP 429 Too Many Requests: refused before processing. retry-safe, Retry-After honoured. */
  HTTP_429: 'PB_HTTP_429',
  /** HTTP 503 Service Unavailable: refused before processing. retry-safe, Retry-After honoured. */
  HTTP_503: 'PB_HTTP_503',
  /** Any other 5xx (500, 502, 504 …): a proxy or the platform failed, maybe after acting. unknown. */
  HTTP_5XX: 'PB_HTTP_5XX',
  /** 4xx other than 401/408/429 (404: wrong URL or path prefix). permanent. */
  HTTP_4XX: 'PB_HTTP_4XX',
  /** HTTP 200/401 whose body is not the V4 envelope (a proxy page, truncated JSON). unknown. */
  BAD_ENVELOPE: 'PB_BAD_ENVELOPE',
  /** The client was closed before the call. retry-safe. */
  CLOSED: 'PB_CLIENT_CLOSED',
} as const;

export type TransportCode = (typeof TransportCode)[keyof typeof TransportCode];
