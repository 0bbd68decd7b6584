#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { commandName, commandsFor } from './commands.js';
import { PaybatchError } from '../errors/paybatch-error.js';
import { stdinAsPath } from './stdin-file.js';
import { didYouMean } from '../lib/did-you-mean.js';

/** Turns anything thrown into one line on stderr and an exit code; a stack only with PAYBATCH_DEBUG=1. */
export function reportFatal(e: unknown): number {
  if (PaybatchError.is(e)) {
    process.stderr.write(`paybatch: ${e.message}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`paybatch: internal error: ${message} (set PAYBATCH_DEBUG=1 for details)\n`);
  if (process.env.PAYBATCH_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return 3;
}

/**
 * paybatch streams: its old generation grows by at most what survives instead of V8's up to four times, for a lower
 * peak RSS (the run and validate peak RSS rows, bench/notes.md). `validate` grows it by half, for its tighter memory;
 * the others double it: fewer major GCs, whose marking takes a core. `node --heap-growing-percent=N` still wins.
 */
function boundHeapGrowth(argv: readonly string[]): void {
  if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${commandName(argv) === 'validate' ? 50 : 100}`);
}

async function main(argv: string[]): Promise<void> {
  // The command's modules start loading before yargs does: a command may start work of its own meanwhile (validate
  // boots its reading thread).
  const commands = commandsFor(argv);
  commands.catch(() => {}); // awaited below: not an unhandled rejection while yargs loads
  const { default: yargs } = await import('yargs');
  let cli = yargs(argv)
    .scriptName('paybatch')
    .usage('$0 <command> [options]\n\nBulk Lyra payment orders (PayZen, Systempay, Sogecommerce, Scellius, Clic&Pay, Izipay …) from a CSV.')
    .strict()
    .demandCommand(1, 'Name a command: paybatch --help lists them.')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .help()
    .alias('h', 'help')
    .version()
    .fail((msg, err) => {
      // Ours, and bugs (TypeError …), pass through; yargs' own errors (YError) and the plain Errors thrown by
      // option checks and job-file reading are usage errors: one line, exit 2.
      if (err && (PaybatchError.is(err) || (err.name !== 'YError' && err.constructor !== Error))) throw err;
      const text = err?.message ?? msg;
      // At this point yargs holds the options of the command that failed.
      throw new PaybatchError('PB_USAGE', `${text}${optionTypoHint(text, cli)} (paybatch --help)`, 2);
    });
  for (const c of await commands) cli = cli.command(c);
  await cli.parseAsync();
}

/** yargs' "Unknown argument(s): curency" → ` — did you mean --currency?`, from the options the command has. */
function optionTypoHint(message: string, y: unknown): string {
  const m = /^Unknown arguments?: (.+)$/.exec(message);
  const known = (y as { getOptions?: () => { key?: Record<string, unknown> } }).getOptions?.().key;
  if (!m || !known) return '';
  const options = Object.keys(known).filter((k) => k.length > 1 && !/[A-Z]/.test(k));
  const fixes = m[1]!.split(', ').flatMap((typo) => {
    const near = didYouMean(typo, options);
    return near ? [`--${near} for --${typo}`] : [];
  });
  return fixes.length ? ` — did you mean ${fixes.join(', ')}?` : '';
}

/**
 * `paybatch status … | head`: the reader left, and what is left to print has no one to read it. The command still
 * finishes its work (report, ledger) and its exit code stands; only the printing stops, without a stack trace.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    });
  }
}

boundHeapGrowth(process.argv.slice(2));
ignoreClosedPipes();
// Not yargs/helpers' hideBin: under node it is slice(2), and loading it loads yargs' parser before the command.
main(stdinAsPath(process.argv.slice(2))).catch((e: unknown) => {
  process.exitCode = reportFatal(e);
});
