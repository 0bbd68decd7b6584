import type { RedisTarget } from '../redis/connect.js';
import { drainInbox } from '../ipn/inbox.js';
import { openLedgerOfRecord, type OpenedLedger } from '../ledger/open-ledger.js';
import type { LyraClient } from '../lyra/client.js';
import type { Mode } from '../lyra/types.js';
import { adoptEarlierReports } from './adopt-reports.js';

export interface PrepareLedgerOptions {
  stateDir: string;
  shopId: string;
  mode: Mode;
  client: LyraClient;
  /** PAYBATCH_LEDGER / --ledger. */
  setting?: { value: string; source: string };
  /** Queue mode: the queue's Redis, where the ledger of record must be. */
  queue?: RedisTarget;
  /** The report beside the input (read if it exists) and those given with --previous-report. */
  reportBeside: string;
  previousReports?: string[];
  map?: Record<string, string>;
  onNotice?: (message: string) => void;
}

/**
 * Opens the ledger of record before a batch claims anything (carried over if it just became the record), with the
 * orders earlier reports prove and the payments the IPN receiver journalled. The caller closes it.
 */
export async function prepareLedger(o: PrepareLedgerOptions): Promise<OpenedLedger> {
  const opened = await openLedgerOfRecord({
    stateDir: o.stateDir,
    shopId: o.shopId,
    mode: o.mode,
    ...(o.setting ? { setting: o.setting } : {}),
    ...(o.queue ? { redis: o.queue, queue: true } : {}),
    ...(o.onNotice ? { onNotice: o.onNotice } : {}),
    // The embedded engine on a Redis ledger renews no claim: a claim must outlive every attempt of a row.
    claimLeaseMs: 600_000,
  });
  try {
    await adoptEarlierReports({
      reports: [{ path: o.reportBeside, given: false }, ...(o.previousReports ?? []).map((path) => ({ path, given: true }))],
      ...(o.map ? { map: o.map } : {}),
      ledger: opened.ledger,
      client: o.client,
      shopId: o.shopId,
      mode: o.mode,
      onNotice: o.onNotice ?? (() => undefined),
    });
    await drainInbox(o.stateDir, opened.ledger);
  } catch (e) {
    await opened.close();
    throw e;
  }
  return opened;
}
