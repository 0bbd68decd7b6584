import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD } from '../../src/sandbox/server.js';
import { runCli, spawnCli } from '../support/cli.js';
import { freePort, removeDir, startRedis, type RedisServer } from '../support/redis.js';
import { waitUntil } from '../support/wait.js';

// The Dockerfile and docker-compose.yml cannot be run here (no Docker engine): what they ask of paybatch is checked
// against the real CLI instead — every command and flag they name, the image's entry point run with node, and the
// worker's health check run as the compose file runs it.

const root = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

interface ComposeService {
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
}
const compose = parseYaml(composeText, { merge: true }) as { services: Record<string, ComposeService> };
const paybatchServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

/** A JSON-array instruction of the Dockerfile (ENTRYPOINT, CMD). */
function dockerArray(instruction: string): string[] {
  const m = dockerfile.match(new RegExp(`^${instruction}\\s+(\\[.*\\])\\s*$`, 'm'));
  if (!m) throw new Error(`Dockerfile has no ${instruction} [...]`);
  return JSON.parse(m[1]!) as string[];
}

/** `${NAME:-default}` and `${NAME:?message}` as compose substitutes them from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const v = vars[name];
    if (v !== undefined && v !== '') return v;
    if (op === '?') throw new Error(`compose would refuse to start: ${arg}`);
    return op === '-' ? arg : '';
  });
}

/** The image runs from /app: its paths are this repository's. */
/** A path of the image on this machine: /app is the repository (wherever it is cloned, /tmp included), /tmp and the state volume a test folder. */
const fromImage = (arg: string, tmp: string) => {
  if (arg.startsWith('/app/')) return join(root, arg.slice('/app/'.length));
  return arg.replace(/^\/tmp\//, `${tmp}/`).replace(/^\/var\/lib\/paybatch$/, tmp);
};

/** A container's process: ENTRYPOINT + command with node, the Dockerfile's ENV and the service's environment only. */
function containerProcess(command: string[], environment: Record<string, string>, tmp: string) {
  const [exe, ...entryArgs] = dockerArray('ENTRYPOINT');
  expect(exe).toBe('node');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: tmp };
  for (const m of dockerfile.matchAll(/^ENV\s+(\w+)=(\S+)\s*$/gm)) env[m[1]!] = fromImage(m[2]!, tmp);
  Object.assign(env, environment);
  return spawn(process.execPath, [...entryArgs, ...command].map((a) => fromImage(a, tmp)), { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The shell a user types: the settings compose reads from the shell or .env, PAYBATCH_PLATFORM forgotten. */
const userShell = { PAYBATCH_SHOP_ID: DEMO_SHOP_ID, PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD };

function serviceEnv(name: string, vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(compose.services[name]!.environment ?? {})) env[k] = interpolate(String(v), vars);
  return env;
}

// ---------------------------------------------------------------------------------------------------------------------

interface Invocation {
  where: string;
  command: string;
  flags: string[];
}

const helpCache = new Map<string, Promise<string>>();
function help(args: string[]): Promise<string> {
  const key = args.join(' ');
  if (!helpCache.has(key)) {
    helpCache.set(
      key,
      runCli([...args, '--help']).then((r) => {
        if (r.code !== 0) throw new Error(`paybatch ${key} --help exited ${r.code}: ${r.stderr}`);
        return r.stdout;
      }),
    );
  }
  return helpCache.get(key)!;
}

/** The commands `paybatch --help` lists. */
async function knownCommands(): Promise<Set<string>> {
  const text = await help([]);
  return new Set([...text.matchAll(/^\s+paybatch ([a-z]+)\b/gm)].map((m) => m[1]!));
}

/** The options `paybatch COMMAND --help` lists, with `--no-X` for every boolean X. */
async function knownFlags(command: string): Promise<Set<string>> {
  const flags = new Set<string>();
  // An option's line, and the lines its description wraps onto, up to the next option.
  for (const block of (await help([command])).split(/\n(?=\s+(?:-\w, )?--[a-z])/)) {
    const m = block.match(/^\s+(?:-\w, )?--([a-z][\w-]*)/);
    if (!m) continue;
    flags.add(`--${m[1]}`);
    if (block.includes('[boolean]')) flags.add(`--no-${m[1]}`);
  }
  return flags;
}

/** Every `paybatch COMMAND --flag …` a text names (in comments, examples), for the commands that exist. */
function invocationsIn(where: string, text: string, commands: Set<string>): Invocation[] {
  const found: Invocation[] = [];
  for (const m of text.matchAll(/\bpaybatch ([a-z]+)((?:[ \t]+[^\s`)#]+)*)/g)) {
    if (!commands.has(m[1]!)) continue;
    const flags = m[2]!.trim().split(/\s+/).filter((t) => t.startsWith('--')).map((t) => t.replace(/=.*$/, ''));
    found.push({ where, command: m[1]!, flags });
  }
  return found;
}

describe('what the Dockerfile and docker-compose.yml ask of the paybatch CLI', () => {
  it('names only commands and flags the CLI has', async () => {
    const commands = await knownCommands();
    expect(commands.has('worker')).toBe(true);

    const invocations: Invocation[] = [];
    const cmd = dockerArray('CMD');
    invocations.push({ where: 'Dockerfile CMD', command: cmd[0]!, flags: cmd.filter((a) => a.startsWith('--')) });
    for (const [name, service] of paybatchServices) {
      const args = service.command ?? cmd;
      invocations.push({ where: `docker-compose.yml service ${name}`, command: args[0]!, flags: args.filter((a) => a.startsWith('--')) });
    }
    invocations.push(...invocationsIn('Dockerfile', dockerfile, commands), ...invocationsIn('docker-compose.yml', composeText, commands));
    // The user-facing examples of running the image or the compose file.
    for (const doc of ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
      invocations.push(...invocationsIn(doc, readFileSync(join(root, doc), 'utf8'), commands));
    }

    const wrong: string[] = [];
    for (const inv of invocations) {
      if (!commands.has(inv.command)) {
        wrong.push(`${inv.where}: paybatch ${inv.command} is not a command`);
        continue;
      }
      const flags = await knownFlags(inv.command);
      for (const f of inv.flags) if (!flags.has(f) && f !== '--help' && f !== '--version') wrong.push(`${inv.where}: paybatch ${inv.command} has no ${f}`);
    }
    expect(wrong).toEqual([]);
    expect(invocations.some((i) => i.where === 'docker-compose.yml' && i.command === 'run')).toBe(true);
  }, 60_000);

  it('keeps credentials, installed modules and reports out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const pattern of ['.env', '*.env', '**/node_modules', 'dist', '**/*.report.csv']) expect(ignored).toContain(pattern);
    // What the Dockerfile copies from the context must not be ignored.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) for (const src of m[1]!.split(/\s+/)) expect(ignored).not.toContain(src);
  });

  it('keeps the ledger in a volume and Redis durable', () => {
    expect(dockerfile).toMatch(/^ENV PAYBATCH_STATE_DIR=\/var\/lib\/paybatch$/m);
    expect(dockerfile).toMatch(/^VOLUME \/var\/lib\/paybatch$/m);
    const redis = compose.services.redis!;
    expect(redis.command!.join(' ')).toContain('--appendonly yes --appendfsync always');
    expect(composeText).toMatch(/redis-data:\/data/);
  });
});

describe('the worker container without PAYBATCH_PLATFORM', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'paybatch-container-'));
  });
  afterAll(() => removeDir(tmp));

  for (const service of ['check', 'worker']) {
    it(`${service}: one line naming the setting, exit 2, before anything starts`, async () => {
      const command = compose.services[service]!.command!.map((a) => interpolate(a, {}));
      const r = await collect(containerProcess(command, serviceEnv(service, userShell), tmp));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^paybatch: .*set PAYBATCH_PLATFORM \(e\.g\. payzen-eu\) or PAYBATCH_API_URL/);
    });
  }

  it('no worker starts when the check fails, and a worker is not restarted forever', () => {
    expect(compose.services.check!.restart).toBe('no');
    for (const name of ['worker', 'ipn']) {
      expect(compose.services[name]!.depends_on?.check?.condition).toBe('service_completed_successfully');
      expect(compose.services[name]!.restart).toMatch(/^on-failure:\d+$/);
    }
  });
});

describe('the worker health check, as the compose file runs it', () => {
  let redis: RedisServer;
  let tmp: string;
  beforeAll(async () => {
    redis = await startRedis();
    tmp = mkdtempSync(join(tmpdir(), 'paybatch-health-'));
  });
  afterAll(async () => {
    await redis.stop();
    removeDir(tmp);
  });

  const healthcheck = () => {
    const [kind, exe, ...args] = compose.services.worker!.healthcheck!.test;
    expect([kind, exe]).toEqual(['CMD', 'node']);
    return collect(spawn(process.execPath, args.map((a) => a.replaceAll('/tmp/', `${tmp}/`)), { stdio: ['ignore', 'pipe', 'pipe'] }));
  };
  const shop = async () => ({ ...userShell, PAYBATCH_PLATFORM: undefined, PAYBATCH_API_URL: `http://127.0.0.1:${await freePort()}`, REDIS_URL: redis.url });

  it('check passes with good settings and a reachable Redis', async () => {
    const r = await runCli(['worker', '--check'], { env: await shop() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^paybatch worker: settings OK: shop 69876357, http:\/\/127\.0\.0\.1:\d+, Redis redis:\/\/127\.0\.0\.1:\d+\n$/);
  });

  it('a health file that cannot be written is one line and exit 2, before any job is taken', async () => {
    const file = join(tmp, 'no-such-dir', 'worker.health');
    const r = await runCli(['worker', '--health-file', file], { env: await shop() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`paybatch: --health-file ${file}: cannot be written (ENOENT)\n`);
  });

  it('is unhealthy before the worker is ready, healthy while it runs, unhealthy once it stopped', async () => {
    expect((await healthcheck()).code).not.toBe(0);
    const command = compose.services.worker!.command!.map((a) => interpolate(a, {}).replace(/^\/tmp\//, `${tmp}/`));
    const worker = spawnCli(command, { env: await shop() });
    const exited = collect(worker);
    try {
      const healthFile = join(tmp, 'paybatch-worker.health');
      // The worker probes the path once at start (write, remove), then keeps it fresh: healthy within a few seconds.
      await waitUntil(() => existsSync(healthFile), 'the health file');
      let healthy = (await healthcheck()).code;
      for (let i = 0; healthy !== 0 && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 250));
        healthy = (await healthcheck()).code;
      }
      expect(healthy).toBe(0);

      worker.kill('SIGTERM');
      const r = await exited;
      expect(r.code).toBe(0);
      expect(existsSync(healthFile)).toBe(false);
      expect((await healthcheck()).code).not.toBe(0);
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
  }, 30_000);
});
