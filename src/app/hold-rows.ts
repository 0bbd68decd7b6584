import type { RunItem } from '../engine/run.js';
import { outsideSendWindow, SEND_WINDOW_CODE, type SendWindow } from '../orders/send-window.js';
import type { JudgedRow } from '../orders/types.js';

/**
 * Rows that must wait (outside their send window) never reach the engine: `rows` is what the engine gets, and
 * `merge` puts the waiting rows back into the engine's outcomes, as PENDING, in input order. Engines yield in input
 * order and read a row before yielding any later one, so every waiting row is known by the time it is due.
 */
export function holdRows(rows: AsyncIterable<JudgedRow>, window: SendWindow, now: () => Date): { rows: AsyncIterable<JudgedRow>; merge(run: AsyncIterable<RunItem>): AsyncIterable<RunItem> } {
  const waiting: RunItem[] = [];
  async function* filtered(): AsyncIterable<JudgedRow> {
    for await (const row of rows) {
      const why = row.judgement.ok ? outsideSendWindow(window, row.judgement.order.channel, now()) : undefined;
      if (why) waiting.push({ row, outcome: { status: 'PENDING', attempts: 0, errorCode: SEND_WINDOW_CODE, errorMessage: why } });
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
