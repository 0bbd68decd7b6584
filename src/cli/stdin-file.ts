import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../errors/paybatch-error.js';

/**
 * How `-` (standard input) reaches the commands: yargs reads a lone `-` as an empty option, so main.ts hands it over as
 * this path, which names the same thing.
 */
export const STDIN_PATH = '/dev/stdin';

/** The command line with a FILE `-` written as STDIN_PATH (a `-` that is the value of an option is left alone). */
export function stdinAsPath(argv: readonly string[]): string[] {
  return argv.map((a, i) => (a === '-' && i > 0 && !argv[i - 1]!.startsWith('-') ? STDIN_PATH : a));
}

/** An input FILE as a command uses it: `read` is what to open, `named` what its outputs are named after. */
export interface InputFile {
  read: string;
  named: string;
  /** Removes what `-` needed (the saved copy of standard input). */
  dispose(): Promise<void>;
}

/**
 * FILE, or `-` (STDIN_PATH): stdin saved to a temporary `stdin.csv` first (the reader sniffs its start, then reads from
 * the start). Outputs of `-` are named after `stdin.csv` in the current folder unless --out says otherwise.
 */
export async function openInputFile(file: string, stdin: NodeJS.ReadStream = process.stdin): Promise<InputFile> {
  if (file !== '-' && file !== STDIN_PATH) return { read: file, named: file, dispose: async () => undefined };
  if (stdin.isTTY) throw new ConfigError('PB_OPTION', 'FILE "-" reads the invoices from standard input: pipe a file in, e.g. paybatch validate - < invoices.csv');
  const dir = await mkdtemp(join(tmpdir(), 'paybatch-stdin-'));
  const read = join(dir, 'stdin.csv');
  try {
    await pipeline(stdin, createWriteStream(read));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new ConfigError('PB_OPTION', `FILE "-": standard input could not be read (${(e as Error).message})`);
  }
  return { read, named: resolve('stdin.csv'), dispose: () => rm(dir, { recursive: true, force: true }) };
}
