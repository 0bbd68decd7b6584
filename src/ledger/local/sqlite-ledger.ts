import { randomUUID } from 'node:crypto';
import { mkdir, rename, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigError, PaybatchError } from '../../errors/paybatch-error.js';
import type { Mode } from '../../lyra/types.js';
import { applyObservation } from '../apply-observation.js';
import { entryMatches, type ClaimRequest, type ClaimResult, type EntriesFilter, type Ledger, type LedgerEntry, type Observation, type Outcome } from '../ledger.js';
import { countVerdict, emptyMergeReport, mergeEntry, type MergeReport } from '../merge.js';
import { legacyJournalPath, readLegacyJournal } from './legacy-journal.js';
import { acquireLock, type HeldLock } from './lock.js';

export interface SqliteLedgerOptions {
  /** The state directory (created if missing, owner only). */
  dir: string;
  shopId: string;
  mode: Mode;
  /** Clock for `updatedAt` / `firstSentAt`. Default: the system clock. */
  now?: () => Date;
  /** Observes every commit (one transaction, one fsync of the write-ahead log) with its number of writes. */
  onCommit?: (writes: number) => void;
  /** Told once what was carried over from an older ledger (the journal of earlier versions). */
  onNotice?: (message: string) => void;
}

export const INTERRUPTED_CODE = 'PB_INTERRUPTED';
export const INTERRUPTED_MESSAGE =
  'the run stopped while this order was being sent; it may exist — check the Back Office, then re-run with --retry-uncertain if it does not';

const SETTLED = `json_extract(entry, '$.state') = 'FAILED' OR json_extract(entry, '$.paymentOrderStatus') IN ('PAID', 'REFUSED', 'EXPIRED', 'CANCELLED')`;

export function sqliteLedgerPath(dir: string, shopId: string, mode: Mode): string {
  return join(dir, `${shopId}-${mode}.sqlite`);
}

type Db = BetterSqlite3.Database;
/** Known-absent order ids kept at most: more than a run's read-ahead window. */
const ABSENT_KEPT = 16_384;
const require = createRequire(import.meta.url);

/**
 * The local ledger: one SQLite database per (shop, mode), one process (a SENDING found at open was cut off), a lookup
 * cost independent of history. WAL + `synchronous = FULL`: a claim resolves once fsync'd; queued writes share one.
 */
export async function openSqliteLedger(opts: SqliteLedgerOptions): Promise<Ledger> {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.shopId) || opts.shopId.startsWith('.')) {
    throw new ConfigError('PB_SHOP_ID', `shop id "${opts.shopId}" cannot name a ledger file: use the numeric shop id`);
  }
  // Owner only: the ledger holds recipients' e-mail addresses and phone numbers.
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(join(opts.dir, `${opts.shopId}-${opts.mode}.lock`), opts.dir);
  try {
    return await SqliteLedger.open(opts, lock);
  } catch (e) {
    await lock.release().catch(() => undefined);
    throw e;
  }
}

interface LiveClaim {
  token: string;
  previous: LedgerEntry | undefined;
  /** The entry as this claim left it (SENDING, plus what observations added). */
  entry: LedgerEntry;
}

interface Write {
  orderId: string;
  entry: LedgerEntry | null;
}

class SqliteLedger implements Ledger {
  readonly shopId: string;
  readonly mode: Mode;
  readonly where: string;
  private readonly now: () => Date;
  /** Entries written but not yet committed (null: deleted). */
  private readonly hot = new Map<string, LedgerEntry | null>();
  /**
   * Orders looked up and not found since their last write: a run looks each new order up twice (the engine's check,
   * then the claim), and the second answer is known. Exact, as only this process writes (the lock); bounded.
   */
  private readonly absent = new Set<string>();
  private readonly claims = new Map<string, LiveClaim>();
  /** Per-orderId chain: the decide-and-queue steps of one order never interleave. */
  private readonly busy = new Map<string, Promise<void>>();
  private queue: Write[] = [];
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly stmt: {
    get: BetterSqlite3.Statement<[string], { entry: string }>;
    upsert: BetterSqlite3.Statement<[string, string, string | null, string, string]>;
    remove: BetterSqlite3.Statement<[string]>;
    page: BetterSqlite3.Statement<[number, number], { id: number; entry: string }>;
  };
  private readonly commit: (writes: Write[]) => void;

  private constructor(
    private readonly db: Db,
    private readonly opts: SqliteLedgerOptions,
    private readonly lock: HeldLock,
  ) {
    this.shopId = opts.shopId;
    this.mode = opts.mode;
    this.where = sqliteLedgerPath(opts.dir, opts.shopId, opts.mode);
    this.now = opts.now ?? (() => new Date());
    this.stmt = {
      get: db.prepare('SELECT entry FROM orders WHERE order_id = ?'),
      upsert: db.prepare(
        `INSERT INTO orders (order_id, state, batch_id, updated_at, entry) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, batch_id = excluded.batch_id, updated_at = excluded.updated_at, entry = excluded.entry`,
      ),
      remove: db.prepare('DELETE FROM orders WHERE order_id = ?'),
      page: db.prepare('SELECT id, entry FROM orders WHERE id > ? ORDER BY id LIMIT ?'),
    };
    this.commit = db.transaction((writes: Write[]) => {
      for (const w of writes) {
        if (w.entry) this.stmt.upsert.run(w.orderId, w.entry.state, w.entry.batchId ?? null, w.entry.updatedAt, JSON.stringify(w.entry));
        else this.stmt.remove.run(w.orderId);
      }
    });
  }

  static async open(opts: SqliteLedgerOptions, lock: HeldLock): Promise<SqliteLedger> {
    const path = sqliteLedgerPath(opts.dir, opts.shopId, opts.mode);
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    let db: Db;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS orders (
          id INTEGER PRIMARY KEY,
          order_id TEXT NOT NULL UNIQUE,
          state TEXT NOT NULL,
          batch_id TEXT,
          updated_at TEXT NOT NULL,
          entry TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS orders_sending ON orders (state) WHERE state = 'SENDING';
        CREATE INDEX IF NOT EXISTS orders_first_sent ON orders (json_extract(entry, '$.firstSentAt'));
        CREATE INDEX IF NOT EXISTS orders_batch ON orders (batch_id);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    } catch (e) {
      throw new PaybatchError('PB_LEDGER_OPEN', `cannot open the ledger ${path}: ${(e as Error).message}`);
    }
    const l = new SqliteLedger(db, opts, lock);
    await l.carryOverJournal();
    const interrupted = db.prepare("SELECT entry FROM orders WHERE state = 'SENDING'").all() as { entry: string }[];
    await Promise.all(interrupted.map((r) => l.markInterrupted(JSON.parse(r.entry) as LedgerEntry)));
    return l;
  }

  async get(orderId: string): Promise<LedgerEntry | undefined> {
    this.assertOpen();
    return this.current(orderId);
  }

  claim(orderId: string, req: ClaimRequest): Promise<ClaimResult> {
    return this.exclusive(orderId, () => {
      const entry = this.current(orderId);
      const refused = !!entry && (this.claims.has(orderId) || entry.state === 'CREATED' || ((entry.state === 'UNCERTAIN' || entry.state === 'SENDING') && !req.retryUncertain));
      if (refused) return { result: { kind: 'refused', entry: entry! } as ClaimResult };
      const at = this.now().toISOString();
      const token = randomUUID();
      const next: LedgerEntry = {
        orderId,
        state: 'SENDING',
        attempts: entry?.attempts ?? 0,
        fingerprint: req.fingerprint,
        sent: { ...req.sent },
        ...(req.batchId !== undefined ? { batchId: req.batchId } : {}),
        firstSentAt: entry?.firstSentAt ?? at,
        updatedAt: at,
      };
      this.claims.set(orderId, { token, previous: entry, entry: next });
      const durable = this.write(orderId, next);
      return { result: { kind: 'claimed', token, ...(entry ? { previous: entry } : {}) } as ClaimResult, durable };
    });
  }

  record(orderId: string, token: string, outcome: Outcome, onQueued?: () => void): Promise<boolean> {
    return this.exclusive(orderId, () => {
      const claim = this.claims.get(orderId);
      if (claim?.token !== token) return { result: false };
      const cur = claim.entry;
      const next: LedgerEntry = {
        orderId,
        state: outcome.state,
        attempts: cur.attempts + outcome.attempts,
        fingerprint: cur.fingerprint,
        sent: cur.sent,
        ...(cur.batchId !== undefined ? { batchId: cur.batchId } : {}),
        ...(cur.firstSentAt !== undefined ? { firstSentAt: cur.firstSentAt } : {}),
        updatedAt: this.now().toISOString(),
      };
      if (outcome.state === 'CREATED') {
        next.paymentOrderId = outcome.paymentOrderId;
        next.paymentURL = outcome.paymentURL;
        next.paymentOrderStatus = outcome.paymentOrderStatus;
        next.statusChangedAt = next.updatedAt;
      } else {
        next.errorCode = outcome.errorCode;
        next.errorMessage = outcome.errorMessage;
        if (outcome.detailedErrorCode) next.detailedErrorCode = outcome.detailedErrorCode;
      }
      this.claims.delete(orderId);
      // Commits keep queue order: from here on, any claim's durability implies this outcome's.
      const durable = this.write(orderId, next);
      onQueued?.();
      return { result: true, durable };
    });
  }

  release(orderId: string, token: string): Promise<void> {
    return this.exclusive(orderId, () => {
      const claim = this.claims.get(orderId);
      if (claim?.token !== token) return { result: undefined };
      this.claims.delete(orderId);
      return { result: undefined, durable: this.write(orderId, claim.previous ?? null) };
    });
  }

  observe(orderId: string, obs: Observation): Promise<LedgerEntry | undefined> {
    return this.exclusive(orderId, () => {
      const entry = this.current(orderId);
      if (!entry) return { result: undefined };
      let next = applyObservation(entry, obs, this.now().toISOString());
      if (!next) return { result: entry };
      // A live claim of this process still owns the state; the observation only adds what it learned.
      const claim = this.claims.get(orderId);
      if (claim) {
        next = { ...next, state: entry.state };
        claim.entry = next;
      }
      return { result: structuredClone(next), durable: this.write(orderId, next) };
    });
  }

  async merge(entries: readonly LedgerEntry[]): Promise<MergeReport> {
    const report = emptyMergeReport();
    const nowIso = this.now().toISOString();
    await Promise.all(
      entries.map((incoming) =>
        this.exclusive(incoming.orderId, () => {
          const { verdict, next } = mergeEntry(this.current(incoming.orderId), incoming, nowIso);
          countVerdict(report, incoming.orderId, verdict);
          return { result: undefined, ...(next ? { durable: this.write(incoming.orderId, next) } : {}) };
        }),
      ),
    );
    return report;
  }

  async purgePersonalData(before: Date): Promise<number> {
    this.assertOpen();
    await this.flushing;
    const rows = this.db
      .prepare(`SELECT entry FROM orders WHERE updated_at < ? AND (${SETTLED}) AND json_extract(entry, '$.sent.recipient') != ''`)
      .all(before.toISOString()) as { entry: string }[];
    const writes = rows.map((r) => {
      const e = JSON.parse(r.entry) as LedgerEntry;
      return { orderId: e.orderId, entry: { ...e, sent: { ...e.sent, recipient: '' } } };
    });
    this.commit(writes);
    return writes.length;
  }

  async *entries(filter?: EntriesFilter): AsyncIterable<LedgerEntry> {
    this.assertOpen();
    await this.flushing;
    if (filter && (filter.sentFrom !== undefined || filter.sentBefore !== undefined || filter.batchId !== undefined)) {
      yield* this.selected(filter);
      return;
    }
    // Pages, not one open cursor: the connection must stay free for the writes made while the caller iterates.
    for (let after = 0; ; ) {
      const page = this.stmt.page.all(after, 1000);
      if (page.length === 0) return;
      for (const row of page) {
        const e = this.current(JSON.parse(row.entry).orderId as string);
        if (e) yield e;
      }
      after = page[page.length - 1]!.id;
    }
  }

  /**
   * A period or a batch through the indexes (a month costs that month): ids first, then each entry as it is now.
   * entryMatches has the last word: the index compares ISO strings, the rule compares instants.
   */
  private async *selected(f: EntriesFilter): AsyncIterable<LedgerEntry> {
    const where: string[] = [];
    const args: string[] = [];
    const sent = "json_extract(entry, '$.firstSentAt')";
    // A day around the bounds: firstSentAt written with another offset than Z still sorts near its instant.
    if (f.sentFrom !== undefined) {
      where.push(`${sent} >= ?`);
      args.push(new Date(Date.parse(f.sentFrom) - 86_400_000).toISOString());
    }
    if (f.sentBefore !== undefined) {
      where.push(`${sent} < ?`);
      args.push(new Date(Date.parse(f.sentBefore) + 86_400_000).toISOString());
    }
    if (f.batchId !== undefined) {
      where.push('batch_id = ?');
      args.push(f.batchId);
    }
    const ids = (this.db.prepare(`SELECT order_id FROM orders WHERE ${where.join(' AND ')} ORDER BY id`).all(...args) as { order_id: string }[]).map((r) => r.order_id);
    for (const id of ids) {
      const e = this.current(id);
      if (e && entryMatches(e, f)) yield e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([...this.busy.values()]);
      while (this.flushing) await this.flushing;
      this.db.close();
    } finally {
      await this.lock.release();
    }
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new PaybatchError('PB_LEDGER_CLOSED', 'the ledger is closed', 3);
  }

  /** The newest entry, queued or committed. A copy: callers cannot change the ledger's state by mutation. */
  private current(orderId: string): LedgerEntry | undefined {
    const h = this.hot.get(orderId);
    if (h === null) return undefined;
    if (h) return structuredClone(h);
    if (this.absent.has(orderId)) return undefined;
    const row = this.stmt.get.get(orderId);
    if (row) return JSON.parse(row.entry) as LedgerEntry;
    if (this.absent.size >= ABSENT_KEPT) this.absent.clear();
    this.absent.add(orderId);
    return undefined;
  }

  /** Queues the newest version of an order; resolves once its transaction is committed and fsync'd. */
  private write(orderId: string, entry: LedgerEntry | null): Promise<void> {
    this.absent.delete(orderId);
    this.hot.set(orderId, entry);
    this.queue.push({ orderId, entry });
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (!this.flushing) this.flushing = new Promise<void>((r) => setImmediate(() => r(this.flush())));
    return done;
  }

  /** One transaction for everything queued since the last one. */
  private flush(): void {
    const writes = this.queue;
    const waiting = this.waiting;
    this.queue = [];
    this.waiting = [];
    this.flushing = undefined;
    try {
      this.commit(writes);
    } catch (e) {
      const err = new PaybatchError('PB_LEDGER_WRITE', `the ledger ${this.where} could not be written (${(e as Error).message}); nothing more is sent`, 3);
      for (const w of waiting) w.reject(err);
      return;
    }
    for (const w of writes) if (this.hot.get(w.orderId) === w.entry) this.hot.delete(w.orderId);
    this.opts.onCommit?.(writes.length);
    for (const w of waiting) w.resolve();
  }

  /**
   * Runs the decide-and-queue step of one operation on one order after the previous one, then waits for durability
   * outside the chain so that other operations join the same commit.
   */
  private async exclusive<T>(orderId: string, step: () => { result: T; durable?: Promise<void> }): Promise<T> {
    this.assertOpen();
    const prev = this.busy.get(orderId);
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const chained = prev ? prev.then(() => mine) : mine;
    this.busy.set(orderId, chained);
    let out: { result: T; durable?: Promise<void> };
    try {
      if (prev) await prev;
      out = step();
    } finally {
      done();
      if (this.busy.get(orderId) === chained) this.busy.delete(orderId);
    }
    if (out.durable) await out.durable;
    return out.result;
  }

  private async markInterrupted(e: LedgerEntry): Promise<void> {
    const next: LedgerEntry = {
      ...e,
      state: 'UNCERTAIN',
      // The request may have left: count it, so the report does not claim nothing was sent.
      attempts: e.attempts + 1,
      errorCode: INTERRUPTED_CODE,
      errorMessage: INTERRUPTED_MESSAGE,
      updatedAt: this.now().toISOString(),
    };
    delete next.detailedErrorCode;
    await this.write(e.orderId, next);
  }

  /** The journal of earlier versions, if there is one: merged in once, then renamed `.imported` (kept as a backup). */
  private async carryOverJournal(): Promise<void> {
    const journal = legacyJournalPath(this.opts.dir, this.shopId, this.mode);
    try {
      await stat(journal);
    } catch {
      return;
    }
    let entries: Map<string, LedgerEntry>;
    try {
      entries = await readLegacyJournal(journal);
    } catch (e) {
      throw new PaybatchError('PB_LEDGER_CORRUPT', (e as Error).message);
    }
    const report = await this.merge([...entries.values()]);
    await rename(journal, `${journal}.imported`);
    this.opts.onNotice?.(
      `carried ${report.added + report.updated} orders over from the journal ${journal} into ${this.where} (the journal is kept as ${journal}.imported)`,
    );
  }
}
