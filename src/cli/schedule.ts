import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { createLogger } from '../log/logger.js';
import { inZone, jobFilesIn, readScheduledJob, slotAfter, type ScheduledJob } from '../schedule/job.js';
import { LocalSlotClaims, type SlotRecord } from '../schedule/local-claims.js';
import { webhookSecret } from '../schedule/notify.js';
import { parseRunArgs } from '../schedule/run-slot.js';
import { useEnvFile } from '../settings/settings.js';
import { onStopSignals } from '../lib/signals.js';

interface ScheduleArgs {
  jobs: string[];
  list: boolean;
  redis?: string;
  prune: boolean;
  'state-dir'?: string;
  'env-file'?: string;
}

/**
 * `paybatch schedule jobs/`: fires the job files that carry a `schedule`. Without Redis this process runs them until
 * stopped; with --redis it registers BullMQ job schedulers and exits, and `paybatch worker`s run the slots.
 */
export const scheduleCommand: CommandModule<object, ScheduleArgs> = {
  command: 'schedule <jobs..>',
  describe: 'run the job files (jobs/*.json) at their "schedule": here until stopped, or registered on Redis for `paybatch worker`s',
  builder: (y) =>
    y
      .positional('jobs', { type: 'string', array: true, describe: 'job files, or folders of them (*.json)' })
      .option('list', { type: 'boolean', default: false, describe: 'show each job, its next fire time in its time zone and its last run, then exit' })
      .option('redis', { type: 'string', requiresArg: true, describe: 'register the jobs as BullMQ job schedulers on this Redis (env REDIS_URL is NOT read: queue mode is asked for explicitly) and exit; `paybatch worker`s run them' })
      .option('prune', { type: 'boolean', default: false, describe: 'with --redis: unregister the jobs of this Redis that are not among the job files given' })
      .option('state-dir', { type: 'string', requiresArg: true, describe: 'where the runs\' ledger is kept (env PAYBATCH_STATE_DIR; a job file\'s own "state-dir" wins for its runs); slots are claimed beside each job\'s reports', defaultDescription: '~/.local/state/paybatch' })
      .option('env-file', { type: 'string', requiresArg: true, describe: 'a KEY=value file read into the environment of every run (credentials, PAYBATCH_WEBHOOK_SECRET)' })
      .example('$0 schedule jobs/', 'fire every job of jobs/ on time, on this machine, until stopped')
      .example('$0 schedule jobs/ --redis redis://queue:6379', 'register them; `paybatch worker`s on any machine run them')
      .example('$0 schedule jobs/ --list', 'next fire times and last outcomes') as never,
  handler: async (argv) => {
    process.exitCode = await schedule(argv);
  },
};

async function schedule(argv: ScheduleArgs): Promise<number> {
  if (argv['env-file']) useEnvFile(argv['env-file']);
  const jobs = await checkedJobs(jobFilesIn(argv.jobs), argv.redis);
  // The runs' ledger, unless a job file names its own "state-dir". Slots are claimed beside each job's reports (those
  // an earlier version claimed in the state folder are carried over).
  if (argv['state-dir']) process.env.PAYBATCH_STATE_DIR = argv['state-dir'];
  if (argv.redis) {
    const queue = await import('../schedule/queue-schedules.js');
    const target = { url: argv.redis, source: '--redis' };
    if (argv.list) return printList(jobs, await queue.lastRuns(target, jobs));
    await queue.registerJobs(target, jobs, { prune: argv.prune, onLine: (l) => process.stdout.write(`${l}\n`) });
    return 0;
  }
  if (argv.prune) throw new ConfigError('PB_OPTION', '--prune unregisters jobs from Redis: give --redis too');
  const stateDir = defaultStateDir(process.env);
  if (argv.list) return printList(jobs, new Map(await Promise.all(jobs.map(async (j) => [j.name, await new LocalSlotClaims(j, stateDir).last()] as const))));
  const secret = jobs.some((j) => j.webhook) ? webhookSecret(process.env, jobs.find((j) => j.webhook)!.path) : undefined;
  const stop = new AbortController();
  const logger = createLogger({ name: 'paybatch-schedule' });
  const signals = onStopSignals(stop, (sig) => logger.info({ event: 'schedule.stopping', signal: sig }, `${sig}: no new slot fires; runs in progress stop sending and write their reports (again to quit at once)`));
  try {
    const { runLocalScheduler } = await import('../schedule/local-scheduler.js');
    await runLocalScheduler({ jobs, stateDir, logger, signal: stop.signal, ...(secret ? { webhookSecret: secret } : {}) });
  } finally {
    signals.dispose();
  }
  logger.info({ event: 'schedule.stopped' }, 'paybatch schedule stopped');
  return 0;
}

/**
 * Every job file checked before anything fires: its schedule keys, its run options (by `run`'s own parser, so a typo
 * is refused now rather than at 08:00 on the 1st), and the webhook secret if it notifies.
 */
export async function checkedJobs(paths: string[], redis: string | undefined): Promise<ScheduledJob[]> {
  const jobs: ScheduledJob[] = [];
  for (const path of paths) {
    const job = readScheduledJob(path);
    try {
      await parseRunArgs(['run', ...(job.dropPattern ? ['placeholder.csv'] : []), '--job', path, ...(redis ? ['--redis', redis] : [])]);
    } catch (e) {
      throw new ConfigError('PB_JOB_FILE', (e as Error).message.startsWith('--job ') ? (e as Error).message.slice('--job '.length) : `${path}: ${(e as Error).message}`);
    }
    if (job.webhook) webhookSecret(process.env, path);
    jobs.push(job);
  }
  return jobs;
}

function printList(jobs: ScheduledJob[], last: Map<string, SlotRecord | undefined>): number {
  const now = new Date();
  const lines = jobs.map((job) => {
    const l = last.get(job.name);
    const lastRun = !l ? 'never run' : l.outcome ? `${l.outcome}${l.exitCode !== undefined ? ` (exit ${l.exitCode})` : ''} at ${inZone(new Date(l.slot), job.timezone)}${l.message ? `: ${l.message}` : ''}` : `running since ${inZone(new Date(l.startedAt), job.timezone)} (${l.host})`;
    return `${job.name}  "${job.schedule}"  next ${inZone(slotAfter(job, now), job.timezone)}  last: ${lastRun}`;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
