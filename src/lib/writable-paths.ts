import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rm, stat, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors/paybatch-error.js';
import { notRegular } from './replace-file.js';

/*
 * Every path a command will write, checked before the first order is sent (a report that cannot be written would leave
 * orders sent and nothing to show). One line naming the path, the setting and the fix; exit 2.
 */

/** A file a command writes (a report, the rows to fix, a summary): replaced at the end of the command. */
export interface OutputFile {
  path: string;
  /** The flag or setting that names it, e.g. `--out`. */
  setting: string;
  /** Free space its folder must have at least (the report repeats every input row: at least the input's size). */
  atLeastBytes?: number;
}

/** Room every written folder must have whatever the file: a report's header, a ledger's first records. */
const FLOOR_BYTES = 1024 * 1024;

/**
 * Refuses, with one line, an output path that is not a regular file or a new name in a writable folder with room: a
 * folder, a symbolic link, a FIFO, a socket or a device is never replaced by a report.
 */
export async function checkOutputFile(out: OutputFile): Promise<void> {
  const where = `${out.setting} ${out.path}`;
  const existing = await lstatOrNone(out.path, where);
  if (existing) {
    const kind = notRegular(existing);
    if (kind) throw new ConfigError('PB_OUTPUT', `${where} is ${kind}: paybatch writes its reports as regular files and replaces them; name a regular file or a new name. Nothing was sent.`);
  }
  const folder = dirname(resolve(out.path));
  const folderStats = await statOrNone(folder, where);
  if (!folderStats) throw new ConfigError('PB_OUTPUT', `${where}: the folder ${folder} does not exist; create it or choose another path. Nothing was sent.`);
  if (!folderStats.isDirectory()) throw new ConfigError('PB_OUTPUT', `${where}: ${folder} is not a folder; choose another path. Nothing was sent.`);
  await probeFolder(folder, `${where}: cannot write in the folder ${folder}`, 'choose a writable folder');
  await checkRoom(folder, Math.max(FLOOR_BYTES, out.atLeastBytes ?? 0), `${where}: the disk of ${folder} is full`, 'free some space or choose another folder');
}

/** Every output file, then the state folder (when the ledger lives there). */
export async function checkWritablePaths(files: readonly OutputFile[], stateDir?: { path: string; setting: string }): Promise<void> {
  for (const f of files) await checkOutputFile(f);
  if (stateDir) await checkStateFolder(stateDir.path, stateDir.setting);
}

/**
 * The folder of the ledger (and the IPN inbox): created if missing, as the ledger would, then proved writable by
 * writing in it.
 */
export async function checkStateFolder(dir: string, setting: string): Promise<void> {
  const where = `the state folder ${dir} (${setting})`;
  const fix = `the ledger is written there: choose a writable folder with ${setting}`;
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    // A recursive mkdir names no cause on a read-only disk (ENOENT): the nearest folder that exists tells it.
    const ancestor = await nearestExisting(dir);
    if (ancestor?.isDirectory) await probeFolder(ancestor.path, `${where} cannot be created in ${ancestor.path}`, fix, 'PB_STATE_DIR');
    throw new ConfigError('PB_STATE_DIR', `${where} cannot be created (${ancestor && !ancestor.isDirectory ? `${ancestor.path} is a file, not a folder` : reason(e)}); ${fix}. Nothing was sent.`);
  }
  const s = await stat(dir);
  if (!s.isDirectory()) throw new ConfigError('PB_STATE_DIR', `${where} is not a folder; ${fix}. Nothing was sent.`);
  await probeFolder(dir, `${where} cannot be written`, fix, 'PB_STATE_DIR');
  await checkRoom(dir, FLOOR_BYTES, `${where}: its disk is full`, `free some space or ${fix}`, 'PB_STATE_DIR');
}

/**
 * Creates and removes a file in `folder`: the one test that also answers for read-only mounts, ACLs and quotas. Its
 * name is unique per check: one process (a scheduler) may start two runs writing in the same folder at once.
 */
async function probeFolder(folder: string, what: string, fix: string, code = 'PB_OUTPUT'): Promise<void> {
  const probe = join(folder, `.paybatch-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(probe, 'wx');
    await fh.close();
  } catch (e) {
    throw new ConfigError(code, `${what} (${reason(e)}); ${fix}. Nothing was sent.`);
  }
  await rm(probe, { force: true });
}

async function nearestExisting(path: string): Promise<{ path: string; isDirectory: boolean } | undefined> {
  for (let p = resolve(path); ; p = dirname(p)) {
    const s = await stat(p).catch(() => undefined);
    if (s) return { path: p, isDirectory: s.isDirectory() };
    if (dirname(p) === p) return undefined;
  }
}

async function checkRoom(folder: string, bytes: number, what: string, fix: string, code = 'PB_OUTPUT'): Promise<void> {
  const fs = await statfs(folder);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) throw new ConfigError(code, `${what} (${mb(free)} free, at least ${mb(bytes)} needed); ${fix}. Nothing was sent.`);
}

async function lstatOrNone(path: string, where: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    if (errnoOf(e) === 'ENOTDIR') throw new ConfigError('PB_OUTPUT', `${where}: a part of the path is not a folder; choose another path. Nothing was sent.`);
    throw new ConfigError('PB_OUTPUT', `${where} cannot be checked (${reason(e)}); choose another path. Nothing was sent.`);
  }
}

async function statOrNone(path: string, where: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    if (errnoOf(e) === 'ENOTDIR') throw new ConfigError('PB_OUTPUT', `${where}: a part of the path is not a folder; choose another path. Nothing was sent.`);
    throw new ConfigError('PB_OUTPUT', `${where} cannot be checked (${reason(e)}); choose another path. Nothing was sent.`);
  }
}

function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? ((e as NodeJS.ErrnoException).code ?? undefined) : undefined;
}

/** The cause in words, never a stack: `read-only file system`, `permission denied` … */
function reason(e: unknown): string {
  switch (errnoOf(e)) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the disk';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EEXIST':
      return 'a file of that name is in the way';
    default:
      return errnoOf(e) ?? (e instanceof Error ? e.message : String(e));
  }
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
