import type { HoldOrder } from '../engine/queue/run-queued.js';
import { ledgerAnswers } from '../engine/from-ledger.js';
import type { RowOutcome } from '../engine/outcome.js';
import type { RunItem } from '../engine/run.js';
import type { Ledger } from '../ledger/ledger.js';
import { outsideSendWindow, SEND_WINDOW_CODE, type SendWindow } from '../orders/send-window.js';
import type { JudgedRow } from '../orders/types.js';

/** The report's outcome of a row that waits for its send window: PENDING, with why and when it goes. */
function waitingOutcome(why: string): RowOutcome {
  return { status: 'PENDING', attempts: 0, errorCode: SEND_WINDOW_CODE, errorMessage: why };
}

/**
 * The embedded engine's send window: waiting rows never reach the engine and `merge` puts them back as PENDING in
 * input order (known in time, as engines read a row before yielding a later one). Ledger-answered rows go through.
 */
export function holdRows(
  rows: AsyncIterable<JudgedRow>,
  window: SendWindow,
  now: () => Date,
  ledger: Pick<Ledger, 'get'>,
  retryUncertain: boolean,
): { rows: AsyncIterable<JudgedRow>; merge(run: AsyncIterable<RunItem>): AsyncIterable<RunItem> } {
  const waiting: RunItem[] = [];
  async function* filtered(): AsyncIterable<JudgedRow> {
    for await (const row of rows) {
      const order = row.judgement.ok ? row.judgement.order : undefined;
      const why = order ? outsideSendWindow(window, order.channel, now()) : undefined;
      if (why && !ledgerAnswers(await ledger.get(order!.orderId), retryUncertain, order!.channel)) waiting.push({ row, outcome: waitingOutcome(why) });
      else yield row;
    }
  }
  async function* merge(run: AsyncIterable<RunItem>): AsyncIterable<RunItem> {
    for await (const item of run) {
      while (waiting.length && waiting[0]!.row.index < item.row.index) yield waiting.shift()!;
      yield item;
    }
    while (waiting.length) yield waiting.shift()!;
  }
  return { rows: filtered(), merge };
}

/**
 * The queue engine's send window: the producer queues no job for a row outside it, and the batch keeps the row's
 * PENDING outcome, so the run and `paybatch report` say it waits; a later run inside the window sends it.
 */
export function sendWindowHold(window: SendWindow, now: () => Date): HoldOrder {
  return (order) => {
    const why = outsideSendWindow(window, order.sent.channel, now());
    return why ? waitingOutcome(why) : undefined;
  };
}
