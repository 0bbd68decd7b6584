import type { Ledger } from '../ledger/ledger.js';
import { entryOfNotice } from './apply-notice.js';
import type { IpnNotice } from './notice.js';

/**
 * The receiver's `knowsOrder` over the ledger of record: false for an order it does not hold, undefined when it
 * cannot tell now (a run holds the local ledger: the notice is journalled and sorted out when applied).
 */
export function ledgerKnowsOrder(store: { open(opts: { patient: boolean }): Promise<Ledger> }): (notice: IpnNotice) => Promise<boolean | undefined> {
  return async (notice) => {
    let ledger;
    try {
      ledger = await store.open({ patient: false });
    } catch {
      return undefined;
    }
    try {
      return (await entryOfNotice(ledger, notice)) !== undefined;
    } finally {
      await ledger.close();
    }
  };
}
