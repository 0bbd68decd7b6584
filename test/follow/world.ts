import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { openSqliteLedger } from '../../src/ledger/local/sqlite-ledger.js';
import type { Ledger, LedgerEntry } from '../../src/ledger/ledger.js';
import { fingerprint } from '../../src/ledger/fingerprint.js';
import { LyraClient } from '../../src/lyra/client.js';
import type { PaymentOrder, PaymentOrderRequest } from '../../src/lyra/types.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';

/**
 * A small world for follow-up stories: a real sandbox over HTTP (with its own clock), a state directory, and orders
 * created exactly as `run` creates them — claim in the ledger, CreatePaymentOrder with the real client, record.
 */
export interface World {
  dir: string;
  stateDir: string;
  sandbox: Sandbox;
  client: LyraClient;
  clock: { now: number };
  /** The env a CLI child needs: sandbox URL, demo shop, TEST password, state dir. */
  env: Record<string, string | undefined>;
  send(req: PaymentOrderRequest & { orderId: string }): Promise<PaymentOrder>;
  entry(orderId: string): Promise<LedgerEntry | undefined>;
  withLedger<T>(fn: (l: Ledger) => Promise<T>): Promise<T>;
  file(name: string, text: string): string;
  close(): Promise<void>;
}

/** The sandbox starts at the real time (the CLI child computes relative dates like --expires-in from it); tests move it on. */
export const T0 = Math.floor(Date.now() / 1000) * 1000;

export async function makeWorld(opts: Omit<SandboxOptions, 'now' | 'port'> = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'paybatch-follow-'));
  const stateDir = join(dir, 'state');
  const clock = { now: T0 };
  const sandbox = await startSandbox({ port: 0, now: () => clock.now, ipnRetryDelaysMs: [], ...opts });
  const client = new LyraClient({ baseUrl: sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD, timeoutMs: 5000 });
  const withLedger = async <T>(fn: (l: Ledger) => Promise<T>): Promise<T> => {
    const l = await openSqliteLedger({ dir: stateDir, shopId: DEMO_SHOP_ID, mode: 'TEST' });
    try {
      return await fn(l);
    } finally {
      await l.close();
    }
  };
  return {
    dir,
    stateDir,
    sandbox,
    client,
    clock,
    env: {
      PAYBATCH_API_URL: sandbox.url,
      PAYBATCH_PLATFORM: undefined,
      PAYBATCH_SHOP_ID: DEMO_SHOP_ID,
      PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD,
      PAYBATCH_HMAC_KEY: undefined,
      PAYBATCH_STATE_DIR: stateDir,
      PAYBATCH_ENV_FILE: undefined,
      PAYBATCH_LOG_LEVEL: 'info',
      REDIS_URL: undefined,
    },
    send: (req) =>
      withLedger(async (l) => {
        const channel = req.channelOptions?.channelType ?? 'URL';
        const recipient = req.channelOptions?.mailOptions?.recipient ?? req.channelOptions?.smsOptions?.phoneNumber ?? '';
        const claim = await l.claim(req.orderId, { fingerprint: fingerprint(req), sent: { amountMinor: req.amount, currency: req.currency, channel, recipient, ...(req.expirationDate ? { expirationDate: req.expirationDate } : {}) }, retryUncertain: false });
        if (claim.kind !== 'claimed') throw new Error(`${req.orderId}: already in the ledger`);
        const order = await client.createPaymentOrder(req);
        await l.record(req.orderId, claim.token, { state: 'CREATED', attempts: 1, paymentOrderId: order.paymentOrderId, paymentURL: order.paymentURL, paymentOrderStatus: order.paymentOrderStatus });
        return order;
      }),
    entry: (orderId) => withLedger((l) => l.get(orderId)),
    withLedger,
    file(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    async close() {
      await client.close();
      await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ISO date `days` after the sandbox's start time. */
export function inDays(days: number): string {
  return new Date(T0 + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Resolves with the first line of the child's `stream` matching `re` (the child keeps running). */
export function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = child[stream]!;
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (re.test(line)) {
          s.off('data', onData);
          child.off('exit', onExit);
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`the CLI exited (${code}) before printing ${re}`));
    s.on('data', onData);
    child.once('exit', onExit);
  });
}
