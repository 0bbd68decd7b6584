import { createInterface } from 'node:readline';
import { PaybatchError } from '../errors/paybatch-error.js';

export interface ConfirmOptions {
  question: string;
  /** --yes: no question asked. */
  yes: boolean;
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * Asks the operator before an irreversible bulk action. Only a terminal is asked: without one (cron, CI, a pipe)
 * and without --yes it refuses at once with a clear message, so a scheduled job never hangs on a question.
 */
export async function confirm(opts: ConfirmOptions): Promise<boolean> {
  if (opts.yes) return true;
  if (!opts.input.isTTY) {
    throw new PaybatchError('PB_CONFIRM_NEEDS_TTY', 'this would change orders and no terminal is there to confirm: add --yes (or --dry-run to see what would be done)', 2);
  }
  const rl = createInterface({ input: opts.input, output: opts.output, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(`${opts.question} [y/N] `, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^\s*(y|yes|o|oui)\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
