import type { JudgedRow } from '../orders/types.js';

/**
 * `run --ipn-url` / `enqueue --ipn-url`: the notification URL added to every valid order without its own. `report
 * BATCH` adds it again when it judges the file anew, so the orders' fingerprints match what was sent.
 */
export async function* withIpnTarget(rows: AsyncIterable<JudgedRow>, url: string | undefined): AsyncIterable<JudgedRow> {
  for await (const row of rows) {
    if (url && row.judgement.ok && row.judgement.order.request.ipnTargetUrl === undefined) row.judgement.order.request.ipnTargetUrl = url;
    yield row;
  }
}
