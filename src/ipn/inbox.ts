import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ledger } from '../ledger/ledger.js';
import type { Mode } from '../lyra/types.js';
import { applyNotice, type ApplyResult } from './apply-notice.js';
import type { IpnNotice } from './notice.js';

/**
 * The IPN receiver's journal (`<stateDir>/ipn/<shopId>-<mode>.jsonl`): a `run` may hold the ledger for hours, yet Lyra
 * needs a quick answer. Appended with fsync before the 200, applied when the ledger opens (idempotently). No PII.
 */
export interface InboxLine {
  v: 1;
  receivedAt: string;
  /** kr-hash of the delivery: the same payload re-delivered has the same hash. */
  hash: string;
  notice: IpnNotice;
}

export function inboxPaths(stateDir: string, shopId: string, mode: Mode): { dir: string; journal: string; cursor: string } {
  const dir = join(stateDir, 'ipn');
  const base = `${safe(shopId)}-${mode}`;
  return { dir, journal: join(dir, `${base}.jsonl`), cursor: join(dir, `${base}.applied`) };
}

/** Appends one notice durably: resolves only once the line is on disk. */
export async function appendToInbox(stateDir: string, line: InboxLine): Promise<void> {
  const { dir, journal } = inboxPaths(stateDir, line.notice.shopId, line.notice.mode);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // One write of one line with O_APPEND: concurrent receivers on the same dir cannot interleave inside a line.
  const fh = await open(journal, 'a', 0o600);
  try {
    await fh.write(`${JSON.stringify(line)}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/**
 * After a crash a journal may end in a torn line (no newline). Terminate it before appending again, or the next
 * notice would be glued to the fragment and become unreadable. Called once when a receiver starts.
 */
export async function repairInboxTail(stateDir: string, shopId: string, mode: Mode): Promise<boolean> {
  const { journal } = inboxPaths(stateDir, shopId, mode);
  let fh;
  try {
    fh = await open(journal, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] === 10) return false;
    await fh.write('\n', size);
    await fh.datasync();
    return true;
  } finally {
    await fh.close();
  }
}

/** Bytes read from the journal's end to find its last hashes: lines are a few hundred bytes. */
const RECENT_TAIL_BYTES = 8 * 1024 * 1024;

/** The kr-hash of the journal's last `count` complete lines (oldest first): what a restarted receiver has seen. */
export async function recentInboxHashes(stateDir: string, shopId: string, mode: Mode, count: number): Promise<string[]> {
  const { journal } = inboxPaths(stateDir, shopId, mode);
  let fh;
  try {
    fh = await open(journal, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let text: string;
  try {
    const { size } = await fh.stat();
    const from = Math.max(0, size - RECENT_TAIL_BYTES);
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    text = buf.toString('utf8');
    // Started mid-line: that first fragment is not a line.
    if (from > 0) text = text.slice(text.indexOf('\n') + 1);
  } finally {
    await fh.close();
  }
  const hashes: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    try {
      const hash = (JSON.parse(raw) as Partial<InboxLine>).hash;
      if (typeof hash === 'string') hashes.push(hash);
    } catch {
      // a torn line (repaired at start): no hash to remember
    }
  }
  return hashes.slice(-count);
}

/** True when the journal holds complete lines not yet applied: only then is the ledger worth opening. */
export async function hasPendingNotices(stateDir: string, shopId: string, mode: Mode): Promise<boolean> {
  const { journal, cursor } = inboxPaths(stateDir, shopId, mode);
  let size: number;
  try {
    size = (await stat(journal)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  return size > (await readCursor(cursor));
}

export interface DrainReport {
  applied: number;
  results: ApplyResult[];
  /** Lines that could not be read (a torn write after a crash): skipped, counted. */
  unreadable: number;
}

/**
 * Applies every notice received since the last drain to `ledger` (which the caller holds open, hence owns), then
 * moves the cursor. The last line is left alone while it has no newline: it may still be being written.
 */
export async function drainInbox(stateDir: string, ledger: Ledger): Promise<DrainReport> {
  const { journal, cursor } = inboxPaths(stateDir, ledger.shopId, ledger.mode);
  const report: DrainReport = { applied: 0, results: [], unreadable: 0 };
  let data: Buffer;
  try {
    data = await readFile(journal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw e;
  }
  const from = Math.min(await readCursor(cursor), data.length);
  const end = data.lastIndexOf(10);
  if (end < from) return report;
  const text = data.subarray(from, end + 1).toString('utf8');
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: InboxLine;
    try {
      line = JSON.parse(raw) as InboxLine;
    } catch {
      report.unreadable += 1;
      continue;
    }
    if (!line?.notice || line.notice.shopId !== ledger.shopId || line.notice.mode !== ledger.mode) continue;
    report.results.push(await applyNotice(ledger, line.notice));
    report.applied += 1;
  }
  await writeCursor(cursor, end + 1);
  return report;
}

async function readCursor(path: string): Promise<number> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

async function writeCursor(path: string, offset: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${offset}\n`);
  await rename(tmp, path);
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}
