import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { commandLoaders } from '../../src/cli/commands.js';
import { runCli } from '../support/cli.js';

const src = fileURLToPath(new URL('../../src', import.meta.url));
/** Node's and V8's own flags, which the sources name when they set them on the process, not as advice to a user. */
const NODE_FLAGS = new Set(['--heap-growing-percent', '--no-parallel-scavenge', '--semi-space-growth-factor', '--trace-gc', '--trace-gc-nvp', '--heap', '--min-semi-space-size']);

/** Every `--flag` written in a string or template literal of the sources (comments excluded): what messages name. */
function flagsInLiterals(): Map<string, string> {
  const found = new Map<string, string>();
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const file = join(src, f);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const visit = (node: ts.Node): void => {
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
        for (const m of node.text.matchAll(/(?<![\w-])--[a-z][a-z-]*[a-z]/g)) if (!found.has(m[0])) found.set(m[0], f);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

describe('no message names a flag that does not exist', () => {
  it('every --flag in the sources\' strings is an option of some command (its --help lists it, or it is hidden)', async () => {
    const helps = await Promise.all(Object.keys(commandLoaders).map((c) => runCli([c, '--help'])));
    const known = new Set(helps.flatMap((h) => [...h.stdout.matchAll(/--[a-z][a-z-]*[a-z]/g)].map((m) => m[0])));
    // Hidden options (for tests and operators who know them) exist too, though --help does not list them.
    const cli = join(src, 'cli');
    for (const f of readdirSync(cli).filter((x) => x.endsWith('.ts'))) {
      for (const m of readFileSync(join(cli, f), 'utf8').matchAll(/\.option\('([a-z][a-z-]*)', \{[^}]*hidden: true/g)) known.add(`--${m[1]}`);
    }
    expect(known.has('--env-file')).toBe(true);
    const unknown = [...flagsInLiterals()].filter(([flag]) => !known.has(flag) && !NODE_FLAGS.has(flag)).map(([flag, file]) => `${flag} (${file})`);
    expect(unknown).toEqual([]);
  });
});
