import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandLoaders, commandsFor } from '../../src/cli/commands.js';
import { runCli } from '../support/cli.js';

const commandsModule = new URL('../../src/cli/commands.ts', import.meta.url).href;
const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

/** The npm packages a fresh node process has loaded after asking for the commands of `argv`. */
function packagesLoadedFor(argv: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    const { commandsFor } = await import(${JSON.stringify(commandsModule)});
    await commandsFor(${JSON.stringify(argv)});
    const names = Object.keys(createRequire(import.meta.url).cache).map((k) => k.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/)?.[1]).filter(Boolean);
    process.stdout.write(JSON.stringify([...new Set(names)]));`;
  const r = spawnSync(process.execPath, ['--import', tsxLoader, '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as string[];
}

describe('the CLI loads only the command it runs', () => {
  it('given "validate FILE", loads the validate command alone', async () => {
    const cmds = await commandsFor(['validate', 'invoices.csv', '--currency', 'EUR']);
    expect(cmds.map((c) => c.command)).toEqual(['validate [file]']);
  });

  it('given no command, --help or a typo, loads every command (for the list and "did you mean")', async () => {
    const all = Object.keys(commandLoaders).length;
    expect(await commandsFor([])).toHaveLength(all);
    expect(await commandsFor(['--help'])).toHaveLength(all);
    expect(await commandsFor(['valdate', 'x.csv'])).toHaveLength(all);
  });

  it('validate and an embedded run never load the Redis client; validate not the HTTP client nor the logger either', () => {
    const validate = packagesLoadedFor(['validate', 'x.csv']);
    expect(validate).not.toContain('ioredis');
    expect(validate).not.toContain('undici');
    expect(validate).not.toContain('pino');
    const run = packagesLoadedFor(['run', 'x.csv']);
    expect(run).toContain('undici');
    expect(run).not.toContain('ioredis');
    expect(run).not.toContain('bullmq');
    // The probe sees what a command loads: every command together loads the logger and the HTTP client.
    expect(packagesLoadedFor([])).toEqual(expect.arrayContaining(['undici', 'pino']));
  });
});

describe('help', () => {
  it('is printed whole when asked for, and a command that fails still says one line (yargs does not render it ahead)', async () => {
    const help = await runCli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^paybatch run \[file\]/);
    expect(help.stdout).toContain('--concurrency');
    expect(help.stdout).toContain('--redis');
    const all = await runCli(['--help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('paybatch validate');
    const failed = await runCli(['validate', 'no-such-file.csv'], { env: { PAYBATCH_SHOP_ID: undefined, PAYBATCH_PASSWORD: undefined } });
    expect(failed.code).toBe(2);
    expect(failed.stderr.trim().split('\n')).toEqual([expect.stringContaining('no-such-file.csv: no such file')]);
    expect(failed.stdout).toBe('');
  });
});
