import type { CommandModule } from 'yargs';
import { queueWorkersAsked } from './queue-workers-asked.js';

/** Loads a command; `argv`, the whole command line, lets it start work of its own while the rest loads. */
type Loader = (argv: readonly string[]) => Promise<CommandModule<any, any>>;

/**
 * Every `paybatch` command, by name, loaded on demand: loading one loads its whole stack (`validate` needs neither
 * the HTTP client nor Redis), and loading them all would slow every invocation and grow its memory.
 */
export const commandLoaders: Record<string, Loader> = {
  demo: async () => (await import('./demo.js')).demoCommand,
  run: async (argv) => {
    // Queue mode's local worker threads load BullMQ, ioredis and undici: when the command line says queue mode, they
    // start now, while the run's own modules load, instead of when the run starts.
    const workers = queueWorkersAsked(argv, process.env);
    if (workers > 0) (await import('../engine/queue/local-workers.js')).prespawnWorkerThreads(workers);
    return (await import('./run.js')).runCommand;
  },
  sandbox: async () => (await import('./sandbox.js')).sandboxCommand,
  status: async () => (await import('./status.js')).statusCommand,
  ipn: async () => (await import('./ipn.js')).ipnCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  update: async () => (await import('./update.js')).updateCommand,
  cancel: async () => (await import('./cancel.js')).cancelCommand,
  validate: async () => {
    // Big files are read on a second thread: it boots while the rest of validate loads (see startReaderEarly).
    (await import('../csv/off-thread/spawn-reader.js')).startReaderEarly();
    return (await import('./validate.js')).validateCommand;
  },
  enqueue: async () => (await import('./enqueue.js')).enqueueCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
  report: async () => (await import('./report.js')).reportCommand,
  ledger: async () => (await import('./ledger.js')).ledgerCommand,
  schedule: async () => (await import('./schedule.js')).scheduleCommand,
  reconcile: async () => (await import('./reconcile.js')).reconcileCommand,
  resolve: async () => (await import('./resolve.js')).resolveCommand,
};

/**
 * The commands a line needs: the one it names, or all when it names none or an unknown one (so `--help` lists all
 * and a typo gets yargs' "did you mean"). No options come before a command, so the first non-option word names it.
 */
export async function commandsFor(argv: readonly string[]): Promise<CommandModule<any, any>[]> {
  const name = commandName(argv);
  const loader = name !== undefined ? commandLoaders[name] : undefined;
  if (loader) return [await loader(argv)];
  return Promise.all(Object.values(commandLoaders).map((load) => load(argv)));
}

/** The command a line names: its first word that is not an option (no options come before a command). */
export function commandName(argv: readonly string[]): string | undefined {
  return argv.find((a) => !a.startsWith('-'));
}
