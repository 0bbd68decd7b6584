import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LyraClient } from '../../src/lyra/client.js';
import { LyraApiError } from '../../src/lyra/errors.js';
import { DEMO_PROD_PASSWORD, DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';

const SECRET_FORMS = [DEMO_TEST_PASSWORD, Buffer.from(`${DEMO_SHOP_ID}:${DEMO_TEST_PASSWORD}`).toString('base64')];

/** Runs the call, expects a LyraApiError, and checks it carries no secret in any form. */
async function failure(p: Promise<unknown>): Promise<LyraApiError> {
  const e = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );
  expect(LyraApiError.is(e)).toBe(true);
  const err = e as LyraApiError;
  const everything = `${err.message} ${err.stack} ${JSON.stringify(err)} ${JSON.stringify(Object.getOwnPropertyDescriptors(err))}`;
  for (const s of SECRET_FORMS) expect(everything).not.toContain(s);
  return err;
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('LyraClient against the sandbox', () => {
  let sb: Sandbox;
  let client: LyraClient;
  const clients: LyraClient[] = [];
  const open = (over: Partial<ConstructorParameters<typeof LyraClient>[0]> = {}): LyraClient => {
    const c = new LyraClient({ baseUrl: sb.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD, timeoutMs: 5000, ...over });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sb = await startSandbox();
    client = open();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await sb.stop();
  });

  describe('the five services', () => {
    it('checks credentials with SDKTest and reads the mode from the key prefix', async () => {
      expect(await client.sdkTest('hello')).toBe('hello');
      expect(client.mode).toBe('TEST');
      expect(open({ password: DEMO_PROD_PASSWORD }).mode).toBe('PRODUCTION');
    });

    it('creates, reads, updates and cancels an e-mail payment order', async () => {
      const created = await client.createPaymentOrder({
        amount: 12345,
        currency: 'EUR',
        orderId: 'CL-MAIL-1',
        channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'buyer@example.com' } },
      });
      expect(created.paymentOrderId).toMatch(/^[0-9a-f]{32}$/);
      expect(created.paymentURL).toMatch(new RegExp(`^${sb.url}/t/[a-z0-9]{8}$`));
      expect(created.paymentOrderStatus).toBe('RUNNING');
      expect(created.channelDetails.mailDetails?.body).toContain(created.paymentURL);

      const read = await client.getPaymentOrder(created.paymentOrderId);
      expect(read).toEqual(created);

      const updated = await client.updatePaymentOrder({
        paymentOrderId: created.paymentOrderId,
        amount: 20000,
        currency: 'EUR',
        channelOptions: { channelType: 'MAIL', mailOptions: { recipient: 'buyer@example.com' } },
      });
      expect(updated.amount).toBe(20000);
      expect(updated.updateDate).not.toBeNull();

      const cancelled = await client.cancelPaymentOrder(created.paymentOrderId);
      expect(cancelled.paymentOrderStatus).toBe('CANCELLED');
    });
  });

  describe('permanent errors: the platform answered no', () => {
    it('a validation error carries the four error fields', async () => {
      const e = await failure(client.createPaymentOrder({ amount: 10.5, currency: 'EUR', orderId: 'CL-BAD-AMOUNT' }));
      expect(e).toMatchObject({ code: 'INT_009', kind: 'permanent', httpStatus: 200, service: 'Charge/CreatePaymentOrder' });
      expect(e.detailedMessage).toMatch(/integer/);
      expect(e.isAuthFailure).toBe(false);
    });

    it('an unknown order and a finished order are permanent', async () => {
      expect(await failure(client.getPaymentOrder('0123456789abcdef0123456789abcdef'))).toMatchObject({ code: 'PSP_1000', kind: 'permanent' });
      const o = await client.createPaymentOrder({ amount: 500, currency: 'EUR', orderId: 'CL-PAID' });
      await sb.pay(o.paymentOrderId);
      expect(await failure(client.cancelPaymentOrder(o.paymentOrderId))).toMatchObject({ code: 'PSP_1005', kind: 'permanent' });
    });

    it('a wrong password is an auth failure, whether Lyra answers 200 + INT_905 or a 401', async () => {
      const wrong = open({ password: 'testpassword_WRONG' });
      const e = await failure(wrong.sdkTest('x'));
      expect(e).toMatchObject({ code: 'INT_905', kind: 'permanent', httpStatus: 200, isAuthFailure: true });
      expect(`${e.message}${JSON.stringify(e)}`).not.toContain('testpassword_WRONG');

      const strict = await startSandbox({ authFailureStatus: 401 });
      try {
        const c = new LyraClient({ baseUrl: strict.url, shopId: DEMO_SHOP_ID, password: 'testpassword_WRONG' });
        const e401 = await failure(c.createPaymentOrder({ amount: 1, currency: 'EUR', orderId: 'X' }));
        expect(e401).toMatchObject({ code: 'INT_905', httpStatus: 401, isAuthFailure: true, kind: 'permanent' });
        await c.close();
      } finally {
        await strict.stop();
      }
    });

    it('a wrong path prefix is a permanent INT_901', async () => {
      const e = await failure(open({ pathPrefix: '/api-rest/V4' }).sdkTest('x'));
      expect(e.kind).toBe('permanent');
    });
  });

  describe('retry-safe errors: provably nothing happened', () => {
    it('PSP_106 throttling creates nothing', async () => {
      sb.faults.forOrder('CL-THROTTLED', 'psp-106');
      const e = await failure(client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-THROTTLED' }));
      expect(e).toMatchObject({ code: 'PSP_106', kind: 'retry-safe' });
      expect(sb.counters().ordersCreated['CL-THROTTLED']).toBeUndefined();
    });

    it('HTTP 503 is retry-safe and its Retry-After is honoured', async () => {
      sb.faults.forOrder('CL-503', 'http-503');
      const e = await failure(client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-503' }));
      expect(e).toMatchObject({ code: 'PB_HTTP_503', kind: 'retry-safe', httpStatus: 503, retryAfterMs: 1000 });
    });

    it('HTTP 429 from a gateway in front of Lyra is retry-safe, with or without Retry-After', async () => {
      let n = 0;
      const gateway: Server = createServer((req, res) => {
        req.resume();
        n++;
        res.writeHead(429, n === 1 ? { 'retry-after': '7' } : {});
        res.end('slow down');
      });
      await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
      const c = open({ baseUrl: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}` });
      try {
        expect(await failure(c.sdkTest('x'))).toMatchObject({ code: 'PB_HTTP_429', kind: 'retry-safe', retryAfterMs: 7000 });
        const e = await failure(c.sdkTest('x'));
        expect(e.kind).toBe('retry-safe');
        expect(e.retryAfterMs).toBeUndefined();
      } finally {
        await c.close();
        gateway.closeAllConnections();
        await new Promise((r) => gateway.close(r));
      }
    });

    it('connection refused is retry-safe', async () => {
      const stopped = await startSandbox();
      const url = stopped.url;
      await stopped.stop();
      const e = await failure(open({ baseUrl: url }).createPaymentOrder({ amount: 1, currency: 'EUR', orderId: 'CL-REFUSED' }));
      expect(e).toMatchObject({ code: 'PB_CONN_REFUSED', kind: 'retry-safe' });
    });

    it('onSent says when the request is on the wire: before its answer, and never for a call that could not connect', async () => {
      const seen: string[] = [];
      const value = client.sdkTest('wire', { onSent: () => seen.push('sent') }).then((v) => {
        seen.push('answered');
        return v;
      });
      expect(await value).toBe('wire');
      expect(seen).toEqual(['sent', 'answered']);

      const stopped = await startSandbox();
      const url = stopped.url;
      await stopped.stop();
      let sent = 0;
      const e = await failure(open({ baseUrl: url }).sdkTest('wire', { onSent: () => sent++ }));
      expect(e.code).toBe('PB_CONN_REFUSED');
      expect(sent).toBe(0);
    });

    it('a call aborted while still queued for a connection never leaves: retry-safe, the sandbox never sees it', async () => {
      const single = open({ connections: 1, timeoutMs: 500 });
      sb.faults.forOrder('CL-HOLDER', 'timeout-before-create');
      const before = sb.counters().requests['Charge/CreatePaymentOrder'] ?? 0;
      const holder = failure(single.createPaymentOrder({ amount: 1, currency: 'EUR', orderId: 'CL-HOLDER' }));
      await waitFor(() => (sb.counters().requests['Charge/CreatePaymentOrder'] ?? 0) === before + 1);
      const ac = new AbortController();
      const queued = failure(single.createPaymentOrder({ amount: 1, currency: 'EUR', orderId: 'CL-QUEUED' }, { signal: ac.signal }));
      ac.abort();
      expect(await queued).toMatchObject({ code: 'PB_ABORTED', kind: 'retry-safe' });
      expect(await holder).toMatchObject({ code: 'PB_TIMEOUT', kind: 'unknown' });
      expect(sb.counters().ordersCreated['CL-QUEUED']).toBeUndefined();
    });
  });

  describe('outcome unknown: the order may exist', () => {
    it('a timeout after the body was sent is unknown — and the sandbox did create the order', async () => {
      sb.faults.forOrder('CL-TIMEOUT', 'timeout');
      const e = await failure(open({ timeoutMs: 300 }).createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-TIMEOUT' }));
      expect(e).toMatchObject({ code: 'PB_TIMEOUT', kind: 'unknown' });
      expect(sb.counters().ordersCreated['CL-TIMEOUT']).toBe(1);
    });

    it('a reset after the order was created is unknown', async () => {
      sb.faults.forOrder('CL-RESET', 'reset-after-create');
      const e = await failure(client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-RESET' }));
      expect(e).toMatchObject({ code: 'PB_RESET', kind: 'unknown' });
      expect(sb.ordersByOrderId('CL-RESET')).toHaveLength(1);
    });

    it('HTTP 500 and a body that is not the envelope are unknown', async () => {
      sb.faults.forOrder('CL-500', 'http-500');
      expect(await failure(client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-500' }))).toMatchObject({ code: 'PB_HTTP_5XX', kind: 'unknown', httpStatus: 500 });
      sb.faults.forOrder('CL-HTML', 'bad-envelope');
      expect(await failure(client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-HTML' }))).toMatchObject({ code: 'PB_BAD_ENVELOPE', kind: 'unknown' });
    });

    it('faults can be aimed at follow-up calls on an existing order too', async () => {
      const o = await client.createPaymentOrder({ amount: 100, currency: 'EUR', orderId: 'CL-FOLLOW' });
      sb.faults.forOrder('CL-FOLLOW', 'reset-after-create', { service: 'Charge/PaymentOrder/Cancel' });
      expect(await failure(client.cancelPaymentOrder(o.paymentOrderId))).toMatchObject({ code: 'PB_RESET', kind: 'unknown' });
      // The cancel did happen: exactly the situation "unknown" warns about.
      expect((await client.getPaymentOrder(o.paymentOrderId)).paymentOrderStatus).toBe('CANCELLED');
    });
  });

  it('a keep-alive socket the server drops as it is reused: undici does not retry the POST, and the outcome is unknown', async () => {
    // A bare HTTP/1.1 server: answers the first request on a socket and keeps it alive, then drops the socket
    // when the next request arrives on it — from the client's side, exactly the idle-close race.
    const arrivals: number[] = [];
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      let buffered = '';
      let answered = false;
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        if (answered) {
          arrivals.push(2);
          socket.destroy();
          return;
        }
        buffered += chunk;
        const end = buffered.indexOf('\r\n\r\n');
        const length = Number(/content-length: *(\d+)/i.exec(buffered)?.[1] ?? 0);
        if (end < 0 || buffered.length < end + 4 + length) return;
        answered = true;
        arrivals.push(1);
        const body = JSON.stringify({ status: 'SUCCESS', answer: { value: 'first' } });
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nkeep-alive: timeout=60\r\n\r\n${body}`);
      });
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = open({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: 1 });
    try {
      expect(await c.sdkTest('first')).toBe('first');
      const e = await failure(c.sdkTest('second'));
      expect(e).toMatchObject({ code: 'PB_RESET', kind: 'unknown' });
      expect(arrivals).toEqual([1, 2]);
    } finally {
      await c.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('keeps working after every kind of failure (the pool recovers) and close() is final', async () => {
    expect(await client.sdkTest('still here')).toBe('still here');
    // Clients of one host share the process-wide pool: closing one leaves the others working.
    const c = open({ timeoutMs: 100 });
    await c.close();
    expect(await failure(c.sdkTest('x'))).toMatchObject({ code: 'PB_CLIENT_CLOSED', kind: 'retry-safe' });
    expect(await client.sdkTest('others unaffected')).toBe('others unaffected');
  });

  it('serialising the client shows no password', () => {
    const s = JSON.stringify(client) + String(Object.keys(client));
    for (const secret of SECRET_FORMS) expect(s).not.toContain(secret);
  });
});
