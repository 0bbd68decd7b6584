import { setTimeout as delay } from 'node:timers/promises';
import { PaybatchError } from '../../errors/paybatch-error.js';
import type { Ledger } from '../ledger.js';

/**
 * `paybatch ipn` holds the local ledger only briefly while it applies notifications: a lock found
 * taken is tried again for a few seconds before giving up with the lock's own message (a `run` holds it for longer).
 */
export async function openLedgerPatiently(open: () => Promise<Ledger>, budgetMs = 5000): Promise<Ledger> {
  const started = Date.now();
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    try {
      return await open();
    } catch (e) {
      if (!(PaybatchError.is(e) && e.code === 'PB_LEDGER_LOCKED') || Date.now() - started + wait > budgetMs) throw e;
      await delay(wait);
    }
  }
}
