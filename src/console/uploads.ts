import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findRun } from '../app/run-history.js';

/** How long the console keeps what was uploaded to it. */
export interface UploadRetention {
  /** A file sent as a batch: the folder (input, report, rows to fix) stays this long after the batch ended. */
  keepSentMs: number;
  /** A file checked and never sent: removed this long after it was uploaded; sending it is refused from then on. */
  keepUnsentMs: number;
}

export const DEFAULT_RETENTION: UploadRetention = { keepSentMs: 30 * 86_400_000, keepUnsentMs: 24 * 3_600_000 };

/** What the sweep needs of an upload's upload.json. */
interface UploadFacts {
  createdAt?: string;
  batchId?: string;
}

export function uploadsDir(stateDir: string): string {
  return join(stateDir, 'console', 'uploads');
}

/**
 * Removes the uploads past their time: one never sent `keepUnsentMs` after it was uploaded, a sent one `keepSentMs`
 * after its batch ended (its report goes with it); a running batch's folder stays. Returns the ids removed.
 */
export async function sweepUploads(o: { stateDir: string; now: Date; retention: UploadRetention }): Promise<string[]> {
  const dir = uploadsDir(o.stateDir);
  const ids = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const id of ids) {
    const folder = join(dir, id);
    const until = await keptUntil(folder, o.stateDir, o.retention);
    if (until === undefined || until > o.now.getTime()) continue;
    await rm(folder, { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}

/** When the folder may go; undefined: not now, whatever the time (its batch runs, or it is not an upload folder). */
async function keptUntil(folder: string, stateDir: string, retention: UploadRetention): Promise<number | undefined> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  const facts = await readFile(join(folder, 'upload.json'), 'utf8').then(
    (t) => JSON.parse(t) as UploadFacts,
    () => undefined,
  );
  // No upload.json: an upload whose check failed or was cut short; it goes like one never sent.
  if (!facts?.batchId) {
    const created = facts?.createdAt ? Date.parse(facts.createdAt) : info.mtimeMs;
    return (Number.isNaN(created) ? info.mtimeMs : created) + retention.keepUnsentMs;
  }
  const run = await findRun(stateDir, facts.batchId);
  if (run?.state === 'running') return undefined;
  const ended = run ? Date.parse(run.endedAt ?? run.updatedAt) : info.mtimeMs;
  return ended + retention.keepSentMs;
}

/** Whether an upload is too old to be sent: the sweep may take it any moment, so it is checked again instead. */
export function tooOldToSend(createdAt: string | undefined, now: Date, retention: UploadRetention): boolean {
  return createdAt !== undefined && now.getTime() - Date.parse(createdAt) >= retention.keepUnsentMs;
}

/**
 * Sweeps now and then every hour (more often when a retention is shorter than two hours), until `stop`. A sweep that
 * fails (a folder it cannot remove) is reported and tried again at the next one.
 */
export function startUploadSweeper(o: { stateDir: string; retention: UploadRetention; now?: () => Date; onRemoved: (ids: string[]) => void; onError: (e: Error) => void }): { stop(): Promise<void> } {
  const now = o.now ?? (() => new Date());
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(() =>
      sweepUploads({ stateDir: o.stateDir, now: now(), retention: o.retention }).then(
        (ids) => (ids.length ? o.onRemoved(ids) : undefined),
        (e: Error) => o.onError(e),
      ),
    );
  };
  const everyMs = Math.max(1000, Math.min(3_600_000, o.retention.keepUnsentMs / 2, o.retention.keepSentMs / 2));
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  sweep();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
