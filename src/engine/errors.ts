import { PaybatchError } from '../errors/paybatch-error.js';
import type { RowOutcome } from './outcome.js';

export const RUN_ABORTED = 'RunAbortedError' as const;

/**
 * The run must stop at once (exit 3): PB_AUTH, PB_LEDGER_WRITE, PB_CIRCUIT_OPEN, PB_INTERRUPTED_RUN; unsent rows stay
 * resumable. `outcome`, when set, is what is known of the row that raised it (e.g. CREATED, not recorded).
 */
export class RunAbortedError extends PaybatchError {
  readonly kind = RUN_ABORTED;
  readonly outcome?: RowOutcome;

  constructor(code: string, message: string, extra: { outcome?: RowOutcome; cause?: unknown } = {}) {
    super(code, message, 3);
    if (extra.outcome) this.outcome = extra.outcome;
    if (extra.cause !== undefined) (this as { cause?: unknown }).cause = extra.cause;
  }

  static override is(e: unknown): e is RunAbortedError {
    return e instanceof RunAbortedError || (typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === RUN_ABORTED);
  }
}
