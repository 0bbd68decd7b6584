/**
 * Joins `line` — a FIFO of wake-up functions that its owner calls, oldest first — and resolves once woken. On abort it
 * leaves the line (so nobody wakes a waiter that is gone) and rejects with the signal's reason.
 */
export function waitInLine(line: (() => void)[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      const i = line.indexOf(wake);
      if (i >= 0) line.splice(i, 1);
      reject(signal!.reason);
    };
    const wake = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    line.push(wake);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
