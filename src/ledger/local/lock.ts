import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { PaybatchError } from '../../errors/paybatch-error.js';

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * One process per ledger: a lock file with the owner's pid, created whole (temp file, then hard link). A dead pid's
 * lock is taken over, a live one refused with its pid; two takers of one stale lock at once is an accepted race.
 */
export async function acquireLock(path: string, dirForMessage: string): Promise<HeldLock> {
  const mine = String(process.pid);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${mine}\n`, { mode: 0o600 });
  try {
    for (let tries = 0; tries < 5; tries++) {
      try {
        await link(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = await readPid(path);
        if (holder === undefined) continue; // removed meanwhile: try again
        if (holder !== process.pid && !isAlive(holder)) {
          await unlink(path).catch(ignoreMissing);
          continue;
        }
        throw new PaybatchError(
          'PB_LEDGER_LOCKED',
          `another paybatch run (pid ${holder}) is using ${dirForMessage}; wait for it to finish, or if no paybatch is running remove ${path}`,
        );
      }
      if ((await readPid(path)) !== process.pid) continue;
      return {
        path,
        async release() {
          if ((await readPid(path)) === process.pid) await unlink(path).catch(ignoreMissing);
        },
      };
    }
    throw new PaybatchError('PB_LEDGER_LOCKED', `could not take the lock ${path}: it keeps changing; is another paybatch starting?`);
  } finally {
    await unlink(tmp).catch(ignoreMissing);
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ignoreMissing(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}
