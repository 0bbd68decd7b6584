import { signalExitCode } from '../cli/signals.js';

/**
 * SIGINT / SIGTERM abort the follow-up command cleanly: nothing new is started, calls in flight end, the report is
 * written with PENDING rows, exit 3. A second signal exits at once.
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const ctrl = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ctrl.signal.aborted) process.exit(signalExitCode(sig));
    process.stderr.write(`paybatch: ${sig}: finishing the calls in flight, then writing the report (again to quit at once)\n`);
    ctrl.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ctrl.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
