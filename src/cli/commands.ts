import type { CommandModule } from 'yargs';
import { cancelCommand } from './cancel.js';
import { demoCommand } from './demo.js';
import { enqueueCommand } from './enqueue.js';
import { ipnCommand } from './ipn.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { sandboxCommand } from './sandbox.js';
import { statusCommand } from './status.js';
import { updateCommand } from './update.js';
import { validateCommand } from './validate.js';
import { workerCommand } from './worker.js';

/** Every `paybatch` command. Each lives in its own file under src/cli/ and is added here (one line each). */
export const commands: CommandModule<any, any>[] = [
  demoCommand,
  runCommand,
  sandboxCommand,
  statusCommand,
  ipnCommand,
  updateCommand,
  cancelCommand,
  validateCommand,
  enqueueCommand,
  workerCommand,
  reportCommand,
];
