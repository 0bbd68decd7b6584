import { EventEmitter } from 'node:events';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log/logger.js';
import type { Mode } from '../lyra/types.js';
import { drainInbox, hasPendingNotices, type DrainReport } from './inbox.js';

export interface InboxApplierOptions {
  stateDir: string;
  shopId: string;
  mode: Mode;
  /** Opens the ledger of the receiver's shop + mode; rejects while another process (a `run`) holds it. */
  openLedger: () => Promise<Ledger>;
  logger: Logger;
  /** First wait before trying again when the ledger is busy, in ms. Default 2000; doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Default 60000. */
  maxRetryMs?: number;
}

export interface InboxApplier {
  /** Something was appended: apply it soon. Drains never overlap; kicks during a drain cause one more drain. */
  kick(): void;
  /** Cancels the retry timer and waits for the drains in progress or asked for (`kick(); close()` = one last drain). */
  close(): Promise<void>;
  /** 'drained' (DrainReport) after every drain that applied the journal, 'idle' when there was nothing to apply, 'busy' (Error) when the ledger could not be opened. */
  readonly events: EventEmitter;
}

/**
 * Moves notices from the receiver's journal into the ledger, opened only while draining so a `run` can take it; a busy
 * ledger is tried later. Nothing is lost: the journal holds it and every follow-up command drains it too.
 */
export function createInboxApplier(opts: InboxApplierOptions): InboxApplier {
  const base = opts.retryMs ?? 2000;
  const max = opts.maxRetryMs ?? 60_000;
  const events = new EventEmitter();
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  let wait = base;

  const scheduleRetry = (): void => {
    if (closed || closing || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, wait);
    timer.unref();
    wait = Math.min(wait * 2, max);
  };

  const drainOnce = async (): Promise<void> => {
    // The ledger is taken only when there is something to apply: every moment it is held, a `run` cannot start.
    if (!(await hasPendingNotices(opts.stateDir, opts.shopId, opts.mode))) {
      wait = base;
      events.emit('idle');
      return;
    }
    let ledger: Ledger;
    try {
      ledger = await opts.openLedger();
    } catch (e) {
      opts.logger.info({ event: 'ipn.ledger_busy', retryInMs: wait, reason: (e as Error).message }, 'ledger busy: notices kept in the IPN journal');
      events.emit('busy', e);
      scheduleRetry();
      return;
    }
    wait = base;
    let report: DrainReport;
    try {
      report = await drainInbox(opts.stateDir, ledger);
    } finally {
      await ledger.close();
    }
    for (const r of report.results) {
      if (r.kind === 'recorded') {
        opts.logger.info({ event: 'ipn.recorded', orderId: r.orderId, paymentOrderStatus: r.entry?.paymentOrderStatus }, 'payment state recorded');
      } else if (r.kind === 'other-order') {
        opts.logger.warn({ event: 'ipn.other_order', orderId: r.orderId, ledgerPaymentOrderId: r.ledgerPaymentOrderId }, 'notification for another payment order of this orderId: not applied, reconcile by hand');
      } else if (r.kind === 'unknown-order') {
        opts.logger.info({ event: 'ipn.unknown_order', orderId: r.orderId }, 'notification for an order this ledger does not hold');
      }
    }
    if (report.unreadable > 0) opts.logger.warn({ event: 'ipn.journal_unreadable', lines: report.unreadable }, 'unreadable IPN journal lines skipped');
    events.emit('drained', report);
  };

  const run = (): void => {
    running = (async () => {
      do {
        again = false;
        try {
          await drainOnce();
        } catch (e) {
          opts.logger.error({ event: 'ipn.apply_failed', err: e }, 'could not apply IPN journal; will retry');
          events.emit('busy', e);
          scheduleRetry();
        }
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
  };

  const kick = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    run();
  };

  return {
    kick,
    events,
    async close() {
      // Lets a drain in progress (and one asked for meanwhile) finish: what was acknowledged gets applied if it can.
      closing = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
      closed = true;
    },
  };
}
