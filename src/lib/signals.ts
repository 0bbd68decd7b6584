import { constants } from 'node:os';

/** The exit code of a process ended by `signal`, as shells report it: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * SIGINT / SIGTERM: the first aborts `controller` (in-flight requests finish and are recorded, the report is written);
 * the second exits at once (signalExitCode: every claim was durable before its request left), or calls `onSecond`.
 */
export function onStopSignals(controller: AbortController, onFirst: (signal: NodeJS.Signals) => void, onSecond?: (signal: NodeJS.Signals) => void): { dispose(): void } {
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (onSecond) return onSecond(signal);
      process.stderr.write(`paybatch: ${signal} again: quitting now; the ledger is safe, re-run to finish\n`);
      process.exit(signalExitCode(signal));
    }
    onFirst(signal);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** `onStopSignals` with its own controller and the usual line: for follow-up commands that write a report. */
export function abortOnSignals(what = 'finishing the calls in flight, then writing the report'): { signal: AbortSignal; stoppedBy(): NodeJS.Signals | undefined; dispose(): void } {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const handle = onStopSignals(controller, (sig) => {
    stoppedBy = sig;
    process.stderr.write(`paybatch: ${sig}: ${what} (again to quit at once)\n`);
  });
  return { signal: controller.signal, stoppedBy: () => stoppedBy, dispose: () => handle.dispose() };
}

/** For long-running commands (sandbox, ipn): resolves at the first SIGINT or SIGTERM, then lets them close cleanly. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
