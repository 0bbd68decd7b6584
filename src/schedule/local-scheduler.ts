import type { Logger } from '../log/logger.js';
import { inZone, slotAfter, slotAtOrBefore, type ScheduledJob } from './job.js';
import { HEARTBEAT_MS, LocalSlotClaims, type SlotRecord } from './local-claims.js';
import { postWebhook, type WebhookPolicy } from './notify.js';
import { runSlot, type SlotResult } from './run-slot.js';

/** A slot found this long after its time was missed (nothing ran then): the job's `missed` decides. */
export const LATE_MS = 60_000;

export interface LocalSchedulerOptions {
  jobs: ScheduledJob[];
  /** The state folder: slots claimed there before they moved beside the reports are carried over (LocalSlotClaims). */
  stateDir?: string;
  logger: Logger;
  signal: AbortSignal;
  /** The key webhooks are signed with (checked at start when a job has one). */
  webhookSecret?: string;
  webhookPolicy?: WebhookPolicy;
  now?: () => Date;
  /** How often the clock is read; a slot fires within this of its time. */
  tickMs?: number;
}

/**
 * Fires each job at its slots with the embedded engine until `signal`, each slot claimed first. Missed slots are one
 * slot to catch up (or skip), not one per minute; a failed run is logged, notified and followed by the next slot.
 */
export async function runLocalScheduler(opts: LocalSchedulerOptions): Promise<void> {
  const now = opts.now ?? (() => new Date());
  const claimsOf = new Map(opts.jobs.map((job) => [job.name, new LocalSlotClaims(job, opts.stateDir)]));
  const handled = new Map<string, Date>();
  for (const job of opts.jobs) handled.set(job.name, await claimsOf.get(job.name)!.handledUntil(now()));
  const running = new Map<string, Promise<void>>();
  const notices = new Set<Promise<unknown>>();
  const log = opts.logger;

  const fire = async (job: ScheduledJob, slot: Date, late: boolean) => {
    const claims = claimsOf.get(job.name)!;
    const claim = await claims.claim(slot, now());
    if (claim.kind === 'taken') {
      log.info({ event: 'schedule.slot.taken', job: job.name, slot: slot.toISOString() }, `${job.name}: slot ${inZone(slot, job.timezone)} already taken by another scheduler`);
      return;
    }
    if (claim.kind === 'busy') {
      const by = claim.running ? `slot ${inZone(new Date(claim.running.slot), job.timezone)} on ${claim.running.host} (pid ${claim.running.pid})` : 'an earlier slot';
      log.info({ event: 'schedule.slot.busy', job: job.name, slot: slot.toISOString() }, `${job.name}: slot ${inZone(slot, job.timezone)} left to the scheduler still running ${by}: it runs the latest slot once done`);
      return;
    }
    const mine = claim.record;
    const record = mine;
    if (late && job.missed === 'skip') {
      await claims.finish({ ...mine, endedAt: now().toISOString(), outcome: 'skipped', message: 'missed while no scheduler ran; the job skips missed slots' });
      log.warn({ event: 'schedule.slot.skipped', job: job.name, slot: record.slot }, `${job.name}: slot ${inZone(slot, job.timezone)} was missed while no scheduler ran: skipped (missed: "skip")`);
      return;
    }
    log.info({ event: 'schedule.run.start', job: job.name, slot: record.slot, late }, `${job.name}: ${late ? 'catching up the slot missed while no scheduler ran, ' : ''}slot ${inZone(slot, job.timezone)}`);
    let result: SlotResult;
    const beat = setInterval(() => void claims.heartbeat(now()), HEARTBEAT_MS);
    try {
      result = await runSlot(job, slot, { signal: opts.signal, now });
    } catch (e) {
      result = { outcome: 'failed', exitCode: 3, batches: [], message: `internal error: ${(e as Error).message}` };
    } finally {
      clearInterval(beat);
    }
    const ended: SlotRecord = { ...mine, endedAt: now().toISOString(), outcome: result.outcome, exitCode: result.exitCode, message: result.message };
    await claims.finish(ended);
    const line = `${job.name}: slot ${inZone(slot, job.timezone)} ${result.outcome} (exit ${result.exitCode}): ${result.message}`;
    const fields = { event: 'schedule.run.end', job: job.name, slot: ended.slot, outcome: result.outcome, exitCode: result.exitCode, reports: result.batches.map((b) => b.summary).filter(Boolean) };
    if (result.outcome === 'done') log.info(fields, line);
    else log.error(fields, line);
    if (job.webhook && opts.webhookSecret) {
      const payload = { ...ended, timezone: job.timezone, batches: result.batches };
      const notice = postWebhook(job.webhook, payload, opts.webhookSecret, opts.webhookPolicy, (attempt, why) =>
        log.warn({ event: 'schedule.webhook.retry', job: job.name, attempt }, `${job.name}: webhook not delivered (${why}), attempt ${attempt}`),
      ).then((ok) => {
        if (!ok) log.error({ event: 'schedule.webhook.failed', job: job.name, slot: ended.slot }, `${job.name}: webhook never delivered for slot ${ended.slot}; the run's outcome is in this log and in --list`);
      });
      notices.add(notice);
      void notice.finally(() => notices.delete(notice));
    }
  };

  const tick = () => {
    const t = now();
    for (const job of opts.jobs) {
      if (running.has(job.name) || opts.signal.aborted) continue;
      const slot = slotAtOrBefore(job, t);
      if (slot <= handled.get(job.name)!) continue;
      handled.set(job.name, slot);
      const late = t.getTime() - slot.getTime() > LATE_MS;
      const p = fire(job, slot, late)
        .catch((e: Error) => log.error({ event: 'schedule.error', job: job.name }, `${job.name}: ${e.message}`))
        .finally(() => running.delete(job.name));
      running.set(job.name, p);
    }
  };

  for (const job of opts.jobs) {
    log.info({ event: 'schedule.job', job: job.name, next: slotAfter(job, now()).toISOString() }, `${job.name}: "${job.schedule}" (${job.timezone}), next ${inZone(slotAfter(job, now()), job.timezone)}`);
  }
  log.info({ event: 'schedule.ready', jobs: opts.jobs.length }, `paybatch schedule ready: ${opts.jobs.length} job${opts.jobs.length === 1 ? '' : 's'}`);
  const timer = setInterval(tick, opts.tickMs ?? 250);
  tick();
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await Promise.all(running.values());
  await Promise.race([Promise.all(notices), new Promise((r) => setTimeout(r, 2000).unref())]);
}
