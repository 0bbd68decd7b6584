import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { INTERRUPTED_CODE, openSqliteLedger, sqliteLedgerPath } from '../../../src/ledger/local/sqlite-ledger.js';
import { legacyJournalPath } from '../../../src/ledger/local/legacy-journal.js';
import type { ClaimRequest, Ledger, LedgerEntry } from '../../../src/ledger/ledger.js';
import { PaybatchError } from '../../../src/errors/paybatch-error.js';

const SHOP = '69876357';
const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  fingerprint: 'a'.repeat(64),
  sent: { amountMinor: 12345, currency: 'EUR', channel: 'MAIL', recipient: 'jane@example.com' },
  batchId: 'batch-1',
  retryUncertain: false,
  ...over,
});
const created = (id: string) => ({ state: 'CREATED' as const, attempts: 1, paymentOrderId: `po-${id}`, paymentURL: `https://pay.example/${id}`, paymentOrderStatus: 'RUNNING' as const });

let dir: string;
let open: Ledger[] = [];
const openLedger = async (extra: Partial<Parameters<typeof openSqliteLedger>[0]> = {}): Promise<Ledger> => {
  const l = await openSqliteLedger({ dir, shopId: SHOP, mode: 'TEST', ...extra });
  open.push(l);
  return l;
};
/** What another process reading the database sees: only committed (and fsync'd) transactions. */
const onDisk = (): LedgerEntry[] => {
  const db = new Database(sqliteLedgerPath(dir, SHOP, 'TEST'), { readonly: true });
  try {
    return (db.prepare('SELECT entry FROM orders ORDER BY id').all() as { entry: string }[]).map((r) => JSON.parse(r.entry) as LedgerEntry);
  } finally {
    db.close();
  }
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-ledger-'));
  open = [];
});
afterEach(async () => {
  for (const l of open) await l.close();
  await rm(dir, { recursive: true, force: true });
});

describe('local ledger: an invoice is sent at most once', () => {
  it('a claimed order is SENDING on disk before claim() resolves, and CREATED after record(), across a reopen', async () => {
    const l = await openLedger();
    const c = await l.claim('INV-1', req());
    expect(c.kind).toBe('claimed');
    expect(onDisk()).toEqual([expect.objectContaining({ orderId: 'INV-1', state: 'SENDING', batchId: 'batch-1' })]);
    if (c.kind !== 'claimed') return;
    expect(await l.record('INV-1', c.token, created('INV-1'))).toBe(true);
    await l.close();

    const again = await openLedger();
    const e = await again.get('INV-1');
    expect(e).toMatchObject({ state: 'CREATED', attempts: 1, paymentOrderId: 'po-INV-1', paymentURL: 'https://pay.example/INV-1', fingerprint: 'a'.repeat(64) });
    expect(e!.sent).toEqual(req().sent);
    const refused = await again.claim('INV-1', req({ retryUncertain: true }));
    expect(refused).toMatchObject({ kind: 'refused', entry: { state: 'CREATED', paymentOrderId: 'po-INV-1' } });
  });

  it('a FAILED order may be sent again, and attempts add up across claims', async () => {
    const l = await openLedger();
    const c1 = await l.claim('INV-2', req());
    if (c1.kind !== 'claimed') throw new Error('not claimed');
    await l.record('INV-2', c1.token, { state: 'FAILED', attempts: 3, errorCode: 'PSP_106', errorMessage: 'API call limit exceeded' });
    const c2 = await l.claim('INV-2', req({ fingerprint: 'b'.repeat(64) }));
    expect(c2).toMatchObject({ kind: 'claimed', previous: { state: 'FAILED', errorCode: 'PSP_106' } });
    if (c2.kind !== 'claimed') return;
    await l.record('INV-2', c2.token, created('INV-2'));
    const e = await l.get('INV-2');
    expect(e).toMatchObject({ state: 'CREATED', attempts: 4, fingerprint: 'b'.repeat(64) });
    expect(e!.errorCode).toBeUndefined();
  });

  it('an UNCERTAIN order is refused unless the operator passes retryUncertain', async () => {
    const l = await openLedger();
    const c = await l.claim('INV-3', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    await l.record('INV-3', c.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
    expect(await l.claim('INV-3', req())).toMatchObject({ kind: 'refused', entry: { state: 'UNCERTAIN', errorCode: 'PB_TIMEOUT' } });
    expect(await l.claim('INV-3', req({ retryUncertain: true }))).toMatchObject({ kind: 'claimed', previous: { state: 'UNCERTAIN' } });
  });

  it('a SENDING order owned by a live claim is refused to a second claimer, and a stale token cannot record', async () => {
    const l = await openLedger();
    const [a, b] = await Promise.all([l.claim('INV-4', req()), l.claim('INV-4', req({ retryUncertain: true }))]);
    expect([a.kind, b.kind].sort()).toEqual(['claimed', 'refused']);
    const refused = (a.kind === 'refused' ? a : b) as { entry: LedgerEntry };
    expect(refused.entry.state).toBe('SENDING');
    expect(await l.record('INV-4', 'not-the-token', created('INV-4'))).toBe(false);
    expect((await l.get('INV-4'))!.state).toBe('SENDING');
  });

  it('release() puts the order back as it was: gone when new, the earlier entry otherwise', async () => {
    const l = await openLedger();
    const c = await l.claim('INV-5', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    await l.release('INV-5', c.token);
    expect(await l.get('INV-5')).toBeUndefined();

    const c1 = await l.claim('INV-6', req());
    if (c1.kind !== 'claimed') throw new Error('not claimed');
    await l.record('INV-6', c1.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
    const c2 = await l.claim('INV-6', req({ retryUncertain: true }));
    if (c2.kind !== 'claimed') throw new Error('not claimed');
    await l.release('INV-6', c2.token);
    await l.close();
    const again = await openLedger();
    expect(await again.get('INV-5')).toBeUndefined();
    expect(await again.get('INV-6')).toMatchObject({ state: 'UNCERTAIN', errorCode: 'PB_TIMEOUT', attempts: 1 });
  });

  it('an order looked up before it existed is seen once claimed, merged or recorded, and a second claim is refused', async () => {
    // A run looks every new order up before claiming it: that "not found" must not outlive the order's first write.
    const l = await openLedger();
    for (const id of ['INV-20', 'INV-21', 'INV-22']) expect(await l.get(id)).toBeUndefined();
    const c = await l.claim('INV-20', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    expect(await l.get('INV-20')).toMatchObject({ state: 'SENDING' });
    expect(await l.claim('INV-20', req())).toMatchObject({ kind: 'refused' });
    await l.record('INV-20', c.token, created('INV-20'));
    expect(await l.claim('INV-20', req())).toMatchObject({ kind: 'refused', entry: { state: 'CREATED' } });

    await l.merge([{ orderId: 'INV-21', state: 'CREATED', attempts: 1, fingerprint: '', sent: req().sent, paymentOrderId: 'po-21', updatedAt: '2026-12-01T10:00:00.000Z' }]);
    expect(await l.claim('INV-21', req())).toMatchObject({ kind: 'refused', entry: { paymentOrderId: 'po-21' } });

    const c22 = await l.claim('INV-22', req());
    if (c22.kind !== 'claimed') throw new Error('not claimed');
    await l.release('INV-22', c22.token);
    expect(await l.get('INV-22')).toBeUndefined();
    expect(await l.claim('INV-22', req())).toMatchObject({ kind: 'claimed' });
  });

  it('a SENDING order found at open (the run stopped mid-send) reads as UNCERTAIN PB_INTERRUPTED, durably', async () => {
    const l = await openLedger();
    await l.claim('INV-7', req());
    await l.close();
    const again = await openLedger();
    const e = await again.get('INV-7');
    expect(e).toMatchObject({ state: 'UNCERTAIN', errorCode: INTERRUPTED_CODE, attempts: 1 });
    expect(e!.errorMessage).toMatch(/check the Back Office.*--retry-uncertain/);
    expect(onDisk()).toEqual([expect.objectContaining({ orderId: 'INV-7', state: 'UNCERTAIN' })]);
    expect(await again.claim('INV-7', req())).toMatchObject({ kind: 'refused' });
  });
});

describe('local ledger: the journal of earlier versions', () => {
  const line = (e: Partial<LedgerEntry>) => JSON.stringify({ attempts: 1, fingerprint: 'x', sent: req().sent, updatedAt: '2026-01-01T00:00:00.000Z', ...e });

  it('is carried over once at the first open: the newest line of each order wins, SENDING becomes UNCERTAIN, a torn last line is ignored', async () => {
    const path = legacyJournalPath(dir, SHOP, 'TEST');
    const notices: string[] = [];
    await writeFile(
      path,
      [
        line({ orderId: 'INV-1', state: 'SENDING' }),
        line({ orderId: 'INV-1', state: 'CREATED', paymentOrderId: 'po-1', paymentURL: 'https://pay.example/1', paymentOrderStatus: 'RUNNING' }),
        line({ orderId: 'INV-2', state: 'SENDING' }),
        line({ orderId: 'INV-3', state: 'FAILED', errorCode: 'PSP_021', errorMessage: 'bad currency' }),
        line({ orderId: 'INV-4', state: 'CREATED' }),
        JSON.stringify({ orderId: 'INV-4', deleted: true }),
      ].join('\n') + '\n{"orderId":"INV-5","state":"SEND',
    );
    const l = await openLedger({ onNotice: (m) => notices.push(m) });
    expect(await l.get('INV-1')).toMatchObject({ state: 'CREATED', paymentOrderId: 'po-1' });
    expect(await l.get('INV-2')).toMatchObject({ state: 'UNCERTAIN', errorCode: INTERRUPTED_CODE });
    expect(await l.get('INV-3')).toMatchObject({ state: 'FAILED' });
    expect(await l.get('INV-4')).toBeUndefined();
    expect(await l.get('INV-5')).toBeUndefined();
    expect(notices).toEqual([expect.stringContaining(`carried 3 orders over from the journal ${path}`)]);
    await expect(stat(path)).rejects.toThrow();
    expect((await stat(`${path}.imported`)).isFile()).toBe(true);
    expect(await l.claim('INV-1', req({ retryUncertain: true }))).toMatchObject({ kind: 'refused' });
    expect(await l.claim('INV-2', req())).toMatchObject({ kind: 'refused' });
    await l.close();
    notices.length = 0;
    const again = await openLedger({ onNotice: (m) => notices.push(m) });
    expect(notices).toEqual([]);
    expect(await again.get('INV-1')).toMatchObject({ state: 'CREATED' });
  });

  it('an unreadable line in the middle stops the open with a clear error instead of guessing', async () => {
    const path = legacyJournalPath(dir, SHOP, 'TEST');
    await writeFile(path, `garbage\n${line({ orderId: 'INV-1', state: 'CREATED' })}\n`);
    await expect(openLedger()).rejects.toThrow(/line 1 is unreadable/);
    expect((await stat(path)).isFile()).toBe(true);
  });
});

describe('local ledger: crashes', () => {
  it('kill -9 of a process claiming in a loop loses nothing: every claimed order is there, recorded or UNCERTAIN', async () => {
    const script = fileURLToPath(new URL('./fixtures/claim-loop.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const claimed = new Set<string>();
    const recorded = new Set<string>();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.on('exit', () => reject(new Error(`child exited early: ${stderr}`)));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const [what, id] = buf.slice(0, nl).split(' ');
          buf = buf.slice(nl + 1);
          if (what === 'claimed') claimed.add(id!);
          if (what === 'recorded') recorded.add(id!);
          if (claimed.size === 300) {
            child.removeAllListeners('exit');
            child.kill('SIGKILL');
            child.on('exit', () => resolve());
          }
        }
      });
    });

    const l = await openLedger();
    const states = new Map<string, LedgerEntry>();
    for await (const e of l.entries()) states.set(e.orderId, e);
    for (const id of claimed) {
      const e = states.get(id);
      expect(e, id).toBeDefined();
      expect(['CREATED', 'UNCERTAIN']).toContain(e!.state);
      if (recorded.has(id)) expect(e!.state).toBe('CREATED');
    }
    // Nothing is SENDING after a reopen, and no orderId has two entries.
    expect([...states.values()].filter((e) => e.state === 'SENDING')).toEqual([]);
  });
});

describe('local ledger: group commit', () => {
  it('claims that arrive together share one write + fsync instead of one each', async () => {
    const commits: number[] = [];
    const l = await openLedger({ onCommit: (writes) => commits.push(writes) });
    const ids = Array.from({ length: 200 }, (_, i) => `INV-${i}`);
    const results = await Promise.all(ids.map((id) => l.claim(id, req())));
    expect(results.every((r) => r.kind === 'claimed')).toBe(true);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(200);
    expect(commits.length).toBeLessThanOrEqual(3);
    expect(onDisk()).toHaveLength(200);
  });
});

describe('local ledger: one process at a time', () => {
  it('a second open of the same shop and mode is refused with the pid of the holder', async () => {
    await openLedger();
    const err = await openLedger().catch((e: unknown) => e);
    expect(PaybatchError.is(err)).toBe(true);
    expect((err as PaybatchError).code).toBe('PB_LEDGER_LOCKED');
    expect((err as Error).message).toContain(`another paybatch run (pid ${process.pid}) is using ${dir}`);
    // Another mode is another ledger.
    const prod = await openSqliteLedger({ dir, shopId: SHOP, mode: 'PRODUCTION' });
    await prod.close();
  });

  it('a lock left by a dead process is taken over', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((r) => dead.on('exit', r));
    await writeFile(join(dir, `${SHOP}-TEST.lock`), `${pid}\n`);
    const l = await openLedger();
    expect(await readFile(join(dir, `${SHOP}-TEST.lock`), 'utf8')).toBe(`${process.pid}\n`);
    await l.close();
    await expect(stat(join(dir, `${SHOP}-TEST.lock`))).rejects.toThrow();
    open = [];
  });
});

describe('local ledger: follow-ups', () => {
  const createdLedger = async (): Promise<Ledger> => {
    const l = await openLedger();
    const c = await l.claim('INV-1', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    await l.record('INV-1', c.token, created('INV-1'));
    return l;
  };

  it('observe keeps the newest status: a late RUNNING never moves PAID back, an older PAID still beats RUNNING', async () => {
    const l = await createdLedger();
    expect(await l.observe('INV-1', { paymentOrderStatus: 'PAID', at: '2026-03-01T10:00:00Z' })).toMatchObject({ paymentOrderStatus: 'PAID' });
    expect(await l.observe('INV-1', { paymentOrderStatus: 'RUNNING', at: '2026-03-02T10:00:00Z' })).toMatchObject({ paymentOrderStatus: 'PAID' });
    await l.close();
    const again = await openLedger();
    expect(await again.get('INV-1')).toMatchObject({ paymentOrderStatus: 'PAID', statusChangedAt: '2026-03-01T10:00:00.000Z' });
  });

  it('observe of an unknown order changes nothing', async () => {
    const l = await openLedger();
    expect(await l.observe('NOPE', { paymentOrderStatus: 'PAID', at: '2026-03-01T10:00:00Z' })).toBeUndefined();
    expect(await l.get('NOPE')).toBeUndefined();
  });

  it('a payment order id learned for an UNCERTAIN order proves it exists: it becomes CREATED and is never re-sent', async () => {
    const l = await openLedger();
    const c = await l.claim('INV-9', req());
    if (c.kind !== 'claimed') throw new Error('not claimed');
    await l.record('INV-9', c.token, { state: 'UNCERTAIN', attempts: 1, errorCode: 'PB_TIMEOUT', errorMessage: 'no answer' });
    await l.observe('INV-9', { paymentOrderId: 'po-9', paymentOrderStatus: 'PAID', at: '2026-03-01T10:00:00Z' });
    expect(await l.get('INV-9')).toMatchObject({ state: 'CREATED', paymentOrderId: 'po-9', paymentOrderStatus: 'PAID' });
    expect(await l.claim('INV-9', req({ retryUncertain: true }))).toMatchObject({ kind: 'refused' });
  });

  it('entries() lists every order once, across pages, while writes go on', async () => {
    const l = await openLedger();
    for (let round = 0; round < 2; round++) {
      await Promise.all(
        Array.from({ length: 1500 }, async (_, i) => {
          const c = await l.claim(`INV-${i}`, req());
          if (c.kind !== 'claimed') throw new Error('not claimed');
          await l.record(`INV-${i}`, c.token, round < 1 ? { state: 'FAILED', attempts: 1, errorCode: 'PSP_106', errorMessage: 'limit' } : created(`INV-${i}`));
        }),
      );
    }
    const all: LedgerEntry[] = [];
    for await (const e of l.entries()) {
      all.push(e);
      if (all.length === 10) await l.observe('INV-1400', { paymentOrderStatus: 'PAID', at: '2026-03-01T10:00:00Z' });
    }
    expect(all).toHaveLength(1500);
    expect(new Set(all.map((e) => e.orderId)).size).toBe(1500);
    expect(all.every((e) => e.state === 'CREATED' && e.attempts === 2)).toBe(true);
    expect(all.find((e) => e.orderId === 'INV-1400')).toMatchObject({ paymentOrderStatus: 'PAID' });
  });

  it('purging personal data forgets the recipient of settled orders only; the guard stays', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const l = await openLedger({ now: () => now });
    for (const id of ['OLD-PAID', 'OLD-RUNNING', 'NEW-PAID']) {
      if (id === 'NEW-PAID') now = new Date('2026-06-01T00:00:00Z');
      const c = await l.claim(id, req());
      if (c.kind !== 'claimed') throw new Error('not claimed');
      await l.record(id, c.token, created(id));
      if (id !== 'OLD-RUNNING') await l.observe(id, { paymentOrderStatus: 'PAID', at: now.toISOString() });
    }
    expect(await l.purgePersonalData(new Date('2026-03-01T00:00:00Z'))).toBe(1);
    expect(await l.get('OLD-PAID')).toMatchObject({ state: 'CREATED', paymentOrderId: 'po-OLD-PAID', sent: { recipient: '', amountMinor: 12345 } });
    expect((await l.get('OLD-RUNNING'))!.sent.recipient).toBe('jane@example.com');
    expect((await l.get('NEW-PAID'))!.sent.recipient).toBe('jane@example.com');
    expect(await l.claim('OLD-PAID', req({ retryUncertain: true }))).toMatchObject({ kind: 'refused' });
  });
});
