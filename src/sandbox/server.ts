import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listen } from '../lib/listen.js';
import { performance } from 'node:perf_hooks';
import type { Mode, PaymentOrder } from '../lyra/types.js';
import { CounterSet, SlidingSecond, type SandboxCounters } from './counters.js';
import { isoUtc } from './dates.js';
import { DEFAULT_RANDOM_FAULTS, FaultPlan, isFaultKind, type FaultKind } from './faults.js';
import { IpnSender, type IpnDelivery } from './ipn-sender.js';
import { ERROR_MESSAGES, type SandboxFault } from './messages.js';
import { payPage } from './pay-page.js';
import { hexId, seededRandom } from './random.js';
import { OrderStore, type Outcome, type StoredOrder } from './store.js';

/** The public demo shop of the Lyra docs (docs/lyra-api.md §1). */
export const DEMO_SHOP_ID = '69876357';
export const DEMO_TEST_PASSWORD = 'testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M';
/** Invented: the real demo shop has no public production key. Lets tests exercise TEST/PRODUCTION isolation. */
export const DEMO_PROD_PASSWORD = 'prodpassword_SANDBOXPRIVATEKEY6sZ8LxJvQ2Ud';

export interface SandboxCredential {
  shopId: string;
  testPassword?: string;
  prodPassword?: string;
}

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Added before every API answer. Default 0. */
  latencyMs?: number;
  /** Extra random delay in [0, jitterMs). Default 0. */
  jitterMs?: number;
  /** Above this many API requests in a sliding second, answer PSP_106. Default: no limit. */
  throttlePerSecond?: number;
  /** Probability (0..1) that a payment-order request gets a random fault. Default 0. */
  failRate?: number;
  /** Which faults failRate picks from. Default psp-106, http-500, http-503, timeout, reset-after-create. */
  failKinds?: readonly FaultKind[];
  /** Seed of the fault and jitter randomness: the same seed replays the same sequence. Default: time-based. */
  seed?: number;
  /** Accepted shops. Default: the demo shop 69876357 with its public test password and DEMO_PROD_PASSWORD. */
  credentials?: SandboxCredential[];
  /** IPN URL for orders without ipnTargetUrl (the Back Office rule of a real shop). */
  ipnUrl?: string;
  /** Delays between IPN retries. Default 4 retries: 1 s, 2 s, 4 s, 8 s (the platform: next quarter hours). */
  ipnRetryDelaysMs?: readonly number[];
  /** Clock for dates and expiry (ms since epoch). Default Date.now. Latency and rate counting use real time. */
  now?: () => number;
  /** HTTP status of an INT_905 answer: 200 (default; Lyra's documented behaviour) or 401 (docs/lyra-api.md Q1). */
  authFailureStatus?: 200 | 401;
  /** What Get/Update/Cancel answer for an order of the other mode. Default PSP_1000 ("invisible"). */
  crossModeCode?: 'PSP_1000' | 'PSP_1011';
  /** Path before the service name. Default /api-payment/V4. */
  pathPrefix?: string;
  /** Default expiry when a Create gives none. Default 7 days. */
  defaultExpiryMs?: number;
  /** A held ("timeout") request is dropped after this long even if the client never gives up. Default 120000. */
  maxHoldMs?: number;
  /** Keep lean orders (see StoreOptions.lean): for runs of a million orders. Default false. */
  lean?: boolean;
}

export interface PayResult {
  order: PaymentOrder;
  /** The first IPN attempt (undefined when neither ipnTargetUrl nor ipnUrl is set). Retries go on in the background. */
  ipn?: IpnDelivery;
}

export interface SandboxOrderView {
  shopId: string;
  mode: Mode;
  order: PaymentOrder;
  transactions: StoredOrder['transactions'];
  ipnTargetUrl?: string;
}

export interface Sandbox {
  /** Base URL to give the client (`baseUrl`), e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  readonly credentials: readonly SandboxCredential[];
  /** Aim faults: `faults.forOrder('INV-7', 'reset-after-create', { times: 1 })`. */
  readonly faults: FaultPlan;
  counters(): SandboxCounters;
  resetCounters(): void;
  /** Plays the buyer: the order becomes PAID (or REFUSED) and a signed IPN is posted. */
  pay(paymentOrderId: string, opts?: { refuse?: boolean }): Promise<PayResult>;
  /** Moves RUNNING orders past their expirationDate to EXPIRED (also done lazily on every read). */
  expireDue(): number;
  order(paymentOrderId: string): SandboxOrderView | undefined;
  ordersByOrderId(orderId: string): SandboxOrderView[];
  ipnDeliveries(): IpnDelivery[];
  stop(): Promise<void>;
}

const SERVICES = new Set(['Charge/CreatePaymentOrder', 'Charge/PaymentOrder/Get', 'Charge/PaymentOrder/Update', 'Charge/PaymentOrder/Cancel', 'Order/Get', 'Charge/SDKTest']);
const ORDER_SERVICES = new Set(['Charge/CreatePaymentOrder', 'Charge/PaymentOrder/Get', 'Charge/PaymentOrder/Update', 'Charge/PaymentOrder/Cancel', 'Order/Get']);
const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Starts a Lyra payment-order sandbox (docs/lyra-api.md §12) on a real HTTP port. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const now = opts.now ?? Date.now;
  const prefix = (opts.pathPrefix ?? '/api-payment/V4').replace(/\/+$/, '');
  const credentials = opts.credentials ?? [{ shopId: DEMO_SHOP_ID, testPassword: DEMO_TEST_PASSWORD, prodPassword: DEMO_PROD_PASSWORD }];
  const seed = opts.seed ?? Date.now();
  const faultRandom = seededRandom(seed);
  const jitterRandom = seededRandom(seed ^ 0x5bd1e995);
  const failKinds = opts.failKinds ?? DEFAULT_RANDOM_FAULTS;
  const maxHoldMs = opts.maxHoldMs ?? 120_000;
  let url = '';

  let counters = new CounterSet();
  const throttleWindow = new SlidingSecond();
  const faults = new FaultPlan();
  const store = new OrderStore({ linkBase: () => url, now, ...(opts.defaultExpiryMs ? { defaultExpiryMs: opts.defaultExpiryMs } : {}), ...(opts.crossModeCode ? { crossModeCode: opts.crossModeCode } : {}), lean: opts.lean === true });
  const ipn = new IpnSender(opts.ipnRetryDelaysMs ?? [1000, 2000, 4000, 8000], (ok) => {
    if (ok) counters.ipn.delivered++;
    else counters.ipn.failed++;
  });
  const held = new Set<{ res: ServerResponse; timer: NodeJS.Timeout }>();
  const sockets = new Set<Socket>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  let stopping = false;

  const passwordOf = (s: StoredOrder): string => {
    const c = credentials.find((x) => x.shopId === s.shopId);
    return (s.mode === 'TEST' ? c?.testPassword : c?.prodPassword) ?? '';
  };

  const view = (s: StoredOrder): SandboxOrderView => structuredClone({ shopId: s.shopId, mode: s.mode, order: s.order, transactions: s.transactions, ...(s.ipnTargetUrl ? { ipnTargetUrl: s.ipnTargetUrl } : {}) });

  async function pay(paymentOrderId: string, o: { refuse?: boolean } = {}): Promise<PayResult> {
    const r = store.settle(paymentOrderId, o.refuse === true);
    if ('error' in r) throw new HttpError(409, `${r.error.code} ${ERROR_MESSAGES[r.error.code] ?? ''}`.trim());
    const s = r.ok;
    const target = s.ipnTargetUrl ?? opts.ipnUrl;
    const order = structuredClone(s.order);
    if (!target) {
      counters.ipn.skipped++;
      return { order };
    }
    counters.ipn.sent++;
    const delivery = await ipn.send(target, s, passwordOf(s), now());
    return { order, ipn: structuredClone(delivery) };
  }

  function envelope(service: string, status: 'SUCCESS' | 'ERROR', answer: unknown, mode?: Mode): string {
    return JSON.stringify({
      webService: service,
      version: 'V4',
      applicationVersion: '6.0.0-sandbox',
      status,
      answer,
      ticket: hexId(),
      serverDate: isoUtc(now()),
      applicationProvider: 'LYRA',
      metadata: null,
      ...(mode ? { mode } : {}),
      serverUrl: url,
      _type: 'V4/WebService/Response',
    });
  }

  function errorAnswer(f: SandboxFault): Record<string, unknown> {
    return {
      errorCode: f.code,
      errorMessage: ERROR_MESSAGES[f.code] ?? 'error',
      detailedErrorCode: null,
      detailedErrorMessage: f.detailedMessage ?? null,
      ticket: null,
      _type: 'V4/WebService/WebServiceError',
    };
  }

  function send(res: ServerResponse, status: number, body: string, type = 'application/json;charset=utf-8', extra: Record<string, string> = {}): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  }

  function sendError(res: ServerResponse, service: string, f: SandboxFault, mode?: Mode, status = 200): void {
    counters.error(f.code);
    send(res, status, envelope(service, 'ERROR', errorAnswer(f), mode));
  }

  /** Keeps the request unanswered until the client gives up (socket closes), stop(), or maxHoldMs. */
  function hold(res: ServerResponse): void {
    const entry = {
      res,
      timer: setTimeout(() => {
        held.delete(entry);
        res.socket?.destroy();
      }, maxHoldMs),
    };
    held.add(entry);
    res.on('close', () => {
      clearTimeout(entry.timer);
      held.delete(entry);
    });
  }

  function readBody(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), tooLarge: size > MAX_BODY }));
      req.on('error', reject);
    });
  }

  function authenticate(req: IncomingMessage): { shopId: string; mode: Mode } | undefined {
    const h = req.headers.authorization;
    if (!h || !/^Basic /i.test(h)) return undefined;
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return undefined;
    const shopId = decoded.slice(0, i);
    const password = decoded.slice(i + 1);
    const c = credentials.find((x) => x.shopId === shopId);
    if (!c) return undefined;
    if (c.testPassword && password === c.testPassword) return { shopId, mode: 'TEST' };
    if (c.prodPassword && password === c.prodPassword) return { shopId, mode: 'PRODUCTION' };
    return undefined;
  }

  function pickFault(keys: (string | null | undefined)[], service: string): FaultKind | undefined {
    if (!ORDER_SERVICES.has(service)) return undefined;
    const aimed = faults.take(keys, service);
    if (aimed) return aimed;
    if (opts.failRate && opts.failRate > 0 && failKinds.length > 0 && faultRandom() < opts.failRate) {
      return failKinds[Math.floor(faultRandom() * failKinds.length)]!;
    }
    return undefined;
  }

  // handleApi answers through deferred versions of these (its latency).
  const sendNow = send;
  const sendErrorNow = sendError;
  const holdNow = hold;

  async function handleApi(req: IncomingMessage, res: ServerResponse, service: string): Promise<void> {
    const arrived = performance.now();
    counters.request(service, arrived);
    const { text, tooLarge } = await readBody(req);
    const latency = (opts.latencyMs ?? 0) + (opts.jitterMs ? jitterRandom() * opts.jitterMs : 0);
    // The request is handled at once and its answer leaves `latency` ms after it arrived, as a platform with that
    // latency answers; handled after the wait, the answer would be late by the handling of every request due then.
    const deadline = arrived + latency;
    const later = (act: () => void): void => {
      const go = (): void => {
        if (!res.destroyed) act();
      };
      const wait = deadline - performance.now();
      if (wait <= 0) return go();
      const t = setTimeout(() => {
        pendingTimers.delete(t);
        go();
      }, wait);
      pendingTimers.add(t);
    };
    const send = (...a: Parameters<typeof sendNow>): void => later(() => sendNow(...a));
    const sendError = (...a: Parameters<typeof sendErrorNow>): void => later(() => sendErrorNow(...a));
    const hold = (...a: Parameters<typeof holdNow>): void => later(() => holdNow(...a));
    const reset = (): void => later(() => req.socket.destroy());

    if (req.method !== 'POST' || !SERVICES.has(service)) return sendError(res, service, { code: 'INT_901', detailedMessage: `${req.method} ${service}` });
    const who = authenticate(req);
    if (!who) return sendError(res, service, { code: 'INT_905' }, undefined, opts.authFailureStatus ?? 200);
    if (opts.throttlePerSecond !== undefined) {
      const t = performance.now();
      if (throttleWindow.count(t) >= opts.throttlePerSecond) return sendError(res, service, { code: 'PSP_106' }, who.mode);
      throttleWindow.add(t);
    }
    if (tooLarge) return sendError(res, service, { code: 'INT_914' }, who.mode);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return sendError(res, service, { code: 'INT_902', detailedMessage: `can't decode JSON data : ${(e as Error).message}` }, who.mode);
    }

    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const poid = typeof b.paymentOrderId === 'string' ? b.paymentOrderId : undefined;
    const existing = poid ? store.byPaymentOrderId(poid) : undefined;
    const keys = [typeof b.orderId === 'string' ? b.orderId : undefined, existing?.order.orderId, poid];
    const fault = pickFault(keys, service);
    if (fault) counters.fault(fault);

    switch (fault) {
      case 'psp-106':
        return sendError(res, service, { code: 'PSP_106' }, who.mode);
      case 'http-500':
        counters.error('HTTP_500');
        return send(res, 500, '<html><body><h1>500 Internal Server Error</h1></body></html>', 'text/html');
      case 'http-503':
        counters.error('HTTP_503');
        return send(res, 503, '<html><body><h1>503 Service Unavailable</h1></body></html>', 'text/html', { 'retry-after': '1' });
      case 'timeout-before-create':
        counters.error('TIMEOUT');
        return hold(res);
      case 'reset-before-create':
        counters.error('RESET');
        return reset();
      default:
    }

    let outcome: Outcome | ReturnType<OrderStore['orderTransactions']>;
    switch (service) {
      case 'Charge/CreatePaymentOrder':
        outcome = store.create(who.shopId, who.mode, body);
        if ('ok' in outcome) counters.created(outcome.ok.orderId);
        break;
      case 'Charge/PaymentOrder/Get':
        outcome = store.get(who.shopId, who.mode, body);
        break;
      case 'Charge/PaymentOrder/Update':
        outcome = store.update(who.shopId, who.mode, body);
        break;
      case 'Charge/PaymentOrder/Cancel':
        outcome = store.cancel(who.shopId, who.mode, body);
        break;
      case 'Order/Get':
        outcome = store.orderTransactions(who.shopId, who.mode, body);
        break;
      default: {
        // Charge/SDKTest
        const value = b.value;
        if (typeof value !== 'string') return sendError(res, service, { code: 'INT_902', detailedMessage: 'value must be a string' }, who.mode);
        return send(res, 200, envelope(service, 'SUCCESS', { value, _type: 'V4/Type/String' }, who.mode));
      }
    }

    switch (fault) {
      case 'timeout':
        counters.error('TIMEOUT');
        return hold(res);
      case 'reset-after-create':
        counters.error('RESET');
        return reset();
      case 'bad-envelope':
        counters.error('BAD_ENVELOPE');
        return send(res, 200, '<html><body>Bad gateway</body></html>', 'text/html');
      default:
    }
    if ('error' in outcome) return sendError(res, service, outcome.error, who.mode);
    send(res, 200, envelope(service, 'SUCCESS', outcome.ok, who.mode));
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const { text } = await readBody(req);
    if (text.trim() === '') return {};
    const ct = req.headers['content-type'] ?? '';
    if (ct.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
    try {
      const v = JSON.parse(text);
      if (v && typeof v === 'object') return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new HttpError(400, 'body must be a JSON object');
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const json = (v: unknown, status = 200): void => send(res, status, JSON.stringify(v));
    const m = req.method ?? 'GET';
    if (path === '/_sandbox/counters' && m === 'GET') return json(counters.snapshot(store.size));
    if (path === '/_sandbox/counters/reset' && m === 'POST') {
      counters = new CounterSet();
      return json({ ok: true });
    }
    if (path === '/_sandbox/faults') {
      if (m === 'GET') return json(faults.list());
      if (m === 'DELETE') {
        faults.clear(query.get('key') ?? undefined);
        return json({ ok: true });
      }
      if (m === 'POST') {
        const b = await readJson(req);
        const key = (b.key ?? b.orderId ?? b.paymentOrderId) as unknown;
        if (typeof key !== 'string' || key === '') throw new HttpError(400, 'give key (an orderId or paymentOrderId)');
        if (!isFaultKind(b.kind)) throw new HttpError(400, 'kind must be a fault kind');
        const times = b.times === undefined || b.times === null ? 1 : b.times === 'Infinity' ? Infinity : Number(b.times);
        if (!(times > 0)) throw new HttpError(400, 'times must be positive');
        faults.forOrder(key, b.kind, { times, ...(typeof b.service === 'string' ? { service: b.service } : {}) });
        return json({ ok: true });
      }
    }
    if (path === '/_sandbox/pay' && m === 'POST') {
      const b = await readJson(req);
      if (typeof b.paymentOrderId !== 'string') throw new HttpError(400, 'give paymentOrderId');
      return json(await pay(b.paymentOrderId, { refuse: b.refuse === true || b.refuse === 'true' }));
    }
    if (path === '/_sandbox/expire' && m === 'POST') return json({ expired: store.expireDue() });
    if (path === '/_sandbox/ipn' && m === 'GET') return json(ipn.log);
    if (path === '/_sandbox/orders' && m === 'GET') {
      const orderId = query.get('orderId');
      if (!orderId) throw new HttpError(400, 'give ?orderId=');
      return json(store.byOrderId(orderId).map(view));
    }
    const om = /^\/_sandbox\/orders\/([0-9a-f]{32})$/.exec(path);
    if (om && m === 'GET') {
      const s = store.byPaymentOrderId(om[1]!);
      if (!s) throw new HttpError(404, 'no such payment order');
      return json(view(s));
    }
    throw new HttpError(404, `no sandbox control ${m} ${path}`);
  }

  async function handleLink(req: IncomingMessage, res: ServerResponse, code: string): Promise<void> {
    const s = store.byShortCode(code);
    if (!s) return send(res, 404, '<!doctype html><title>Not found</title><p>This payment link does not exist.</p>', 'text/html;charset=utf-8');
    if (req.method === 'POST') {
      const b = await readJson(req);
      let note = '';
      try {
        await pay(s.order.paymentOrderId, { refuse: b.action === 'refuse' });
      } catch (e) {
        note = (e as Error).message;
      }
      res.writeHead(303, { location: `/t/${code}${note ? `?note=${encodeURIComponent(note)}` : ''}`, 'content-length': 0 });
      res.end();
      return;
    }
    send(res, 200, payPage(s.order, `/t/${code}`), 'text/html;charset=utf-8');
  }

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://sandbox');
    const path = u.pathname;
    let work: Promise<void>;
    if (path.startsWith(`${prefix}/`)) work = handleApi(req, res, path.slice(prefix.length + 1));
    else if (path.startsWith('/_sandbox/')) work = handleControl(req, res, path, u.searchParams);
    else if (/^\/t\/[a-z0-9]{8}$/.test(path)) work = handleLink(req, res, path.slice(3));
    else if (path === '/' && req.method === 'GET') {
      work = Promise.resolve(send(res, 200, JSON.stringify({ sandbox: 'Lyra REST V4 payment orders', api: `${url}${prefix}/`, shopId: credentials[0]?.shopId }), 'application/json'));
    } else work = Promise.resolve(send(res, 404, 'not found\n', 'text/plain'));
    work.catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      send(res, status, JSON.stringify({ error: (e as Error).message }));
    });
  });
  // Longer than the client's keep-alive so the client, not the server, closes idle sockets (no reuse race).
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = 15_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const { port, urlHost } = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  url = `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`;

  return {
    url,
    port,
    credentials,
    faults,
    counters: () => counters.snapshot(store.size),
    resetCounters: () => {
      counters = new CounterSet();
    },
    pay,
    expireDue: () => store.expireDue(),
    order: (id) => {
      const s = store.byPaymentOrderId(id);
      return s ? view(s) : undefined;
    },
    ordersByOrderId: (orderId) => store.byOrderId(orderId).map(view),
    ipnDeliveries: () => structuredClone(ipn.log),
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      for (const h of held) {
        clearTimeout(h.timer);
        h.res.socket?.destroy();
      }
      held.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await Promise.all([closed, ipn.stop()]);
    },
  };
}
