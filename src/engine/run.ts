import type { JudgedRow } from '../orders/types.js';
import type { RowOutcome } from './outcome.js';

/** What both engines yield: every row of the file, in input order, with its outcome. */
export interface RunItem {
  row: JudgedRow;
  outcome: RowOutcome;
}

export interface RunResult {
  /** Set when the run stopped early; the rows not sent were yielded as PENDING. */
  aborted?: { code: string; message: string };
}

/** The outcomes in input order; `result` settles once the iteration ended (also the generator's return value). */
export interface Run extends AsyncIterable<RunItem> {
  readonly result: Promise<RunResult>;
}


type Iterate = (settle: (r: RunResult) => void, fail: (e: unknown) => void) => AsyncGenerator<RunItem, RunResult>;

/**
 * What both engines hand back: the outcomes to iterate once, and `result`, which settles when the iteration ends
 * (why the run stopped early, if it did). `iterate` calls `settle` or `fail` exactly once.
 */
export function runHandle(name: string, iterate: Iterate): Run {
  let settle!: (r: RunResult) => void;
  let fail!: (e: unknown) => void;
  const result = new Promise<RunResult>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  // Read through the iteration's own error; an unobserved `result` must not crash the process.
  result.catch(() => undefined);
  let started = false;
  return {
    result,
    [Symbol.asyncIterator]() {
      if (started) throw new Error(`${name}: a run can be iterated once`);
      started = true;
      return iterate(settle, fail);
    },
  };
}
