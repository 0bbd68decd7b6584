#!/usr/bin/env -S node --
// `--`: Node 20 reads a `--env-file` anywhere on the command line as its own (it loads the file, or exits 9 on a
// missing one) unless the script's arguments come after `--`; paybatch's --env-file is paybatch's.
// The CLI is compiled to dist/ by `npm run build` (run by `npm install` / `npm ci` through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('paybatch: not built yet — run `npm install` (or `npm run build`) in the paybatch folder first\n');
  process.exit(2);
}
await import(main.href);
