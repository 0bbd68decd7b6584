import { readFile, rename, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { connectRedis, safeRedisUrl, type RedisTarget } from '../redis/connect.js';
import { ConfigError, PaybatchError } from '../errors/paybatch-error.js';
import type { Mode } from '../lyra/types.js';
import type { Ledger, LedgerEntry } from './ledger.js';
import { legacyJournalPath } from './local/legacy-journal.js';
import { openLedgerPatiently } from './local/open-patiently.js';
import { openSqliteLedger, sqliteLedgerPath } from './local/sqlite-ledger.js';
import { emptyMergeReport, type MergeReport } from './merge.js';
import { RedisLedger } from './redis/redis-ledger.js';

/**
 * The one place a ledger backend is chosen, so that choosing an engine never silently chooses another ledger. In
 * order: `PAYBATCH_LEDGER` / `--ledger` (`local` or a Redis URL); what this machine remembers
 * (`{stateDir}/{shopId}-{mode}.ledger-of-record.json`); the Redis the command was given; else the local database.
 * A Redis becoming the record first takes over the local ledger (merge rule, durably) and marks it moved. An
 * unreachable Redis is one line and exit 2, never an empty ledger.
 */
export interface LedgerOfRecordOptions {
  stateDir: string;
  shopId: string;
  mode: Mode;
  /** PAYBATCH_LEDGER / --ledger, with where it came from for messages. */
  setting?: { value: string; source: string };
  /** The Redis this command was given (queue mode, or --redis / REDIS_URL for a follow-up command). */
  redis?: RedisTarget;
  /** The queue engine needs its ledger on its own Redis: a local ledger of record, or another Redis, is refused. */
  queue?: boolean;
  /** Told once what was carried over or remembered. */
  onNotice?: (message: string) => void;
  /** The local database waits a few seconds for a lock held by `paybatch ipn` unless false. */
  patient?: boolean;
  /** Redis ledgers: how long a claim stays live without renewal. */
  claimLeaseMs?: number;
}

export interface OpenedLedger {
  ledger: Ledger;
  kind: 'local' | 'redis';
  /** The Redis connection of a Redis ledger (closed by close()). */
  redis?: Redis;
  close(): Promise<void>;
}

export const LEDGER_SETTING = 'PAYBATCH_LEDGER';

interface Remembered {
  ledger: string;
  since: string;
}

export function ledgerOfRecordPath(stateDir: string, shopId: string, mode: Mode): string {
  return join(stateDir, `${shopId}-${mode}.ledger-of-record.json`);
}

/** Where the ledger of record is, without opening it: `local` or a Redis URL (password hidden). */
export async function describeLedgerOfRecord(o: Pick<LedgerOfRecordOptions, 'stateDir' | 'shopId' | 'mode' | 'setting' | 'redis'>): Promise<string> {
  const chosen = await choose(o);
  return chosen.kind === 'local' ? sqliteLedgerPath(o.stateDir, o.shopId, o.mode) : safeRedisUrl(chosen.target.url);
}

type Choice = { kind: 'local'; why: string } | { kind: 'redis'; target: RedisTarget; why: string; remembered: boolean };

async function choose(o: Pick<LedgerOfRecordOptions, 'stateDir' | 'shopId' | 'mode' | 'setting' | 'redis'>): Promise<Choice> {
  const setting = o.setting?.value.trim();
  const remembered = await readRemembered(o.stateDir, o.shopId, o.mode);
  if (setting) {
    if (setting !== 'local' && !/^rediss?:\/\//.test(setting)) throw new ConfigError('PB_CONFIG', `${o.setting!.source}=${safeRedisUrl(setting)}: give "local" or a Redis URL (redis://host:6379)`);
    await refuseAnotherLedger(o, setting, remembered);
    if (setting === 'local') return { kind: 'local', why: `${o.setting!.source}=local` };
    return { kind: 'redis', target: withCredentials({ url: setting, source: o.setting!.source as RedisTarget['source'] }, o.redis), why: o.setting!.source, remembered: false };
  }
  if (remembered) {
    const path = ledgerOfRecordPath(o.stateDir, o.shopId, o.mode);
    return { kind: 'redis', target: withCredentials({ url: remembered.ledger, source: path as RedisTarget['source'] }, o.redis), why: `${path} (since ${remembered.since})`, remembered: true };
  }
  if (o.redis) return { kind: 'redis', target: o.redis, why: o.redis.source, remembered: false };
  return { kind: 'local', why: 'the default' };
}

/**
 * The setting may not name another ledger than the Redis this machine remembers: that one holds the orders, and a
 * ledger that does not know them (an empty Redis, a local database never used) would let every invoice go again.
 * A local database whose orders were carried over is refused later, with its own way back (openLocal).
 */
async function refuseAnotherLedger(o: Pick<LedgerOfRecordOptions, 'stateDir' | 'shopId' | 'mode' | 'setting'>, setting: string, remembered: Remembered | undefined): Promise<void> {
  if (!remembered) return;
  if (setting === 'local' ? await movedTo(o.stateDir, o.shopId, o.mode) : sameRedis(setting, remembered.ledger)) return;
  const path = ledgerOfRecordPath(o.stateDir, o.shopId, o.mode);
  const named = setting === 'local' ? 'local' : safeRedisUrl(setting);
  throw new ConfigError(
    'PB_LEDGER_ELSEWHERE',
    `the ledger of record of shop ${o.shopId} ${o.mode} is ${safeRedisUrl(remembered.ledger)} (remembered in ${path}), and ${o.setting!.source}=${named} names another: unset ${LEDGER_SETTING} to use it, or move the ledger first (paybatch ledger export here, then ${LEDGER_SETTING}=${named} paybatch ledger import in a fresh --state-dir); nothing was sent`,
  );
}

/**
 * The Redis a state directory's orders live in, if they went there: what it remembers, or where its local orders were
 * carried. Its local database is then only a stale copy, and must not be taken for the ledger of record.
 */
export async function redisOfStateDir(stateDir: string, shopId: string, mode: Mode): Promise<string | undefined> {
  return (await readRemembered(stateDir, shopId, mode))?.ledger ?? (await movedTo(stateDir, shopId, mode))?.ledger;
}

export async function openLedgerOfRecord(o: LedgerOfRecordOptions): Promise<OpenedLedger> {
  const chosen = await choose(o);
  if (chosen.kind === 'local') {
    if (o.queue) {
      throw new ConfigError(
        'PB_LEDGER_LOCAL',
        `queue mode sends from any machine, so its ledger must be in Redis, but the ledger of record of shop ${o.shopId} ${o.mode} is local (${chosen.why}): unset ${LEDGER_SETTING}, or set it to the queue's Redis URL (the local orders are carried over)`,
      );
    }
    const ledger = await openLocal(o);
    return { ledger, kind: 'local', close: () => ledger.close() };
  }
  if (o.queue && o.redis && !sameRedis(o.redis.url, chosen.target.url)) {
    throw new ConfigError(
      'PB_LEDGER_ELSEWHERE',
      `the ledger of record of shop ${o.shopId} ${o.mode} is ${safeRedisUrl(chosen.target.url)} (${chosen.why}), and this queue is on ${safeRedisUrl(o.redis.url)}: use --redis ${safeRedisUrl(chosen.target.url)}, or move the ledger first (paybatch ledger export, then import into the other Redis and set ${LEDGER_SETTING})`,
    );
  }
  let redis: Redis;
  try {
    redis = await connectRedis(chosen.target, 'producer');
  } catch (e) {
    if (!PaybatchError.is(e) || !chosen.remembered) throw e;
    throw new PaybatchError(
      e.code,
      // "Start it" only when it is down: a Redis refused for its settings is running, and its message says the fix.
      `the ledger of record of shop ${o.shopId} ${o.mode} is the Redis remembered in ${chosen.why}, and ${e.message.replace(/^cannot reach/, 'it cannot be reached:')}${e.code === 'PB_REDIS_UNREACHABLE' ? ' Start it, or pass --redis with its URL (and password)' : ''}; nothing was sent`,
      2,
    );
  }
  const ledger = new RedisLedger({ redis, shopId: o.shopId, mode: o.mode, where: safeRedisUrl(chosen.target.url), ...(o.claimLeaseMs ? { claimLeaseMs: o.claimLeaseMs } : {}) });
  try {
    await carryLocalOver(o, ledger);
    if (!chosen.remembered && !o.setting?.value.trim()) await remember(o, chosen.target.url);
  } catch (e) {
    redis.disconnect();
    throw e;
  }
  return {
    ledger,
    kind: 'redis',
    redis,
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The local database, refused if its orders were carried over to a Redis that is now the ledger of record. */
async function openLocal(o: LedgerOfRecordOptions): Promise<Ledger> {
  const open = () => openSqliteLedger({ dir: o.stateDir, shopId: o.shopId, mode: o.mode, ...(o.onNotice ? { onNotice: o.onNotice } : {}) });
  const ledger = o.patient === false ? await open() : await openLedgerPatiently(open);
  const moved = await movedTo(o.stateDir, o.shopId, o.mode);
  if (moved) {
    await ledger.close();
    throw new ConfigError(
      'PB_LEDGER_MOVED',
      `the orders of shop ${o.shopId} ${o.mode} in ${ledger.where} were carried over to ${moved.ledger} on ${moved.since}, which is their ledger of record now: unset ${LEDGER_SETTING}=local, or bring them back with paybatch ledger export / import`,
    );
  }
  return ledger;
}

/**
 * Carries the local orders of the shop and mode into the Redis ledger, once: every entry by the merge rule (what may
 * exist stays so), then the local database is marked as moved. Idempotent: a second pass changes nothing.
 */
async function carryLocalOver(o: LedgerOfRecordOptions, target: Ledger): Promise<void> {
  const db = sqliteLedgerPath(o.stateDir, o.shopId, o.mode);
  const journal = legacyJournalPath(o.stateDir, o.shopId, o.mode);
  if (!(await exists(db)) && !(await exists(journal))) return;
  if (await movedTo(o.stateDir, o.shopId, o.mode)) return;
  const open = () => openSqliteLedger({ dir: o.stateDir, shopId: o.shopId, mode: o.mode });
  const local = o.patient === false ? await open() : await openLedgerPatiently(open);
  let report: MergeReport = emptyMergeReport();
  try {
    report = await mergeAll(local.entries(), target);
    await writeAtomic(movedPath(o.stateDir, o.shopId, o.mode), JSON.stringify({ ledger: target.where, since: new Date().toISOString() }));
  } finally {
    await local.close();
  }
  const total = report.added + report.updated + report.unchanged + report.conflicts.length;
  if (total > 0) {
    o.onNotice?.(
      `carried the ${total} orders of shop ${o.shopId} ${o.mode} over from ${db} to ${target.where} (${report.added} new there, ${report.updated} updated), which is their ledger of record from now on` +
        (report.conflicts.length ? `; ${report.conflicts.length} invoice(s) have a different order in each ledger, kept as they are in Redis: ${report.conflicts.slice(0, 5).join(', ')}` : ''),
    );
  }
}

/** Merges a stream of entries in chunks, so memory does not grow with the ledger. */
export async function mergeAll(entries: AsyncIterable<LedgerEntry>, target: Ledger): Promise<MergeReport> {
  const report = emptyMergeReport();
  let chunk: LedgerEntry[] = [];
  const flush = async () => {
    const r = await target.merge(chunk);
    report.added += r.added;
    report.updated += r.updated;
    report.unchanged += r.unchanged;
    report.conflicts.push(...r.conflicts);
    chunk = [];
  };
  for await (const e of entries) {
    chunk.push(e);
    if (chunk.length >= 1000) await flush();
  }
  if (chunk.length) await flush();
  return report;
}

async function remember(o: LedgerOfRecordOptions, url: string): Promise<void> {
  const path = ledgerOfRecordPath(o.stateDir, o.shopId, o.mode);
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  await writeAtomic(path, JSON.stringify({ ledger: withoutPassword(url), since: new Date().toISOString() } satisfies Remembered));
  o.onNotice?.(`the ledger of record of shop ${o.shopId} ${o.mode} is ${safeRedisUrl(url)} from now on (remembered in ${path}); every command on this machine uses it`);
}

async function readRemembered(stateDir: string, shopId: string, mode: Mode): Promise<Remembered | undefined> {
  return readJson(ledgerOfRecordPath(stateDir, shopId, mode));
}

function movedPath(stateDir: string, shopId: string, mode: Mode): string {
  return join(stateDir, `${shopId}-${mode}.moved.json`);
}

async function movedTo(stateDir: string, shopId: string, mode: Mode): Promise<Remembered | undefined> {
  return readJson(movedPath(stateDir, shopId, mode));
}

async function readJson(path: string): Promise<Remembered | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as Remembered;
    if (typeof v.ledger === 'string' && typeof v.since === 'string') return v;
  } catch {
    // fall through
  }
  throw new ConfigError('PB_LEDGER_CORRUPT', `${path} is unreadable: it names the ledger of record of this shop and mode; restore it, or set ${LEDGER_SETTING}`);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${text}\n`, { mode: 0o600, flush: true });
  await rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function endpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}/${u.pathname.replace(/^\//, '') || '0'}`;
  } catch {
    return url;
  }
}

/** The same Redis server and database, whatever the credentials in the URLs. */
export function sameRedis(a: string, b: string): boolean {
  return endpoint(a) === endpoint(b);
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.username = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** A remembered URL has no password: take it from the Redis the command was given when that is the same server. */
function withCredentials(target: RedisTarget, given: RedisTarget | undefined): RedisTarget {
  const risk = given?.mayLoseClaims ? { mayLoseClaims: true } : {};
  if (given && sameRedis(given.url, target.url)) return { ...target, url: given.url, ...risk };
  return { ...target, ...risk };
}
