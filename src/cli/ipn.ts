import type { CommandModule } from 'yargs';
import { ConfigError } from '../errors/paybatch-error.js';
import { ledgerSettingFrom, openLedgerStore, shopAndMode } from '../follow/context.js';
import { describeLedgerOfRecord } from '../ledger/open-ledger.js';
import { resolveRedisTarget } from '../redis/connect.js';
import { createInboxApplier } from '../ipn/inbox-applier.js';
import { inboxPaths } from '../ipn/inbox.js';
import { startIpnServer } from '../ipn/server.js';
import { ledgerKnowsOrder } from '../ipn/knows-order.js';
import { checkStateFolder } from '../lib/writable-paths.js';
import { defaultStateDir } from '../ledger/state-dir.js';
import { createLogger } from '../log/logger.js';
import { verifyIpn } from '../lyra/ipn.js';
import { withLyraOptions } from './lyra-options.js';
import { withEnvFile, type LyraArgs } from '../settings/settings.js';
import { untilStopSignal } from '../lib/signals.js';

interface IpnArgs extends LyraArgs {
  redis?: string;
  port: number;
  host: string;
  stateDir?: string;
  maxBody: number;
}

/**
 * `paybatch ipn --port N`: receives Lyra's payment notifications and records them in the ledger. Runs until SIGINT or
 * SIGTERM; then it stops taking notifications, applies what it journalled if the ledger is free, and exits 0.
 */
export const ipnCommand: CommandModule<object, IpnArgs> = {
  command: 'ipn',
  describe: 'receive Lyra payment notifications (IPN) and record paid/refused orders in the ledger',
  builder: (y) =>
    withLyraOptions(y)
      .option('port', { type: 'number', default: 8787, describe: 'port to listen on (0 = any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (put a TLS reverse proxy in front: docs/follow-up.md)' })
      .option('state-dir', { type: 'string', describe: 'ledger directory (env PAYBATCH_STATE_DIR; default ~/.local/state/paybatch); also holds the IPN journal' })
      .option('redis', { type: 'string', requiresArg: true, describe: 'the ledger is in this Redis (queue mode; env REDIS_URL)' })
      .option('max-body', { type: 'number', default: 64 * 1024, describe: 'largest notification accepted, in bytes (413 above)' }) as never,
  handler: async (argv) => {
    if (!(Number.isInteger(argv.port) && argv.port >= 0 && argv.port <= 65535)) throw new ConfigError('PB_OPTION', `--port ${argv.port}: give a port number 0–65535`);
    if (!(Number.isInteger(argv.maxBody) && argv.maxBody >= 1024)) throw new ConfigError('PB_OPTION', `--max-body ${argv.maxBody}: give a number of bytes, at least 1024`);
    const { shopId, mode, password, hmacKey } = shopAndMode(argv);
    const env = withEnvFile(argv.envFile);
    const stateDir = argv.stateDir ?? defaultStateDir(env);
    const logger = createLogger({ name: 'paybatch-ipn' });
    await checkStateFolder(stateDir, '--state-dir or PAYBATCH_STATE_DIR');
    const ledgerSetting = ledgerSettingFrom(env);
    const redisTarget = resolveRedisTarget(argv.redis, env);
    const store = await openLedgerStore({ redis: argv.redis, stateDir, shopId, mode, env, onNotice: (m) => logger.info(m) });
    // The ledger of record must be reachable before notices are accepted: a Redis that is down is one line, exit 2.
    const first = await store.open();
    await first.close();
    const applier = createInboxApplier({ stateDir, shopId, mode, openLedger: () => store.open({ patient: false }), logger });
    let server;
    try {
      server = await startIpnServer({
        port: argv.port,
        host: argv.host,
        verify: (fields) => verifyIpn(fields, { password, ...(hmacKey ? { hmacKey } : {}) }),
        shopId,
        mode,
        stateDir,
        logger,
        maxBodyBytes: argv.maxBody,
        knowsOrder: ledgerKnowsOrder(store),
        onAccepted: () => applier.kick(),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      await store.close();
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new ConfigError('PB_IPN_LISTEN', `cannot listen on ${argv.host}:${argv.port} (${code}): choose another --port`);
      throw e;
    }
    process.stdout.write(`paybatch ipn listening on ${server.url} for shop ${shopId} (${mode}); journal ${inboxPaths(stateDir, shopId, mode).journal}; ledger ${await describeLedgerOfRecord({ stateDir, shopId, mode, ...(ledgerSetting ? { setting: ledgerSetting } : {}), ...(redisTarget ? { redis: redisTarget } : {}) })}\n`);
    // Notices journalled while no receiver or command applied them (a run held the ledger, a crash): apply them now.
    applier.kick();
    await untilStopSignal();
    await server.close();
    applier.kick();
    await applier.close();
    await store.close();
    process.stdout.write('paybatch ipn stopped\n');
  },
};
