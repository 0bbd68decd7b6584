import type { Stats } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import { PaybatchError } from '../errors/paybatch-error.js';

/**
 * Moves a finished file `from` (a temporary name) to `to`, removing `to` first: on ext4 a rename over a file flushes
 * the new data first (slow for big reports). A crash between leaves it whole under `from`. Regular files only.
 */
export async function replaceFile(from: string, to: string): Promise<void> {
  const there = await lstat(to).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  const kind = there && notRegular(there);
  if (kind) throw new PaybatchError('PB_OUTPUT', `${to} is ${kind}: paybatch replaces only regular files; the new file is left complete as ${from}`, 3);
  await rm(to, { force: true });
  await rename(from, to);
}

/** What a non-regular file is, in words for a message; undefined for a regular file. */
export function notRegular(s: Stats): string | undefined {
  if (s.isFile()) return undefined;
  if (s.isDirectory()) return 'a folder';
  if (s.isSymbolicLink()) return 'a symbolic link';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
