import { readTransactions, type TransactionSummary } from './transactions.js';
import { Pool } from 'undici';
import { batchSeal } from './batch-seal.js';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../errors/paybatch-error.js';
import { classifyErrorCode } from './classify.js';
import { LyraApiError, type LyraErrorKind } from './errors.js';
import { modeOfPassword } from './mode.js';
import { TransportCode } from './transport-codes.js';
import type { Envelope, Mode, PaymentOrder, PaymentOrderRequest, PaymentOrderUpdateRequest, WebServiceError } from './types.js';

export interface LyraClientOptions {
  /** Scheme + host (+ optional path of a reverse proxy), e.g. https://api.payzen.eu. */
  baseUrl: string;
  /** Inserted between baseUrl and the service name. Default `/api-payment/V4` (docs/lyra-api.md Q13: some old pages say /api-rest/V4). */
  pathPrefix?: string;
  shopId: string;
  /** REST password: `testpassword_…` or `prodpassword_…`; the prefix decides the mode. */
  password: string;
  /** Whole-call deadline in ms (queueing, connect, answer). Default 30000. */
  timeoutMs?: number;
  /** Keep-alive connections to the API host, shared by every client of the process with the same host. Default 64. */
  connections?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Called once the whole request is written to the socket (not called if it never is). */
  onSent?: () => void;
}

export const SERVICES = {
  create: 'Charge/CreatePaymentOrder',
  get: 'Charge/PaymentOrder/Get',
  update: 'Charge/PaymentOrder/Update',
  cancel: 'Charge/PaymentOrder/Cancel',
  sdkTest: 'Charge/SDKTest',
  orderGet: 'Order/Get',
} as const;

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * One undici Pool per API origin for the whole process (faster than fetch for POSTs), reference-counted: every client
 * shares the keep-alive sockets and the last close() closes them.
 */
const pools = new Map<string, { pool: Pool; refs: number }>();

function acquirePool(origin: string, connections: number): Pool {
  const key = `${origin}|${connections}`;
  let entry = pools.get(key);
  if (!entry || entry.pool.closed || entry.pool.destroyed) {
    entry = {
      pool: new Pool(origin, {
        connections,
        pipelining: 1,
        // Each call's own deadline (timeoutMs) also covers connecting; clients sharing the pool may differ.
        connectTimeout: 10_000,
        // Reusing a socket the server is about to close is the classic way to lose a POST's outcome:
        // stay well below the server's keep-alive hint.
        keepAliveTimeout: 4_000,
        keepAliveTimeoutThreshold: 2_000,
      }),
      refs: 0,
    };
    pools.set(key, entry);
  }
  entry.refs++;
  return entry.pool;
}

async function releasePool(origin: string, connections: number, pool: Pool): Promise<void> {
  const key = `${origin}|${connections}`;
  const entry = pools.get(key);
  if (!entry || entry.pool !== pool) return;
  entry.refs--;
  if (entry.refs <= 0) {
    pools.delete(key);
    await pool.close();
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The Lyra REST V4 client for payment orders. Every failure is a LyraApiError whose `kind` says whether the order may
 * exist; the password is a private field, so logging or serialising the client shows no secret.
 */
export class LyraClient {
  readonly mode: Mode;
  readonly shopId: string;
  readonly baseUrl: string;
  readonly pathPrefix: string;
  readonly timeoutMs: number;
  readonly #authorization: string;
  readonly #password: string;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #connections: number;
  #pool: Pool | undefined;

  constructor(opts: LyraClientOptions) {
    const mode = modeOfPassword(opts.password);
    if (!mode) throw new ConfigError('PB_CONFIG', 'the API password does not start with testpassword_ or prodpassword_');
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new ConfigError('PB_CONFIG', `Lyra API URL "${opts.baseUrl}" is not a URL`);
    }
    this.mode = mode;
    this.shopId = opts.shopId;
    this.baseUrl = opts.baseUrl;
    this.pathPrefix = opts.pathPrefix ?? '/api-payment/V4';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.#connections = opts.connections ?? 64;
    this.#password = opts.password;
    this.#authorization = `Basic ${Buffer.from(`${opts.shopId}:${opts.password}`).toString('base64')}`;
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '') + this.pathPrefix.replace(/\/+$/, '');
    this.#pool = acquirePool(this.#origin, this.#connections);
  }

  createPaymentOrder(req: PaymentOrderRequest, opts?: CallOptions): Promise<PaymentOrder> {
    return this.call<PaymentOrder>(SERVICES.create, req, opts).then((a) => this.#paymentOrder(SERVICES.create, a));
  }

  getPaymentOrder(paymentOrderId: string, opts?: CallOptions): Promise<PaymentOrder> {
    return this.call<PaymentOrder>(SERVICES.get, { paymentOrderId }, opts).then((a) => this.#paymentOrder(SERVICES.get, a));
  }

  updatePaymentOrder(req: PaymentOrderUpdateRequest, opts?: CallOptions): Promise<PaymentOrder> {
    return this.call<PaymentOrder>(SERVICES.update, req, opts).then((a) => this.#paymentOrder(SERVICES.update, a));
  }

  /** docs/lyra-api.md Q5: the Cancel body/answer are undocumented; we send `{paymentOrderId}` and expect the V4/PaymentOrder back. */
  cancelPaymentOrder(paymentOrderId: string, opts?: CallOptions): Promise<PaymentOrder> {
    return this.call<PaymentOrder>(SERVICES.cancel, { paymentOrderId }, opts).then((a) => this.#paymentOrder(SERVICES.cancel, a));
  }

  /**
   * `Order/Get`: the transactions (payment attempts) of a merchant orderId, at most 30 (docs/lyra-api.md §3), and the
   * platform's clock when it answered — what decides whether an order's expiry has passed.
   */
  async getOrderTransactions(orderId: string, opts: CallOptions = {}): Promise<{ transactions: TransactionSummary[]; serverDate?: string }> {
    const res = await this.#send(SERVICES.orderGet, JSON.stringify({ orderId }), opts.signal, opts.onSent);
    const { answer, serverDate } = this.#interpretDated<{ transactions?: unknown }>(SERVICES.orderGet, res);
    return { transactions: readTransactions(answer?.transactions), ...(serverDate ? { serverDate } : {}) };
  }

  /** This shop's seal of a queued batch (see batch-seal.ts), with the client's own password. */
  sealBatch(batchId: string): string {
    return batchSeal(this.#password, this, batchId);
  }

  /** Credential check: echoes `value`. Throws LyraApiError (isAuthFailure) on bad credentials. */
  async sdkTest(value: string, opts?: CallOptions): Promise<string> {
    const answer = await this.call<{ value?: unknown }>(SERVICES.sdkTest, { value }, opts);
    if (typeof answer?.value !== 'string') throw this.#error(SERVICES.sdkTest, TransportCode.BAD_ENVELOPE, 'SDKTest answer carries no value', 'unknown', 200);
    return answer.value;
  }

  /** Any V4 web service: POST the body, return the SUCCESS answer, throw LyraApiError otherwise. */
  async call<A>(service: string, body: unknown, opts: CallOptions = {}): Promise<A> {
    const res = await this.#send(service, JSON.stringify(body), opts.signal, opts.onSent);
    return this.#interpret<A>(service, res);
  }

  /** Releases this client's share of the process-wide pool. Further calls fail with PB_CLIENT_CLOSED. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await releasePool(this.#origin, this.#connections, pool);
  }

  toJSON(): Record<string, unknown> {
    return { shopId: this.shopId, mode: this.mode, baseUrl: this.baseUrl, pathPrefix: this.pathPrefix };
  }

  #paymentOrder(service: string, answer: PaymentOrder): PaymentOrder {
    if (!answer || typeof answer !== 'object' || typeof answer.paymentOrderId !== 'string' || typeof answer.paymentOrderStatus !== 'string') {
      // A SUCCESS without the order: something between us and Lyra answered. The order may exist.
      throw this.#error(service, TransportCode.BAD_ENVELOPE, 'SUCCESS answer is not a V4/PaymentOrder', 'unknown', 200);
    }
    return answer;
  }

  #error(service: string, code: string, message: string, kind: LyraErrorKind, httpStatus?: number, extra: { detailedCode?: string | null; detailedMessage?: string | null; retryAfterMs?: number } = {}): LyraApiError {
    return new LyraApiError({
      code,
      message: this.#scrub(message) ?? '',
      kind,
      service,
      ...(httpStatus !== undefined ? { httpStatus } : {}),
      detailedCode: extra.detailedCode ?? null,
      detailedMessage: this.#scrub(extra.detailedMessage ?? null),
      ...(extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
    });
  }

  /** Whatever a server or a proxy echoes back, the password never leaves through an error. */
  #scrub(s: string | null): string | null {
    if (s === null) return null;
    let out = s.split(this.#password).join('***');
    out = out.split(this.#authorization.slice(6)).join('***');
    return out.length > 500 ? `${out.slice(0, 500)}…` : out;
  }

  #send(service: string, body: string, signal: AbortSignal | undefined, onSent?: () => void): Promise<RawResponse> {
    const pool = this.#pool;
    if (!pool) return Promise.reject(this.#error(service, TransportCode.CLOSED, 'the Lyra client is closed', 'retry-safe'));
    if (signal?.aborted) return Promise.reject(this.#error(service, TransportCode.ABORTED, 'aborted before sending', 'retry-safe'));

    const payload = Buffer.from(body, 'utf8');
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      let sent = false;
      let abortFn: ((err?: Error) => void) | undefined;
      let stopReason: 'timeout' | 'aborted' | 'too-large' | undefined;
      let status = 0;
      const headers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let size = 0;

      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const stop = (reason: 'timeout' | 'aborted' | 'too-large'): void => {
        stopReason = reason;
        if (abortFn) abortFn(new Error(reason));
        else {
          // Still queued or connecting: nothing was written. onConnect aborts it before a byte goes out.
          finish(() => reject(this.#stopError(service, reason, false)));
        }
      };
      const onAbort = (): void => stop('aborted');
      const timer = setTimeout(() => stop('timeout'), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });

      const handler = {
        onConnect: (abort: (err?: Error) => void) => {
          abortFn = abort;
          if (stopReason) abort(new Error(stopReason));
        },
        onBodySent: () => {
          sent = true;
        },
        onRequestSent: () => {
          sent = true;
          onSent?.();
        },
        onHeaders: (statusCode: number, rawHeaders: Buffer[]) => {
          status = statusCode;
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toString('latin1').toLowerCase()] = rawHeaders[i + 1]!.toString('latin1');
          return true;
        },
        onData: (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            stop('too-large');
            return false;
          }
          chunks.push(chunk);
          return true;
        },
        onComplete: () => finish(() => resolve({ status, headers, body: Buffer.concat(chunks) })),
        onError: (err: Error) => finish(() => reject(stopReason ? this.#stopError(service, stopReason, sent) : this.#transportError(service, err, sent))),
      };
      try {
        pool.dispatch(
          {
            origin: this.#origin,
            path: `${this.#basePath}/${service}`,
            method: 'POST',
            body: payload,
            // Per call, not per pool: clients sharing the pool may have different timeouts. Our own timer
            // (above) is the real deadline; these stop a socket from hanging if it ever misfires.
            headersTimeout: this.timeoutMs + 1_000,
            bodyTimeout: this.timeoutMs + 1_000,
            headers: {
              authorization: this.#authorization,
              'content-type': 'application/json',
              accept: 'application/json',
              'user-agent': 'paybatch',
            },
          },
          handler as unknown as Dispatcher.DispatchHandler,
        );
      } catch (err) {
        finish(() => reject(this.#transportError(service, err as Error, false)));
      }
    });
  }

  #stopError(service: string, reason: 'timeout' | 'aborted' | 'too-large', sent: boolean): LyraApiError {
    if (reason === 'too-large') return this.#error(service, TransportCode.BAD_ENVELOPE, `answer larger than ${MAX_BODY_BYTES} bytes`, 'unknown');
    const code = reason === 'timeout' ? TransportCode.TIMEOUT : TransportCode.ABORTED;
    const what = reason === 'timeout' ? `no answer within ${this.timeoutMs} ms` : 'aborted by the caller';
    return sent
      ? this.#error(service, code, `${what} after the request was sent: the outcome is unknown`, 'unknown')
      : this.#error(service, code, `${what} before the request was sent`, 'retry-safe');
  }

  /**
   * Connect-phase failures provably sent nothing; anything after the body reached the socket (even a reused keep-alive
   * socket the server closed, which undici does not retry for a POST) may have been processed: `unknown`.
   */
  #transportError(service: string, err: Error & { code?: string }, sent: boolean): LyraApiError {
    const code = err.code ?? '';
    const msg = `${code || err.name}: ${err.message}`;
    switch (code) {
      case 'ECONNREFUSED':
        return this.#error(service, TransportCode.CONN_REFUSED, `connection refused (${msg})`, 'retry-safe');
      case 'UND_ERR_CONNECT_TIMEOUT':
        return this.#error(service, TransportCode.CONNECT_TIMEOUT, `connect timeout (${msg})`, 'retry-safe');
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return this.#error(service, TransportCode.DNS, `host not found (${msg})`, 'retry-safe');
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'EHOSTDOWN':
      case 'ENETDOWN':
        return this.#error(service, TransportCode.UNREACHABLE, `network unreachable (${msg})`, 'retry-safe');
      case 'UND_ERR_CLOSED':
      case 'UND_ERR_DESTROYED':
        if (!sent) return this.#error(service, TransportCode.CLOSED, `connection pool closed (${msg})`, 'retry-safe');
        break;
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return sent
          ? this.#error(service, TransportCode.TIMEOUT, `no answer in time after the request was sent (${msg}): the outcome is unknown`, 'unknown')
          : this.#error(service, TransportCode.TIMEOUT, `timeout before the request was sent (${msg})`, 'retry-safe');
      default:
        if (/CERT|SSL|TLS|SELF_SIGNED/.test(code)) return this.#error(service, TransportCode.TLS, `TLS failure (${msg})`, 'permanent');
    }
    return sent
      ? this.#error(service, TransportCode.RESET, `connection lost after the request was sent (${msg}): the outcome is unknown`, 'unknown')
      : this.#error(service, TransportCode.RESET, `connection lost before the request was sent (${msg})`, 'retry-safe');
  }

  #interpret<A>(service: string, res: RawResponse): A {
    return this.#interpretDated<A>(service, res).answer;
  }

  /** The SUCCESS answer and the platform's clock when it answered (the envelope's serverDate). */
  #interpretDated<A>(service: string, res: RawResponse): { answer: A; serverDate?: string } {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
    const extra = retryAfterMs !== undefined ? { retryAfterMs } : {};
    if (res.status === 429) return this.#throw(service, TransportCode.HTTP_429, 'HTTP 429 Too Many Requests', 'retry-safe', 429, extra);
    if (res.status === 503) return this.#throw(service, TransportCode.HTTP_503, 'HTTP 503 Service Unavailable', 'retry-safe', 503, extra);
    if (res.status >= 500) return this.#throw(service, TransportCode.HTTP_5XX, `HTTP ${res.status}: the outcome is unknown`, 'unknown', res.status, extra);

    const envelope = parseEnvelope(res.body);
    if (res.status === 401) {
      // docs/lyra-api.md Q1: Lyra answers bad credentials with HTTP 200 + INT_905; the PHP SDK also reads a 401. Either way: auth failure.
      const a = envelope?.status === 'ERROR' ? (envelope.answer as Partial<WebServiceError>) : undefined;
      return this.#throw(service, typeof a?.errorCode === 'string' ? a.errorCode : 'INT_905', typeof a?.errorMessage === 'string' ? a.errorMessage : 'bad username or password (HTTP 401)', 'permanent', 401, {
        detailedCode: a?.detailedErrorCode ?? null,
        detailedMessage: a?.detailedErrorMessage ?? null,
      });
    }
    if (res.status === 408) return this.#throw(service, TransportCode.HTTP_4XX, 'HTTP 408 Request Timeout: the server did not receive the request', 'retry-safe', 408, extra);
    if (res.status !== 200) return this.#throw(service, TransportCode.HTTP_4XX, `HTTP ${res.status} (check the API URL and path prefix)`, 'permanent', res.status);
    if (!envelope) return this.#throw(service, TransportCode.BAD_ENVELOPE, 'HTTP 200 but the body is not the V4 JSON envelope: the outcome is unknown', 'unknown', 200);
    if (envelope.status === 'SUCCESS') return { answer: envelope.answer as A, ...(typeof envelope.serverDate === 'string' ? { serverDate: envelope.serverDate } : {}) };

    const a = envelope.answer as Partial<WebServiceError>;
    if (typeof a?.errorCode !== 'string') return this.#throw(service, TransportCode.BAD_ENVELOPE, 'ERROR envelope without an errorCode: the outcome is unknown', 'unknown', 200);
    return this.#throw(service, a.errorCode, typeof a.errorMessage === 'string' ? a.errorMessage : '', classifyErrorCode(a.errorCode), 200, {
      detailedCode: typeof a.detailedErrorCode === 'string' ? a.detailedErrorCode : null,
      detailedMessage: typeof a.detailedErrorMessage === 'string' ? a.detailedErrorMessage : null,
      ...extra,
    });
  }

  #throw(service: string, code: string, message: string, kind: LyraErrorKind, httpStatus?: number, extra?: { detailedCode?: string | null; detailedMessage?: string | null; retryAfterMs?: number }): never {
    throw this.#error(service, code, message, kind, httpStatus, extra);
  }
}

function parseEnvelope(body: Buffer): Envelope | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const e = v as Partial<Envelope>;
  if ((e.status !== 'SUCCESS' && e.status !== 'ERROR') || !e.answer || typeof e.answer !== 'object') return undefined;
  return e as Envelope;
}

/** Retry-After as delta-seconds or an HTTP date, in ms; undefined when absent or unreadable. Pure. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const d = Date.parse(t);
  if (Number.isNaN(d)) return undefined;
  return Math.max(0, d - nowMs);
}
