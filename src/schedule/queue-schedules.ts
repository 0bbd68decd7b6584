import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { Queue, Worker, type Job } from '../engine/queue/bullmq.js';
import { DEFAULT_PREFIX } from '../engine/queue/keys.js';
import { connectRedis, safeRedisUrl, type RedisTarget } from '../redis/connect.js';
import type { Logger } from '../log/logger.js';
import { inZone, readScheduledJob, type ScheduledJob } from './job.js';
import { LATE_MS } from './local-scheduler.js';
import type { SlotRecord } from './local-claims.js';
import { postWebhook, WEBHOOK_SECRET } from './notify.js';
import { runSlot } from './run-slot.js';

/**
 * The BullMQ queue whose job schedulers are the job files (ids: the job names), under the default prefix where a slot's
 * run queues its rows.
 */
const SCHEDULE_QUEUE = 'schedules';

interface SlotData {
  /** The job file, read by the worker that takes the slot (the same path on every machine that runs schedules). */
  path: string;
}

const keys = {
  /** (job, slot) → the BullMQ job id that took it: a slot runs once, and a slot retaken after a crash resumes. */
  claim: (job: string, slot: Date) => `${DEFAULT_PREFIX}:${SCHEDULE_QUEUE}:pb:claim:${job}:${slot.getTime()}`,
  /** Hash job → its last SlotRecord (JSON), for `--list`. */
  last: `${DEFAULT_PREFIX}:${SCHEDULE_QUEUE}:pb:last`,
};

/**
 * Registers each job file as a BullMQ job scheduler (upsert by job name: editing a file and registering again updates
 * it, never adds a second). `prune` removes the schedulers of this Redis whose job file is not among `jobs`.
 */
export async function registerJobs(target: RedisTarget, jobs: ScheduledJob[], opts: { prune: boolean; onLine: (line: string) => void }): Promise<void> {
  const redis = await connectRedis(target, 'producer');
  const queue = new Queue<SlotData>(SCHEDULE_QUEUE, { connection: redis, prefix: DEFAULT_PREFIX });
  try {
    for (const job of jobs) {
      const next = await queue.upsertJobScheduler(job.name, { pattern: job.schedule, tz: job.timezone }, { name: job.name, data: { path: job.path }, opts: { removeOnComplete: 100, removeOnFail: 100 } });
      // The slot is the last part of the job's id; its timestamp plus delay is computed a moment off and can say 07:59:59.
      const slot = Number(String(next?.id ?? '').split(':').at(-1));
      const at = Number.isFinite(slot) && slot > 0 ? new Date(slot) : undefined;
      opts.onLine(`${job.name}: registered on ${safeRedisUrl(target.url)} ("${job.schedule}", ${job.timezone})${at ? `, next ${inZone(at, job.timezone)}` : ''}`);
    }
    if (opts.prune) {
      const names = new Set(jobs.map((j) => j.name));
      for (const s of await queue.getJobSchedulers()) {
        const id = s.id ?? s.key;
        if (names.has(id)) continue;
        await queue.removeJobScheduler(id);
        opts.onLine(`${id}: unregistered (no job file for it)`);
      }
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export async function lastRuns(target: RedisTarget, jobs: ScheduledJob[]): Promise<Map<string, SlotRecord | undefined>> {
  const redis = await connectRedis(target, 'producer');
  try {
    const all = await redis.hgetall(keys.last);
    return new Map(jobs.map((j) => [j.name, all[j.name] ? (JSON.parse(all[j.name]!) as SlotRecord) : undefined]));
  } finally {
    redis.disconnect();
  }
}

/**
 * Takes the slots for `worker --schedules` and `serve --schedules --redis`, each a queued `paybatch run` of the job
 * file. A slot whose worker died is taken again by another; the ledger keeps its orders from being sent twice.
 */
export function startScheduleWorker(opts: {
  redis: Redis;
  target: RedisTarget;
  logger: Logger;
  signal: AbortSignal;
  /** Worker threads each slot's run starts for itself (`run --workers`); default 0: the queue's workers send its rows. */
  workers?: number;
  /** The lock of a slot's job, ms: a worker killed mid-slot loses it this long after (worker --lock-ms). */
  lockDurationMs?: number;
}): Worker<SlotData> {
  const log = opts.logger;
  const processor = async (bullJob: Job<SlotData>) => {
    const slot = new Date(Number(String(bullJob.id).split(':').at(-1)));
    let job: ScheduledJob;
    try {
      job = readScheduledJob(bullJob.data.path);
    } catch (e) {
      // The job file went missing or bad after it was registered: one line each slot, shown by --list; the next slot
      // still fires, and finds the file fixed (or `schedule --prune` unregisters it).
      const message = (e as Error).message;
      const at = new Date().toISOString();
      await opts.redis.hset(keys.last, bullJob.name, JSON.stringify({ job: bullJob.name, slot: slot.toISOString(), host: hostname(), pid: process.pid, startedAt: at, endedAt: at, outcome: 'failed', message } satisfies SlotRecord));
      log.error({ event: 'schedule.slot.failed', job: bullJob.name, slot: slot.toISOString() }, `${bullJob.name}: slot ${slot.toISOString()} not run: ${message}`);
      return;
    }
    const claimed = await opts.redis.set(keys.claim(job.name, slot), String(bullJob.id), 'EX', 30 * 86_400, 'NX');
    if (claimed !== 'OK' && (await opts.redis.get(keys.claim(job.name, slot))) !== String(bullJob.id)) {
      log.info({ event: 'schedule.slot.taken', job: job.name, slot: slot.toISOString() }, `${job.name}: slot ${inZone(slot, job.timezone)} already taken`);
      return;
    }
    const record: SlotRecord = { job: job.name, slot: slot.toISOString(), host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
    const late = Date.now() - slot.getTime() > LATE_MS;
    if (late && job.missed === 'skip') {
      await opts.redis.hset(keys.last, job.name, JSON.stringify({ ...record, endedAt: record.startedAt, outcome: 'skipped', message: 'missed while no worker ran; the job skips missed slots' }));
      log.warn({ event: 'schedule.slot.skipped', job: job.name, slot: record.slot }, `${job.name}: slot ${inZone(slot, job.timezone)} was missed while no worker ran: skipped`);
      return;
    }
    await opts.redis.hset(keys.last, job.name, JSON.stringify(record));
    log.info({ event: 'schedule.run.start', job: job.name, slot: record.slot, late }, `${job.name}: slot ${inZone(slot, job.timezone)}`);
    const result = await runSlot(job, slot, { signal: opts.signal, extraArgs: ['--redis', opts.target.url, '--workers', String(opts.workers ?? 0), ...(opts.target.mayLoseClaims ? ['--redis-may-lose-claims'] : [])] });
    const ended: SlotRecord = { ...record, endedAt: new Date().toISOString(), outcome: result.outcome, exitCode: result.exitCode, message: result.message };
    await opts.redis.hset(keys.last, job.name, JSON.stringify(ended));
    const fields = { event: 'schedule.run.end', job: job.name, slot: ended.slot, outcome: result.outcome, exitCode: result.exitCode };
    const line = `${job.name}: slot ${inZone(slot, job.timezone)} ${result.outcome} (exit ${result.exitCode}): ${result.message}`;
    if (result.outcome === 'done') log.info(fields, line);
    else log.error(fields, line);
    const secret = process.env[WEBHOOK_SECRET]?.trim();
    if (job.webhook && !secret) log.error({ event: 'schedule.webhook.failed', job: job.name }, `${job.name}: not notified: set ${WEBHOOK_SECRET} on the workers`);
    if (job.webhook && secret) {
      void postWebhook(job.webhook, { ...ended, timezone: job.timezone, batches: result.batches }, secret, undefined, (attempt, why) =>
        log.warn({ event: 'schedule.webhook.retry', job: job.name, attempt }, `${job.name}: webhook not delivered (${why}), attempt ${attempt}`),
      );
    }
  };
  // One slot at a time per worker; a slot's lock is renewed while its batch runs, and a slot whose worker died is taken
  // again (up to 10 times) rather than failed, once its lock lapsed (the worker's --lock-ms, BullMQ's 30 s by default).
  const lock = opts.lockDurationMs ? { lockDuration: opts.lockDurationMs, stalledInterval: opts.lockDurationMs } : {};
  return new Worker<SlotData>(SCHEDULE_QUEUE, processor, { connection: opts.redis, prefix: DEFAULT_PREFIX, concurrency: 1, maxStalledCount: 10, ...lock });
}
