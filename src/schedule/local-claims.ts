import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { slotStamp, type ScheduledJob } from './job.js';

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

/** A running slot's lock is touched this often… */
export const HEARTBEAT_MS = 10_000;
/** …and one untouched for this long belongs to a scheduler that died: the next slot may break it. */
export const STALE_MS = 60_000;

/** A slot taken by this process, or why not: another scheduler took it, or is still running an earlier slot of the job. */
export type SlotClaim = { kind: 'mine'; record: SlotRecord } | { kind: 'taken' } | { kind: 'busy'; running?: SlotRecord };

/**
 * A job's slots, claimed beside its reports (`OUTPUT/.schedule/JOB/SLOT.json`, O_EXCL, plus `running.lock`), so every
 * scheduler sharing that output fires a slot once and never overlaps a job's runs, whatever its state folder.
 */
export class LocalSlotClaims {
  private readonly dir: string;
  /** Where the job's slots were claimed before they moved beside its reports: `STATE/schedule/JOB`. */
  private readonly former: string | undefined;
  constructor(
    private readonly job: Pick<ScheduledJob, 'name' | 'output'>,
    stateDir?: string,
  ) {
    this.dir = join(job.output, '.schedule', job.name);
    this.former = stateDir ? join(stateDir, 'schedule', job.name) : undefined;
  }

  /** The last slot handled (claimed by anyone) or, for a job never fired, when it was first scheduled. */
  async handledUntil(now: Date): Promise<Date> {
    await mkdir(this.dir, { recursive: true });
    const registered = join(this.dir, 'registered');
    if (!(await exists(registered))) await this.importFormer();
    await createOnce(registered, `${now.toISOString()}\n`);
    const since = new Date((await readFile(registered, 'utf8')).trim());
    const last = await this.last();
    return last && new Date(last.slot) > since ? new Date(last.slot) : since;
  }

  /**
   * A job whose slots were claimed in the state folder (`STATE/schedule/JOB`): its registration and last slot are
   * copied here once, so that slot is neither run again nor forgotten by `--list`.
   */
  private async importFormer(): Promise<void> {
    if (!this.former) return;
    const since = await readFile(join(this.former, 'registered'), 'utf8').catch(() => undefined);
    const latest = await latestRecord(this.former);
    // The slot first: whoever then finds `registered` finds the slot too.
    if (latest) await createOnce(join(this.dir, latest.name), latest.text);
    if (since) await createOnce(join(this.dir, 'registered'), since);
  }

  /** Takes the job's lock, then the slot: a slot already taken, or a job still running another slot, is not ours. */
  async claim(slot: Date, now: Date): Promise<SlotClaim> {
    const record: SlotRecord = { job: this.job.name, slot: slot.toISOString(), host: hostname(), pid: process.pid, startedAt: now.toISOString() };
    await mkdir(this.dir, { recursive: true });
    if (!(await this.lock(record, now))) return { kind: 'busy', ...(await this.running().then((r) => (r ? { running: r } : {}))) };
    try {
      await writeFile(this.file(slot), `${JSON.stringify(record)}\n`, { flag: 'wx' });
      return { kind: 'mine', record };
    } catch (e) {
      await this.unlock(record);
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { kind: 'taken' };
      throw e;
    }
  }

  /** Keeps the job's lock fresh while its slot runs (see STALE_MS). */
  async heartbeat(now: Date): Promise<void> {
    await utimes(this.lockFile, now, now).catch(() => undefined);
  }

  async finish(record: SlotRecord): Promise<void> {
    const file = this.file(new Date(record.slot));
    await writeFile(`${file}.partial`, `${JSON.stringify(record)}\n`);
    await rename(`${file}.partial`, file);
    await this.unlock(record);
  }

  /** The latest slot claimed, with its outcome once it ended (in the state folder, for a job not scheduled here yet). */
  async last(): Promise<SlotRecord | undefined> {
    const latest = (await latestRecord(this.dir)) ?? (this.former ? await latestRecord(this.former) : undefined);
    return latest ? (JSON.parse(latest.text) as SlotRecord) : undefined;
  }

  private get lockFile(): string {
    return join(this.dir, 'running.lock');
  }

  private async lock(record: SlotRecord, now: Date): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockFile, `${JSON.stringify(record)}\n`, { flag: 'wx' });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      // A lock nobody touched for STALE_MS is a dead scheduler's: moved aside (one rename wins), then taken afresh.
      const s = await stat(this.lockFile).catch(() => undefined);
      if (s && now.getTime() - s.mtimeMs < STALE_MS) return false;
      const aside = `${this.lockFile}.stale-${hostname()}-${process.pid}-${now.getTime()}`;
      if (await rename(this.lockFile, aside).then(() => true, () => false)) await rm(aside, { force: true });
    }
    return false;
  }

  /** Removes the lock if it is still this slot's (a lock broken as stale and taken by another is left alone). */
  private async unlock(record: SlotRecord): Promise<void> {
    const held = await this.running();
    if (held && held.slot === record.slot && held.pid === record.pid && held.host === record.host) await rm(this.lockFile, { force: true });
  }

  private async running(): Promise<SlotRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.lockFile, 'utf8')) as SlotRecord;
    } catch {
      return undefined;
    }
  }

  private file(slot: Date): string {
    return join(this.dir, `${slotStamp(slot)}.json`);
  }
}

/** The newest slot file of a folder (names sort by time), if any. */
async function latestRecord(dir: string): Promise<{ name: string; text: string } | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const name = names.filter((n) => /^\d{8}T\d{6}Z\.json$/.test(n)).sort().at(-1);
  return name ? { name, text: await readFile(join(dir, name), 'utf8') } : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Writes a file unless it exists (O_EXCL): of two schedulers writing it, the first wins. */
async function createOnce(path: string, text: string): Promise<void> {
  await writeFile(path, text, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
}
