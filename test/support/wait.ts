/** Resolves once `condition()` holds, checking every `everyMs`; rejects after `timeoutMs` naming `what`. */
export function waitUntil(condition: () => boolean, what: string, opts: { everyMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const every = opts.everyMs ?? 5;
  const timeout = opts.timeoutMs ?? 20_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeout) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, every);
  });
}
