import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module `name` beside `from` (the caller's `import.meta.url`): `name.js` from the build,
 * `name.ts` through tsx under the test runner.
 */
export function spawnThread(from: string, name: string, opts: WorkerOptions = {}): Worker {
  const compiled = from.endsWith('.js');
  const entry = new URL(`./${name}${compiled ? '.js' : '.ts'}`, from);
  if (compiled) return new Worker(entry, opts);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { ...opts, eval: true });
}
