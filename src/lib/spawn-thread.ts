import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module `name` (without extension) beside `from` (the caller's `import.meta.url`).
 * From the build that is `name.js`; under the test runner the sources are TypeScript, so the thread registers tsx
 * before loading `name.ts`.
 */
export function spawnThread(from: string, name: string, opts: WorkerOptions = {}): Worker {
  const compiled = from.endsWith('.js');
  const entry = new URL(`./${name}${compiled ? '.js' : '.ts'}`, from);
  if (compiled) return new Worker(entry, opts);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { ...opts, eval: true });
}
