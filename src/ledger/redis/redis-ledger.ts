import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Mode } from '../../lyra/types.js';
import { entryMatches, type ClaimRequest, type ClaimResult, type EntriesFilter, type Ledger, type LedgerEntry, type Observation, type Outcome } from '../ledger.js';
import { PaybatchError } from '../../errors/paybatch-error.js';
import { applyObservation } from '../apply-observation.js';
import { countVerdict, emptyMergeReport, mergeEntry, type MergeReport } from '../merge.js';
import { RedisScript } from './redis-script.js';
import { WithRideAlong, alone, type RideAlong } from './ride-along.js';

export interface RedisLedgerOptions {
  /** An ioredis connection; the ledger does not own it (close() leaves it open). */
  redis: Redis;
  shopId: string;
  mode: Mode;
  /** Key prefix, default `paybatch`. Tests use a fresh one each. */
  prefix?: string;
  /**
   * How long a claim counts as live, in ms (default 120 000). Only a stale SENDING may be taken over, and only with
   * retryUncertain; a live one never. Must exceed the longest POST (the HTTP timeout) by a wide margin.
   */
  claimLeaseMs?: number;
  /** The clock (tests inject one). */
  now?: () => Date;
  /** Where it is, for messages (a URL without its password). */
  where?: string;
  /** How long a claim may wait for the replicas to acknowledge it (WAIT), in ms. Default 2000. */
  replicaWaitMs?: number;
}

/** Where a claim stands, for waiting on a batch: a live claim means a POST may still be in the air. */
export interface ClaimInfo {
  token: string;
  until: number;
}

/** The ledger's check-and-set steps, one `.lua` file each (scripts/; README.md). */
const lua = (name: string) => RedisScript.load(new URL(`./scripts/${name}.lua`, import.meta.url));
const scripts = {
  claim: lua('claim'),
  record: lua('record'),
  release: lua('release'),
  renew: lua('renew'),
  replaceIfSame: lua('replace-if-same'),
};

/** The claim with a ride-along, run only if the order was claimed; its answer is the claim's third element. */
const claimThen = new WithRideAlong(scripts.claim.source, `if r[1] == 'claimed' then r[3] = second() end\nreturn r`);
/** The record with a ride-along, run whether or not the record was accepted. */
const recordThen = new WithRideAlong(scripts.record.source, 'second()\nreturn r');

/** The keys of one shop+mode ledger. The hash tag keeps both in one cluster slot, as a Lua script needs. */
export function redisLedgerKeys(prefix: string, shopId: string, mode: Mode): { entries: string; claims: string } {
  const base = `${prefix}:ledger:{${shopId}:${mode}}`;
  return { entries: `${base}:entries`, claims: `${base}:claims` };
}

/** A claim refused because the row's batch was stopped or aborted (queue mode): nothing was claimed or sent. */
export class BatchStoppedError extends Error {
  constructor(
    readonly batchId: string,
    readonly state: string,
  ) {
    super(`batch ${batchId} was ${state}: not sent`);
    this.name = 'BatchStoppedError';
  }
}

/**
 * JSON without undefined or null members (Lua's cjson would turn null into a sentinel we never want stored). A plain
 * loop: this runs three times a row.
 */
function clean<T extends object>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out as Partial<T>;
}

/**
 * The ledger of one shop and mode in Redis, every check-and-set a Lua script (README.md). Durability is Redis's: AOF
 * with `appendfsync always` and noeviction (checked by checkRedisServer).
 */
export class RedisLedger implements Ledger {
  readonly shopId: string;
  readonly mode: Mode;
  readonly where: string;
  private readonly redis: Redis;
  private readonly replicaWaitMs: number;
  private replicas: Promise<number> | undefined;
  private readonly keys: { entries: string; claims: string };
  private readonly leaseMs: number;
  private readonly now: () => Date;

  constructor(opts: RedisLedgerOptions) {
    this.redis = opts.redis;
    this.shopId = opts.shopId;
    this.mode = opts.mode;
    this.where = opts.where ?? 'Redis';
    this.replicaWaitMs = opts.replicaWaitMs ?? 2000;
    this.keys = redisLedgerKeys(opts.prefix ?? 'paybatch', opts.shopId, opts.mode);
    this.leaseMs = opts.claimLeaseMs ?? 120_000;
    this.now = opts.now ?? (() => new Date());
  }

  private get keyList(): string[] {
    return [this.keys.entries, this.keys.claims];
  }

  async get(orderId: string): Promise<LedgerEntry | undefined> {
    const raw = await this.redis.hget(this.keys.entries, orderId);
    return raw ? (JSON.parse(raw) as LedgerEntry) : undefined;
  }

  /** Many entries in one round trip, in the order asked (undefined where none). */
  async getMany(orderIds: string[]): Promise<(LedgerEntry | undefined)[]> {
    if (orderIds.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.entries, ...orderIds);
    return raws.map((r) => (r ? (JSON.parse(r) as LedgerEntry) : undefined));
  }

  /** `batchKey` (queue workers): the batch's hash; a stopped or aborted batch gets no claim (BatchStoppedError). */
  async claim(orderId: string, req: ClaimRequest, opts: { batchKey?: string } = {}): Promise<ClaimResult> {
    return (await this.claimAlong(orderId, req, opts)).result;
  }

  /** `claim`, and `along` in the same call if the order was claimed: `alongAnswer` is its answer (undefined if not run). */
  async claimAlong(orderId: string, req: ClaimRequest, opts: { batchKey?: string; along?: RideAlong } = {}): Promise<{ result: ClaimResult; alongAnswer?: unknown }> {
    const along = opts.along;
    // CLAIM reads an optional KEYS[3] (the batch): a ride-along's keys may only follow a batch key.
    if (along && !opts.batchKey) {
      const result = await this.claim(orderId, req);
      return result.kind === 'claimed' ? { result, alongAnswer: await alone(along).run(this.redis, along.keys, along.args) } : { result };
    }
    const now = this.now();
    const iso = now.toISOString();
    const fresh: LedgerEntry = clean({
      orderId,
      state: 'SENDING',
      attempts: 0,
      fingerprint: req.fingerprint,
      sent: clean(req.sent) as LedgerEntry['sent'],
      batchId: req.batchId,
      firstSentAt: iso,
      updatedAt: iso,
    }) as LedgerEntry;
    const token = randomUUID();
    const keys = opts.batchKey ? [...this.keyList, opts.batchKey] : this.keyList;
    const args = [orderId, JSON.stringify(fresh), token, now.getTime(), this.leaseMs, req.retryUncertain ? '1' : '0'];
    const [kind, json, alongAnswer] = (
      along
        ? await claimThen.script(along, keys.length, args.length).run(this.redis, [...keys, ...along.keys], [...args, ...along.args])
        : await scripts.claim.run(this.redis, keys, args)
    ) as [string, string | null, unknown?];
    if (kind === 'stopped') throw new BatchStoppedError(req.batchId ?? '', JSON.parse(json as string) as string);
    if (kind === 'claimed') {
      await this.replicated(orderId, token);
      const result: ClaimResult = json ? { kind: 'claimed', token, previous: JSON.parse(json) as LedgerEntry } : { kind: 'claimed', token };
      return { result, alongAnswer };
    }
    return { result: { kind: 'refused', entry: JSON.parse(json as string) as LedgerEntry } };
  }

  /**
   * `markDone` (queue workers): the row is also marked done for its batch, in the same atomic step. `onQueued` runs once
   * the command is on the connection: a claim sent after it runs after the record (except a record resent on NOSCRIPT).
   */
  async record(orderId: string, token: string, outcome: Outcome, onQueued?: () => void, markDone?: { set: string; tick: string; ttlSeconds: number }, along?: RideAlong): Promise<boolean> {
    // `along` runs whether or not the record is accepted. RECORD reads optional KEYS[3], KEYS[4] (markDone): a
    // ride-along's keys may only follow those.
    if (along && !markDone) {
      const ok = await this.record(orderId, token, outcome, onQueued);
      await alone(along).run(this.redis, along.keys, along.args);
      return ok;
    }
    const iso = this.now().toISOString();
    const fields: Partial<LedgerEntry> = { ...clean(outcome), updatedAt: iso };
    if (outcome.state === 'CREATED') fields.statusChangedAt = iso;
    const keys = markDone ? [...this.keyList, markDone.set, markDone.tick] : this.keyList;
    const args: (string | number)[] = markDone ? [orderId, token, JSON.stringify(fields), markDone.ttlSeconds] : [orderId, token, JSON.stringify(fields)];
    const sent = along
      ? recordThen.script(along, keys.length, args.length).run(this.redis, [...keys, ...along.keys], [...args, ...along.args])
      : scripts.record.run(this.redis, keys, args);
    onQueued?.();
    return (await sent) === 1;
  }

  /**
   * A claim is durable on the primary only; a failover could forget it. So with replicas it stands only once each has
   * acknowledged it (WAIT); otherwise it is released and the row is not sent.
   */
  private async replicated(orderId: string, token: string): Promise<void> {
    this.replicas ??= this.redis
      .info('replication')
      .then((info) => Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0))
      .catch(() => 0);
    const n = await this.replicas;
    if (n === 0) return;
    const acked = Number(await this.redis.call('WAIT', n, this.replicaWaitMs));
    if (acked >= n) return;
    await this.release(orderId, token).catch(() => undefined);
    throw new PaybatchError(
      'PB_REDIS_REPLICA',
      `${this.where} has ${n} replica(s) and ${acked} acknowledged the claim of ${orderId} within ${this.replicaWaitMs} ms: it was not sent (a failover could forget the claim); check the replicas' link to the primary`,
      3,
    );
  }

  async release(orderId: string, token: string): Promise<void> {
    await scripts.release.run(this.redis, this.keyList, [orderId, token]);
  }

  /** Extends a claim's lease; false when the claim is no longer this token's (then do not POST). */
  async renew(orderId: string, token: string): Promise<boolean> {
    return (await scripts.renew.run(this.redis, this.keyList, [orderId, token, this.now().getTime(), this.leaseMs])) === 1;
  }

  /** The open claims of these orders (undefined where none). */
  async claims(orderIds: string[]): Promise<(ClaimInfo | undefined)[]> {
    if (orderIds.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.claims, ...orderIds);
    return raws.map((r) => {
      if (!r) return undefined;
      const c = JSON.parse(r) as { token: string; until: number };
      return { token: c.token, until: Number(c.until) };
    });
  }

  /** Same rules as the local ledger (applyObservation); while a claim is open the state stays the claim's. */
  async observe(orderId: string, obs: Observation): Promise<LedgerEntry | undefined> {
    for (;;) {
      const [raw, claim] = await Promise.all([this.redis.hget(this.keys.entries, orderId), this.redis.hexists(this.keys.claims, orderId)]);
      if (!raw) return undefined;
      const entry = JSON.parse(raw) as LedgerEntry;
      let next = applyObservation(entry, obs, this.now().toISOString());
      if (!next) return entry;
      if (claim) next = { ...next, state: entry.state };
      const written = await scripts.replaceIfSame.run(this.redis, [this.keys.entries], [orderId, raw, JSON.stringify(next)]);
      if (written === 1) return next;
    }
  }

  async *entries(filter?: EntriesFilter): AsyncIterable<LedgerEntry> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.entries, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const e = JSON.parse(flat[i]!) as LedgerEntry;
        if (entryMatches(e, filter)) yield e;
      }
    } while (cursor !== '0');
  }

  /** Each entry by the merge rule: HSETNX where the order is unknown, a compare-and-set where it is known. */
  async merge(entries: readonly LedgerEntry[]): Promise<MergeReport> {
    const report = emptyMergeReport();
    const nowIso = this.now().toISOString();
    for (let i = 0; i < entries.length; i += 500) {
      const chunk = entries.slice(i, i + 500);
      const added = (await this.redis.multi(chunk.map((e) => ['hsetnx', this.keys.entries, e.orderId, JSON.stringify(clean(mergeEntry(undefined, e, nowIso).next!))])).exec()) ?? [];
      for (let j = 0; j < chunk.length; j++) {
        const incoming = chunk[j]!;
        if (added[j]?.[1] === 1) {
          countVerdict(report, incoming.orderId, 'added');
          continue;
        }
        for (;;) {
          const raw = await this.redis.hget(this.keys.entries, incoming.orderId);
          const { verdict, next } = mergeEntry(raw ? (JSON.parse(raw) as LedgerEntry) : undefined, incoming, nowIso);
          if (!next) {
            countVerdict(report, incoming.orderId, verdict);
            break;
          }
          const written = raw
            ? await scripts.replaceIfSame.run(this.redis, [this.keys.entries], [incoming.orderId, raw, JSON.stringify(clean(next))])
            : await this.redis.hsetnx(this.keys.entries, incoming.orderId, JSON.stringify(clean(next)));
          if (written === 1) {
            countVerdict(report, incoming.orderId, verdict);
            break;
          }
        }
      }
    }
    return report;
  }

  async purgePersonalData(before: Date): Promise<number> {
    const limit = before.toISOString();
    let purged = 0;
    for await (const e of this.entries()) {
      const settled = e.state === 'FAILED' || ['PAID', 'REFUSED', 'EXPIRED', 'CANCELLED'].includes(e.paymentOrderStatus ?? '');
      if (!settled || e.updatedAt >= limit || !e.sent.recipient) continue;
      const raw = await this.redis.hget(this.keys.entries, e.orderId);
      if (!raw) continue;
      const cur = JSON.parse(raw) as LedgerEntry;
      const written = await scripts.replaceIfSame.run(this.redis, [this.keys.entries], [e.orderId, raw, JSON.stringify({ ...cur, sent: { ...cur.sent, recipient: '' } })]);
      if (written === 1) purged++;
    }
    return purged;
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}

/** Opens the ledger of one shop and mode in Redis. */
export async function openRedisLedger(opts: RedisLedgerOptions): Promise<RedisLedger> {
  return new RedisLedger(opts);
}
