import type { CommandModule } from 'yargs';
import { sandboxCommand } from './sandbox.js';
import { validateCommand } from './validate.js';

/** Every `paybatch` command. Each lives in its own file under src/cli/ and is added here (one line each). */
export const commands: CommandModule<any, any>[] = [
  sandboxCommand,
  validateCommand,
];
