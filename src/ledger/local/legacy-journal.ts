import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mode } from '../../lyra/types.js';
import type { LedgerEntry, LedgerState } from '../ledger.js';

/**
 * The JSONL journal that held the local ledger before SQLite (newest line of an orderId wins, `deleted` removes one).
 * Read once, when the same shop and mode's database is first opened, so no order it knew is ever sent again.
 */
export function legacyJournalPath(dir: string, shopId: string, mode: Mode): string {
  return join(dir, `${shopId}-${mode}.journal`);
}

const STATES: ReadonlySet<string> = new Set<LedgerState>(['SENDING', 'CREATED', 'FAILED', 'UNCERTAIN']);

/** The live entries of a journal, newest line per orderId. A torn last line (a crash mid-write) is ignored. */
export async function readLegacyJournal(path: string): Promise<Map<string, LedgerEntry>> {
  const out = new Map<string, LedgerEntry>();
  let lineNo = 0;
  for await (const text of completeLines(path)) {
    lineNo++;
    if (text.trim() === '') continue;
    const e = parseLine(text);
    if (!e) throw new Error(`${path} line ${lineNo} is unreadable; the ledger cannot tell what was sent. Move the file aside only after checking the Back Office`);
    if ('deleted' in e) out.delete(e.orderId);
    else out.set(e.orderId, e);
  }
  return out;
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

async function* completeLines(path: string, chunkSize = 1 << 20): AsyncGenerator<string> {
  const fh = await open(path, 'r');
  try {
    let carry: Buffer = Buffer.alloc(0);
    let pos = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      const { bytesRead } = await fh.read(chunk, 0, chunkSize, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const buf: Buffer = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        yield buf.toString('utf8', start, nl);
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
    }
  } finally {
    await fh.close();
  }
}
