import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import type { Mode } from '../lyra/types.js';
import { applyObservation } from './apply-observation.js';
import { CompactIndex } from './compact-index.js';
import { GroupCommitter } from './group-commit.js';
import { scanLines } from './journal-scan.js';
import type { ClaimRequest, ClaimResult, Ledger, LedgerEntry, LedgerState, Observation, Outcome } from './ledger.js';
import { acquireLock, type HeldLock } from './lock.js';

export interface FileLedgerOptions {
  /** The state directory (created if missing). */
  dir: string;
  shopId: string;
  mode: Mode;
  /** Clock for `updatedAt` / `firstSentAt`. Default: the system clock. */
  now?: () => Date;
  /**
   * Accepted for compatibility; unused: group commit needs no timer (what queues up while one fsync runs shares
   * the next), so a lone claim never waits for company.
   */
  groupCommitMs?: number;
  /** Observes every commit (one write + one fdatasync) with its line count: for tests and metrics. */
  onCommit?: (lines: number, bytes: number) => void;
  /** The journal is rewritten at open when it has more than `minLines` lines and `ratio` times more lines than orders. Default 10000 / 3. */
  compaction?: { minLines?: number; ratio?: number };
}

export const INTERRUPTED_CODE = 'PB_INTERRUPTED';
export const INTERRUPTED_MESSAGE =
  'the run stopped while this order was being sent; it may exist — check the Back Office, then re-run with --retry-uncertain if it does not';

/** A journal is rewritten at open when it holds this many times more lines than live orders (and is not tiny). */
const COMPACT_RATIO = 3;
const COMPACT_MIN_LINES = 10_000;

const STATES: ReadonlySet<string> = new Set<LedgerState>(['SENDING', 'CREATED', 'FAILED', 'UNCERTAIN']);
const TOMBSTONE = Symbol('deleted');
type Hot = LedgerEntry | typeof TOMBSTONE;

export function journalPath(dir: string, shopId: string, mode: Mode): string {
  return join(dir, `${shopId}-${mode}.journal`);
}

/**
 * The embedded engine's ledger: an append-only JSONL journal per (shop, mode) — `{dir}/{shopId}-{mode}.journal`,
 * one full entry per line, the newest line of an orderId wins — replayed at open, guarded by
 * `{dir}/{shopId}-{mode}.lock`.
 *
 * Crash safety (kill -9 at any instant): a claim resolves only after its SENDING line is written and fdatasync'd,
 * so no request leaves without a durable trace; a torn last line is dropped at open (its claim never resolved, so
 * nothing was sent); a SENDING line found at open is turned into UNCERTAIN (`PB_INTERRUPTED`), durably, before
 * anything else happens.
 */
export async function openFileLedger(opts: FileLedgerOptions): Promise<Ledger> {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.shopId) || opts.shopId.startsWith('.')) {
    throw new ConfigError('PB_SHOP_ID', `shop id "${opts.shopId}" cannot name a ledger file: use the numeric shop id`);
  }
  // Owner only: the journal holds recipients' e-mail addresses and phone numbers.
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(join(opts.dir, `${opts.shopId}-${opts.mode}.lock`), opts.dir);
  try {
    return await FileLedger.open(opts, lock);
  } catch (e) {
    await lock.release().catch(() => undefined);
    throw e;
  }
}

interface LiveClaim {
  token: string;
  previous: LedgerEntry | undefined;
  /**
   * The entry as this claim left it (SENDING, plus what observations added): `record` builds on it without reading
   * the journal back from disk — that read was the largest cost per row of a fast run.
   */
  entry: LedgerEntry;
}

class FileLedger implements Ledger {
  readonly shopId: string;
  readonly mode: Mode;
  private readonly now: () => Date;
  private readonly index = new CompactIndex();
  /** Entries whose newest line is queued but not yet on disk. */
  private readonly hot = new Map<string, Hot>();
  /** Claims owned by this process, until `record` or `release`. */
  private readonly claims = new Map<string, LiveClaim>();
  /** Per-orderId chain: decide-and-enqueue steps of one order never interleave. */
  private readonly busy = new Map<string, Promise<void>>();
  private fh!: FileHandle;
  private committer!: GroupCommitter;
  private closed = false;

  private constructor(
    private readonly opts: FileLedgerOptions,
    private readonly path: string,
    private readonly lock: HeldLock,
  ) {
    this.shopId = opts.shopId;
    this.mode = opts.mode;
    this.now = opts.now ?? (() => new Date());
  }

  static async open(opts: FileLedgerOptions, lock: HeldLock): Promise<FileLedger> {
    const path = journalPath(opts.dir, opts.shopId, opts.mode);
    const l = new FileLedger(opts, path, lock);
    const existed = await exists(path);
    let interrupted: string[] = [];
    if (existed) {
      const { lines, validEnd, fileSize } = await l.replay();
      if (validEnd < fileSize) await truncate(path, validEnd);
      const minLines = opts.compaction?.minLines ?? COMPACT_MIN_LINES;
      const ratio = opts.compaction?.ratio ?? COMPACT_RATIO;
      if (lines > minLines && lines > ratio * l.index.size) await l.compact();
    }
    l.fh = await open(path, 'a+', 0o600);
    if (!existed) await syncDir(opts.dir);
    const size = (await l.fh.stat()).size;
    l.committer = new GroupCommitter(l.fh, size, opts.onCommit);
    for (const id of l.index.keys()) if (l.index.get(id)!.state === 'SENDING') interrupted.push(id);
    await Promise.all(interrupted.map((id) => l.markInterrupted(id)));
    interrupted = [];
    return l;
  }

  async get(orderId: string): Promise<LedgerEntry | undefined> {
    this.assertOpen();
    return this.current(orderId);
  }

  claim(orderId: string, req: ClaimRequest): Promise<ClaimResult> {
    return this.exclusive(orderId, async () => {
      const entry = await this.current(orderId);
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
      const durable = this.enqueue(orderId, next);
      return { result: { kind: 'claimed', token, ...(entry ? { previous: entry } : {}) } as ClaimResult, durable };
    });
  }

  record(orderId: string, token: string, outcome: Outcome, onQueued?: () => void): Promise<boolean> {
    return this.exclusive(orderId, async () => {
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
      // The group commit writes in queue order: from here on, any claim's durability implies this outcome's.
      const durable = this.enqueue(orderId, next);
      onQueued?.();
      return { result: true, durable };
    });
  }

  release(orderId: string, token: string): Promise<void> {
    return this.exclusive(orderId, async () => {
      const claim = this.claims.get(orderId);
      if (claim?.token !== token) return { result: undefined };
      this.claims.delete(orderId);
      return { result: undefined, durable: this.enqueue(orderId, claim.previous ?? TOMBSTONE) };
    });
  }

  observe(orderId: string, obs: Observation): Promise<LedgerEntry | undefined> {
    return this.exclusive(orderId, async () => {
      const entry = await this.current(orderId);
      if (!entry) return { result: undefined };
      let next = applyObservation(entry, obs, this.now().toISOString());
      if (!next) return { result: entry };
      // A live claim of this process still owns the state; the observation only adds what it learned.
      const claim = this.claims.get(orderId);
      if (claim) {
        next = { ...next, state: entry.state };
        claim.entry = next;
      }
      return { result: structuredClone(next), durable: this.enqueue(orderId, next) };
    });
  }

  async *entries(): AsyncIterable<LedgerEntry> {
    this.assertOpen();
    const ids = [...this.hot.keys()].filter((id) => !this.index.get(id));
    for (const id of this.index.keys()) {
      const e = await this.current(id);
      if (e) yield e;
    }
    for (const id of ids) {
      const e = await this.current(id);
      if (e) yield e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([...this.busy.values()]);
      await this.committer.idle();
      await this.fh.close();
    } finally {
      await this.lock.release();
    }
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new PaybatchError('PB_LEDGER_CLOSED', 'the ledger is closed', 3);
  }

  /** The newest entry: queued (hot) or on disk. A copy: callers cannot change the ledger's state by mutation. */
  private async current(orderId: string): Promise<LedgerEntry | undefined> {
    const h = this.hot.get(orderId);
    if (h === TOMBSTONE) return undefined;
    if (h) return structuredClone(h);
    const loc = this.index.get(orderId);
    if (!loc) return undefined;
    const buf = Buffer.allocUnsafe(loc.length);
    await this.fh.read(buf, 0, loc.length, loc.offset);
    return parseEntry(buf.toString('utf8', 0, loc.length - 1)) as LedgerEntry;
  }

  /** Queues the newest version of an order; resolves once it is on disk. */
  private enqueue(orderId: string, next: Hot): Promise<void> {
    this.hot.set(orderId, next);
    const line = next === TOMBSTONE ? JSON.stringify({ orderId, deleted: true }) : JSON.stringify(next);
    return this.committer.append(line, (offset, length) => {
      if (next === TOMBSTONE) this.index.delete(orderId);
      else this.index.set(orderId, next.state, offset, length);
      if (this.hot.get(orderId) === next) this.hot.delete(orderId);
    });
  }

  /**
   * Runs the decide-and-enqueue step of one operation on one order after the previous one, then waits for
   * durability outside the chain so other operations (and other orders) join the same group commit.
   */
  private async exclusive<T>(orderId: string, step: () => Promise<{ result: T; durable?: Promise<void> }>): Promise<T> {
    this.assertOpen();
    const prev = this.busy.get(orderId);
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const chained = prev ? prev.then(() => mine) : mine;
    this.busy.set(orderId, chained);
    let out: { result: T; durable?: Promise<void> };
    try {
      if (prev) await prev;
      out = await step();
    } finally {
      done();
      if (this.busy.get(orderId) === chained) this.busy.delete(orderId);
    }
    if (out.durable) await out.durable;
    return out.result;
  }

  private async markInterrupted(orderId: string): Promise<void> {
    const e = (await this.current(orderId))!;
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
    await this.enqueue(orderId, next);
  }

  private async replay(): Promise<{ lines: number; validEnd: number; fileSize: number }> {
    const scan = { validEnd: 0, tornBytes: 0 };
    let lines = 0;
    let lineNo = 0;
    for await (const l of scanLines(this.path, scan)) {
      lineNo++;
      if (l.text.trim() === '') continue;
      const e = parseLine(l.text);
      if (!e) {
        throw new PaybatchError(
          'PB_LEDGER_CORRUPT',
          `${this.path} line ${lineNo} is unreadable; the ledger cannot tell what was sent. Move the file aside only after checking the Back Office`,
        );
      }
      lines++;
      if ('deleted' in e) this.index.delete(e.orderId);
      else this.index.set(e.orderId, e.state, l.offset, l.length);
    }
    const fileSize = (await stat(this.path)).size;
    return { lines, validEnd: scan.validEnd, fileSize };
  }

  /** Rewrites the journal with one line per live order: tmp file, fsync, rename, fsync of the directory. */
  private async compact(): Promise<void> {
    const tmp = `${this.path}.compact.tmp`;
    const out = await open(tmp, 'w', 0o600);
    const fresh = new CompactIndex();
    try {
      let pos = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const scan = { validEnd: 0, tornBytes: 0 };
      for await (const l of scanLines(this.path, scan)) {
        if (l.text.trim() === '') continue;
        const e = parseLine(l.text)!;
        if ('deleted' in e) continue;
        const loc = this.index.get(e.orderId);
        if (!loc || loc.offset !== l.offset) continue;
        const buf = Buffer.from(l.text + '\n', 'utf8');
        fresh.set(e.orderId, e.state, pos, buf.length);
        pos += buf.length;
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes > 1 << 20) {
          await out.write(Buffer.concat(pending));
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pending.length) await out.write(Buffer.concat(pending));
      await out.sync();
    } catch (e) {
      await out.close();
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await out.close();
    await rename(tmp, this.path);
    await syncDir(this.opts.dir);
    for (const id of fresh.keys()) {
      const loc = fresh.get(id)!;
      this.index.set(id, loc.state, loc.offset, loc.length);
    }
  }
}

function parseLine(text: string): LedgerEntry | { orderId: string; deleted: true } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { orderId?: unknown }).orderId !== 'string') return undefined;
  if ((v as { deleted?: unknown }).deleted === true) return v as { orderId: string; deleted: true };
  return STATES.has((v as { state?: unknown }).state as string) ? (v as LedgerEntry) : undefined;
}

function parseEntry(text: string): LedgerEntry {
  const e = parseLine(text);
  if (!e || 'deleted' in e) throw new PaybatchError('PB_LEDGER_CORRUPT', 'the ledger journal changed under this process: is another program writing to it?', 3);
  return e;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

async function syncDir(dir: string): Promise<void> {
  // A new or renamed file is durable only once its directory entry is: fsync the directory (not possible on Windows).
  if (process.platform === 'win32') return;
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
