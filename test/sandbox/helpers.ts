import { request } from 'undici';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';

export interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** A plain HTTP POST to a sandbox web service, the way curl would send it. */
export async function post(base: string, service: string, body: unknown, password = DEMO_TEST_PASSWORD, shopId = DEMO_SHOP_ID): Promise<Raw> {
  const res = await request(`${base}/api-payment/V4/${service}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${shopId}:${password}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return read(res);
}

export async function http(method: string, url: string, body?: unknown, contentType = 'application/json'): Promise<Raw> {
  const res = await request(url, {
    method: method as 'GET',
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': contentType } } : {}),
  });
  return read(res);
}

async function read(res: Awaited<ReturnType<typeof request>>): Promise<Raw> {
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Waits for a condition the sandbox or a receiver reaches asynchronously (no fixed sleeps). */
export async function waitFor(cond: () => boolean, what = 'condition', limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
