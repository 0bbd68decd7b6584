import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { spawnCli } from '../support/cli.js';
import { post } from './helpers.js';

describe('paybatch sandbox (the command a new user runs)', () => {
  it('prints its URL and the demo credentials, answers a CreatePaymentOrder, and stops cleanly on SIGTERM', async () => {
    const child = spawnCli(['sandbox', '--port', '0', '--latency', '1'], { env: { PAYBATCH_PASSWORD: undefined } });
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /PAYBATCH_API_URL=(\S+)/.exec(out);
        if (m && out.includes('PAYBATCH_PASSWORD=')) resolve(m[1]!);
      });
      child.on('close', () => reject(new Error(`sandbox exited early: ${err}`)));
    });
    expect(out).toContain('PAYBATCH_SHOP_ID=69876357');
    expect(out).toContain('PAYBATCH_PASSWORD=testpassword_');

    const r = await post(url, 'Charge/CreatePaymentOrder', { amount: 10000, currency: 'EUR', orderId: 'myOrderId-1234', channelOptions: { channelType: 'URL' } });
    expect(r.json).toMatchObject({ status: 'SUCCESS', answer: { orderId: 'myOrderId-1234', paymentOrderStatus: 'RUNNING', _type: 'V4/PaymentOrder' } });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('stopped');
  });

  it('refuses a fail rate outside 0..1 with a one-line message', async () => {
    const child = spawnCli(['sandbox', '--port', '0', '--fail-rate', '2']);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err.trim()).toBe('paybatch: --fail-rate must be between 0 and 1');
  });

  it('names the port when it is already taken', async () => {
    const busy = await startSandbox();
    try {
      const child = spawnCli(['sandbox', '--port', String(busy.port)]);
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(code).toBe(2);
      expect(err).toContain(`cannot listen on 127.0.0.1:${busy.port} (EADDRINUSE)`);
    } finally {
      await busy.stop();
    }
  });
});
