import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The seams of src/README.md, enforced: which folder may import which. errors/ and lib/ are open to every folder;
 * a folder always may import itself. A new folder must be placed here (and in the README's table) to pass.
 */
const SHARED = ['errors', 'lib'];
const BELOW_APP = ['follow', 'ipn', 'engine', 'report', 'ledger', 'orders', 'csv', 'lyra', 'redis', 'settings', 'log'];
const MAY_IMPORT: Record<string, string[]> = {
  cli: ['*'],
  console: ['app', ...BELOW_APP, 'cli/input-options.ts'],
  schedule: ['app', 'cli/run.ts', 'engine', 'orders', 'redis', 'log'],
  app: BELOW_APP,
  follow: ['ipn', 'engine', 'report', 'ledger', 'lyra', 'orders', 'csv', 'redis', 'settings'],
  ipn: ['engine', 'ledger', 'lyra', 'orders', 'csv', 'redis', 'settings', 'log'],
  engine: ['ledger', 'lyra', 'orders', 'redis'],
  report: ['engine', 'ledger', 'orders', 'csv'],
  ledger: ['lyra', 'orders', 'csv', 'redis'],
  orders: ['lyra', 'csv'],
  csv: [],
  lyra: [],
  sandbox: ['lyra', 'orders'],
  redis: [],
  settings: ['lyra'],
  log: [],
  errors: [],
  lib: [],
};

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sourceFiles(): string[] {
  return (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
}

/** Every relative import (static, dynamic, type-only, re-export) of a file, as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
}

function allowed(from: string, target: string): boolean {
  const [folder] = from.split('/');
  const [to] = target.split('/');
  if (to === folder || SHARED.includes(to!)) return true;
  const rules = MAY_IMPORT[folder!] ?? [];
  return rules.includes('*') || rules.includes(to!) || rules.includes(target);
}

describe('the source tree keeps its seams (src/README.md)', () => {
  it('every folder of src/ has a place in the rules', () => {
    const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory());
    expect(folders.filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });

  it('no file imports against the flow', () => {
    const against = sourceFiles().flatMap((f) => importsOf(f).filter((t) => !allowed(f, t)).map((t) => `${f} imports ${t}`));
    expect(against).toEqual([]);
  });

  it('the rules see the imports they judge (a file of each kind is scanned)', () => {
    // Guards the scanner itself: a regex that matched nothing would pass the test above vacuously.
    expect(importsOf('app/run-batch.ts')).toContain('engine/embedded/run-embedded.ts');
    expect(importsOf('cli/commands.ts')).toContain('cli/run.ts'); // a dynamic import
    expect(importsOf('ledger/ledger.ts')).toContain('lyra/types.ts'); // a type-only import
    expect(allowed('lyra/client.ts', 'ledger/ledger.ts')).toBe(false);
  });
});
