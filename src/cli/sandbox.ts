import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { FAULT_KINDS, isFaultKind, type FaultKind } from '../sandbox/faults.js';
import { DEMO_PROD_PASSWORD, DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox } from '../sandbox/server.js';
import { untilStopSignal } from '../lib/signals.js';

interface SandboxArgs {
  port: number;
  host: string;
  latency: number;
  jitter: number;
  throttle?: number;
  failRate: number;
  failKinds?: string[];
  seed?: number;
  ipnUrl?: string;
  authStatus: number;
  lean: boolean;
}

/** `paybatch sandbox`: a local Lyra payment-order server for trying paybatch without credentials. */
export const sandboxCommand: CommandModule<object, SandboxArgs> = {
  command: 'sandbox',
  describe: 'run a local Lyra REST V4 payment-order sandbox (demo shop 69876357, no real money)',
  builder: (y) =>
    y
      .option('port', { type: 'number', default: 4010, describe: 'port to listen on (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
      .option('latency', { type: 'number', default: 0, describe: 'added delay per API answer, ms' })
      .option('jitter', { type: 'number', default: 0, describe: 'extra random delay up to this many ms' })
      .option('throttle', { type: 'number', describe: 'answer PSP_106 above this many API requests per second' })
      .option('fail-rate', { type: 'number', default: 0, describe: 'probability (0..1) of a random fault per payment-order request' })
      .option('fail-kinds', { type: 'string', array: true, describe: `faults --fail-rate picks from (${FAULT_KINDS.join(', ')})` })
      .option('seed', { type: 'number', describe: 'seed of the random faults and jitter (same seed, same sequence)' })
      .option('ipn-url', { type: 'string', describe: 'where to POST the signed IPN when an order has no ipnTargetUrl' })
      .option('lean', { type: 'boolean', default: false, describe: 'keep only what later calls need per order (no generated e-mail/SMS texts): for runs of a million orders' })
      .option('auth-status', { type: 'number', default: 200, choices: [200, 401], describe: 'HTTP status of an INT_905 (bad credentials) answer' }) as never,
  handler: async (argv) => {
    if (!(argv.failRate >= 0 && argv.failRate <= 1)) throw new ConfigError('PB_USAGE', '--fail-rate must be between 0 and 1');
    const kinds = argv.failKinds?.flatMap((k) => k.split(',')).map((k) => k.trim());
    const bad = kinds?.find((k) => !isFaultKind(k));
    if (bad) throw new ConfigError('PB_USAGE', `--fail-kinds: unknown fault "${bad}" (use ${FAULT_KINDS.join(', ')})`);
    if (argv.ipnUrl) {
      try {
        new URL(argv.ipnUrl);
      } catch {
        throw new ConfigError('PB_USAGE', `--ipn-url "${argv.ipnUrl}" is not a URL`);
      }
    }
    const sb = await startSandbox({
      port: argv.port,
      host: argv.host,
      latencyMs: argv.latency,
      jitterMs: argv.jitter,
      failRate: argv.failRate,
      authFailureStatus: argv.authStatus === 401 ? 401 : 200,
      lean: argv.lean,
      ...(argv.throttle !== undefined ? { throttlePerSecond: argv.throttle } : {}),
      ...(kinds ? { failKinds: kinds as FaultKind[] } : {}),
      ...(argv.seed !== undefined ? { seed: argv.seed } : {}),
      ...(argv.ipnUrl ? { ipnUrl: argv.ipnUrl } : {}),
    }).catch((e: unknown) => {
      const code = (e as { code?: string }).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new ConfigError('PB_SANDBOX_LISTEN', `cannot listen on ${argv.host}:${argv.port} (${code}): choose another --port (0 = any free port)`);
      throw e;
    });
    // The demo credentials are public (Lyra's docs print them); printing them is the point of this command.
    process.stdout.write(
      [
        `paybatch sandbox listening on ${sb.url}`,
        `  PAYBATCH_API_URL=${sb.url}`,
        `  PAYBATCH_SHOP_ID=${DEMO_SHOP_ID}`,
        `  PAYBATCH_PASSWORD=${DEMO_TEST_PASSWORD}   (TEST; PRODUCTION: ${DEMO_PROD_PASSWORD})`,
        `  controls: ${sb.url}/_sandbox/counters, /_sandbox/faults, /_sandbox/pay`,
        '',
      ].join('\n'),
    );
    await untilStopSignal();
    await sb.stop();
    process.stdout.write('paybatch sandbox stopped\n');
  },
};
