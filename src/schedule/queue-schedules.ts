import type { RedisTarget } from '../engine/redis-preflight.js';
import type { ScheduledJob } from './job.js';
import type { SlotRecord } from './local-claims.js';

export async function registerJobs(_t: RedisTarget, _jobs: ScheduledJob[], _o: { prune: boolean; prefix?: string; onLine: (l: string) => void }): Promise<void> {
  throw new Error('todo');
}
export async function lastRuns(_t: RedisTarget, _jobs: ScheduledJob[], _prefix?: string): Promise<Map<string, SlotRecord | undefined>> {
  throw new Error('todo');
}
