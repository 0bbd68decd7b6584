import { NOT_DONE, type FollowResult } from './types.js';

/**
 * The same rules as `run`: 0 every row done, 1 some rows not done (FAILED, UNCERTAIN, PENDING), 3 the run was
 * aborted (authentication failure, signal). 2 (usage, config, file) is thrown as a PaybatchError before any row.
 */
export function followExitCode(run: { rows: readonly { result: FollowResult }[]; authFailure?: unknown; aborted: boolean }): 0 | 1 | 3 {
  if (run.authFailure || run.aborted) return 3;
  return run.rows.some((r) => NOT_DONE.has(r.result)) ? 1 : 0;
}
