import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { slotStamp } from './job.js';

/** How a slot ended, as `--list` and the webhook show it. */
export interface SlotRecord {
  job: string;
  slot: string;
  host: string;
  pid: number;
  startedAt: string;
  endedAt?: string;
  /** done: every row CREATED; failed: rows to fix or a run that could not start; stopped: the run was stopped; skipped: a missed slot the job skips. */
  outcome?: 'done' | 'failed' | 'stopped' | 'skipped';
  exitCode?: number;
  message?: string;
}

/**
 * The slots of the jobs on this machine, one file per (job, slot) in the state folder (schedule/JOB/SLOT.json). The
 * file is created exclusively: of two schedulers on the same state folder (a restart in the same minute, two started
 * by mistake) one takes the slot, the other sees it taken. `registered` is when the job was first scheduled here: no
 * slot before it is a missed one.
 */
export class LocalSlotClaims {
  constructor(private readonly stateDir: string) {}

  private dir(job: string): string {
    return join(this.stateDir, 'schedule', job);
  }

  /** The last slot handled (claimed by anyone) or, for a job never fired here, when it was first scheduled. */
  async handledUntil(job: string, now: Date): Promise<Date> {
    const dir = this.dir(job);
    await mkdir(dir, { recursive: true });
    const registered = join(dir, 'registered');
    await writeFile(registered, `${now.toISOString()}\n`, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const since = new Date((await readFile(registered, 'utf8')).trim());
    const last = await this.last(job);
    return last && new Date(last.slot) > since ? new Date(last.slot) : since;
  }

  /** The record of the slot when this process took it; undefined when another scheduler has it. */
  async claim(job: string, slot: Date, now: Date): Promise<SlotRecord | undefined> {
    const record: SlotRecord = { job, slot: slot.toISOString(), host: hostname(), pid: process.pid, startedAt: now.toISOString() };
    await mkdir(this.dir(job), { recursive: true });
    try {
      await writeFile(this.file(job, slot), `${JSON.stringify(record)}\n`, { flag: 'wx' });
      return record;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw e;
    }
  }

  async finish(record: SlotRecord): Promise<void> {
    const file = this.file(record.job, new Date(record.slot));
    await writeFile(`${file}.partial`, `${JSON.stringify(record)}\n`);
    await rename(`${file}.partial`, file);
  }

  /** The latest slot claimed, with its outcome once it ended. */
  async last(job: string): Promise<SlotRecord | undefined> {
    const names = await readdir(this.dir(job)).catch(() => [] as string[]);
    const latest = names.filter((n) => /^\d{8}T\d{6}Z\.json$/.test(n)).sort().at(-1);
    if (!latest) return undefined;
    return JSON.parse(await readFile(join(this.dir(job), latest), 'utf8')) as SlotRecord;
  }

  private file(job: string, slot: Date): string {
    return join(this.dir(job), `${slotStamp(slot)}.json`);
  }
}
