import type { Ledger, LedgerEntry } from '../ledger/ledger.js';
import { LyraApiError } from '../lyra/errors.js';
import type { PaymentOrder } from '../lyra/types.js';
import type { OrderDraft } from '../orders/types.js';
import { runBulk, type BulkOptions, type BulkResult } from './bulk.js';
import { NOT_RUNNING_CODES, type ActionRow, type ActionRun } from './cancel.js';
import { observationOf } from './observe.js';
import { planUpdate, type FieldChange, type RunWideChanges, type UpdatePlan } from './update-plan.js';
import type { FollowClient } from './types.js';

/** One order `update` looks at: the row's draft when the row is valid, else why it is not. */
export interface UpdateTarget {
  orderId: string;
  draft?: OrderDraft;
  /** The row failed validation: reported FAILED with this, never sent. */
  problem?: { code: string; message: string };
}

export interface UpdateOptions {
  targets: readonly UpdateTarget[];
  ledger: Ledger;
  client: FollowClient;
  runWide?: RunWideChanges;
  /** Read each order and list what would change; change nothing. */
  dryRun: boolean;
  bulk: Omit<BulkOptions, 'retryable'>;
  now?: () => Date;
}

type Done = { plan: UpdatePlan; order: PaymentOrder; updates: number; settledByReread?: boolean };

/**
 * `paybatch update`: Update each RUNNING order whose row differs from a fresh Get. An Update with no definite answer
 * is not re-sent (a second buyer message, lyra-api.md Q6): a re-read says done or UNCERTAIN.
 */
export async function updateOrders(opts: UpdateOptions): Promise<ActionRun> {
  const now = opts.now ?? (() => new Date());
  const rows: ActionRow[] = [];
  const work: { index: number; orderId: string; paymentOrderId: string; draft?: OrderDraft }[] = [];
  for (const t of opts.targets) {
    const entry = await opts.ledger.get(t.orderId);
    const row = baseRow(t.orderId, entry);
    rows.push(row);
    if (t.problem) {
      rows[rows.length - 1] = { ...row, result: 'FAILED', errorCode: t.problem.code, errorMessage: `row not valid, order not updated: ${t.problem.message}` };
      continue;
    }
    if (!entry?.paymentOrderId) continue;
    if (entry.paymentOrderStatus && entry.paymentOrderStatus !== 'RUNNING') {
      rows[rows.length - 1] = { ...row, result: 'SKIPPED', errorMessage: `${entry.paymentOrderStatus}: only RUNNING orders can change` };
      continue;
    }
    work.push({ index: rows.length - 1, orderId: t.orderId, paymentOrderId: entry.paymentOrderId, draft: t.draft });
  }
  if (work.length === 0) return { rows, aborted: false };

  const updateCalls = new Map<string, number>();
  const run = await runBulk(
    work,
    async ({ orderId, paymentOrderId, draft }): Promise<Done> => {
      const current = await opts.client.getPaymentOrder(paymentOrderId);
      await opts.ledger.observe(orderId, observationOf(current, now()));
      const plan = planUpdate({ draft, current, runWide: opts.runWide });
      if (plan.kind !== 'update' || opts.dryRun) return { plan, order: current, updates: 0 };
      const calls = (updateCalls.get(orderId) ?? 0) + 1;
      updateCalls.set(orderId, calls);
      try {
        const order = await opts.client.updatePaymentOrder(plan.request);
        await opts.ledger.observe(orderId, observationOf(order, now(), { ownChange: true }));
        return { plan, order, updates: calls };
      } catch (e) {
        if (LyraApiError.is(e) && NOT_RUNNING_CODES.has(e.code)) {
          // Paid, expired or cancelled between the Get and the Update.
          const order = await opts.client.getPaymentOrder(paymentOrderId);
          await opts.ledger.observe(orderId, observationOf(order, now()));
          return { plan: { kind: 'not-running', status: order.paymentOrderStatus }, order, updates: calls };
        }
        if (!(LyraApiError.is(e) && e.kind === 'unknown')) throw e;
        const reread = await opts.client.getPaymentOrder(paymentOrderId).catch(() => undefined);
        if (!reread) throw e;
        const again = planUpdate({ draft, current: reread, runWide: opts.runWide });
        await opts.ledger.observe(orderId, observationOf(reread, now(), { ownChange: again.kind === 'unchanged' }));
        if (again.kind === 'unchanged') return { plan, order: reread, updates: calls, settledByReread: true };
        throw e;
      }
    },
    // Retried as a whole (Get, plan, Update) only when provably nothing happened.
    { ...opts.bulk, retryable: (e) => LyraApiError.is(e) && e.kind === 'retry-safe' },
  );
  run.results.forEach((r, i) => {
    const { index, orderId } = work[i]!;
    rows[index] = settle(rows[index]!, r, opts.dryRun, updateCalls.get(orderId) ?? 0);
  });
  return { rows, authFailure: run.authFailure, aborted: run.aborted };
}

export function describeChanges(changes: readonly FieldChange[]): string {
  const shown = (c: FieldChange, v: string): string => (c.field === 'expirationDate' ? instant(v) : short(v));
  return changes.map((c) => `${c.field}: ${shown(c, c.from)} → ${shown(c, c.to)}`).join('; ');
}

/** An expiry as the platform writes it (UTC, to the second), whichever form it came in: the two sides compare at a glance. */
function instant(s: string): string {
  const t = Date.parse(s);
  return Number.isNaN(t) ? short(s) : new Date(t).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 37)}…` : one || '(none)';
}

function baseRow(orderId: string, e: LedgerEntry | undefined): ActionRow {
  if (!e) return { orderId, result: 'NOT_SENT', errorMessage: 'not in the ledger: never sent from this state directory' };
  const row: ActionRow = { orderId, result: 'NOT_SENT', paymentOrderId: e.paymentOrderId, paymentOrderStatus: e.paymentOrderStatus, amountMinor: e.sent?.amountMinor, currency: e.sent?.currency };
  if (!e.paymentOrderId) {
    row.errorCode = e.errorCode;
    row.errorMessage = e.state === 'FAILED' ? 'never created: nothing to update (run sends it again)' : `ledger state ${e.state}: no payment order id known, cannot update`;
  }
  return row;
}

function settle(row: ActionRow, r: BulkResult<Done>, dryRun: boolean, calls: number): ActionRow {
  if (r.kind === 'skipped') return { ...row, result: 'PENDING', attempts: calls, errorMessage: r.reason === 'auth-failure' ? 'not updated: the run stopped on an authentication failure' : 'not updated: the run was interrupted' };
  if (r.kind === 'failed') {
    const e = r.error;
    const unknown = calls > 0 && LyraApiError.is(e) && e.kind !== 'permanent';
    return {
      ...row,
      result: unknown ? 'UNCERTAIN' : 'FAILED',
      attempts: calls,
      errorCode: LyraApiError.is(e) ? e.code : 'PB_INTERNAL',
      errorMessage: `${unknown ? 'update sent without a definite answer and the order does not show it yet; check with status before running again: ' : ''}${e instanceof Error ? e.message : String(e)}`,
    };
  }
  const { plan, order } = r.value;
  const base: ActionRow = { ...row, paymentOrderId: order.paymentOrderId, paymentOrderStatus: order.paymentOrderStatus, amountMinor: order.amount, currency: order.currency, attempts: calls, errorCode: undefined, errorMessage: undefined };
  switch (plan.kind) {
    case 'not-running':
      return { ...base, result: 'SKIPPED', errorMessage: `${plan.status}: only RUNNING orders can change` };
    case 'refused':
      return { ...base, result: 'FAILED', errorCode: plan.code, errorMessage: plan.message };
    case 'unchanged':
      return { ...base, result: 'UNCHANGED', errorMessage: plan.notes.join('; ') || undefined };
    case 'update':
      return {
        ...base,
        result: dryRun ? 'WOULD' : 'OK',
        changes: describeChanges(plan.changes),
        errorMessage: plan.notes.join('; ') || undefined,
      };
  }
}
