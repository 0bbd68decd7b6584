import type { LocalRun, LocalRunItem, LocalRunResult } from './local.js';

type Iterate = (settle: (r: LocalRunResult) => void, fail: (e: unknown) => void) => AsyncGenerator<LocalRunItem, LocalRunResult>;

/**
 * What both engines hand back: the outcomes to iterate once, and `result`, which settles when the iteration ends
 * (why the run stopped early, if it did). `iterate` calls `settle` or `fail` exactly once.
 */
export function runHandle(name: string, iterate: Iterate): LocalRun {
  let settle!: (r: LocalRunResult) => void;
  let fail!: (e: unknown) => void;
  const result = new Promise<LocalRunResult>((resolve, reject) => {
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
