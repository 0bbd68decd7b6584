import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { runBatch, type RunBatchResult } from '../app/run-batch.js';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox } from '../sandbox/server.js';
import { SUMMARY_ORDER } from './run.js';
import { untilStopSignal } from '../lib/signals.js';
import { siblingPath } from '../report/files.js';

async function firstPaymentUrl(report: string): Promise<string | undefined> {
  return /(https?:\/\/[^,\s"]+\/t\/[a-z0-9]{8})/.exec(await readFile(report, 'utf8'))?.[1];
}

interface DemoArgs {
  dir?: string;
  latency: number;
  keep: boolean;
}

const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));

/**
 * `paybatch demo`: the whole path on the built-in sandbox, with two faults on purpose (a throttled request, retried; a
 * reset after creation, ending UNCERTAIN), then the same file again to show nothing is re-sent.
 */
export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'run the sample invoices through the built-in sandbox (no credentials, no Redis) and show the reports',
  builder: (y) =>
    y
      .option('dir', { type: 'string', describe: 'where to write the reports (default: a new temporary directory)' })
      .option('latency', { type: 'number', default: 40, describe: 'sandbox latency per request, ms' })
      .option('keep', { type: 'boolean', default: false, describe: 'keep the sandbox running afterwards, so the payment links can be opened and paid (Ctrl-C ends)' }) as never,
  handler: async (argv) => {
    process.exitCode = await demo(argv);
  },
};

async function demo(argv: DemoArgs): Promise<number> {
  // Without --dir the reports go to a temporary folder, removed when the demo ends: a demo leaves nothing behind.
  const temporary = argv.dir === undefined;
  const dir = argv.dir ?? (await mkdtemp(join(tmpdir(), 'paybatch-demo-')));
  const sandbox = await startSandbox({ port: 0, latencyMs: argv.latency, jitterMs: argv.latency / 2, seed: 42 });
  const out = (s = '') => process.stdout.write(`${s}\n`);
  try {
    sandbox.faults.forOrder('INV-2025-0004', 'psp-106', { times: 1 });
    sandbox.faults.forOrder('INV-2025-0009', 'reset-after-create', { times: 1 });
    const lyra = { baseUrl: sandbox.url, shopId: DEMO_SHOP_ID, password: DEMO_TEST_PASSWORD };
    const stateDir = join(dir, 'state');
    out(`paybatch demo — sandbox at ${sandbox.url} (shop ${DEMO_SHOP_ID}, TEST), reports in ${dir}${temporary ? ' (removed at the end; --dir DIR keeps them)' : ''}`);

    const send = async (name: string, defaults: Record<string, string> = {}): Promise<RunBatchResult> => {
      const file = join(dir, name);
      await copyFile(join(SAMPLES, name), file);
      const report = siblingPath(file, 'report');
      return runBatch({
        file,
        judge: { now: new Date(), defaults },
        lyra,
        stateDir,
        concurrency: 8,
        perSecond: 50,
        retryUncertain: false,
        retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 },
        files: { report, toFix: siblingPath(file, 'tofix'), summary: report.replace(/\.csv$/, '.json') },
      });
    };
    const show = (title: string, r: RunBatchResult) => {
      out();
      out(`── ${title}`);
      out(r.summary.format(SUMMARY_ORDER).replace(/^/gm, '   '));
      out(`   report: ${r.files.report}${r.files.toFix ? `\n   to fix: ${r.files.toFix}` : ''}`);
    };

    const first = await send('invoices.csv');
    show('1. samples/invoices.csv: 20 invoices on every channel (MAIL, SMS, WHATSAPP, INVOICE, URL)', first);
    out('   INV-2025-0004 was throttled once (PSP_106): nothing existed, so it was retried and created.');
    out('   INV-2025-0009 lost its answer (connection reset after the order was created): it is UNCERTAIN,');
    out('   and paybatch will not send it again unless you say so (--retry-uncertain) — the buyer never gets two links.');

    const before = sandbox.counters().requests['Charge/CreatePaymentOrder'] ?? 0;
    const again = await send('invoices.csv');
    const sentAgain = (sandbox.counters().requests['Charge/CreatePaymentOrder'] ?? 0) - before;
    show('2. the same file again', again);
    out(`   requests sent this time: ${sentAgain} — created orders are reported with their original payment URL.`);

    show('3. samples/excel-fr.csv: a French Excel export (Windows-1252, ";", "1 234,56")', await send('excel-fr.csv'));
    show('4. samples/errors.csv: one mistake per row, caught before anything is sent', await send('errors.csv'));

    const created = sandbox.counters().ordersCreated;
    const most = Math.max(0, ...Object.values(created));
    out();
    out(`sandbox: ${Object.keys(created).length} invoices, at most ${most} order per invoice.`);
    const link = first.files.report ? await firstPaymentUrl(first.files.report) : undefined;
    if (argv.keep && link) {
      out(`The sandbox keeps running: open ${link} (or any paymentURL of the reports) to pay or refuse. Ctrl-C ends.`);
      await untilStopSignal();
    } else {
      out('Run `paybatch demo --keep` to open the payment links in a browser and pay or refuse them.');
    }
    out(`Next: paybatch validate FILE · paybatch run FILE · paybatch status FILE · paybatch --help`);
    return 0;
  } finally {
    await sandbox.stop();
    if (temporary) await rm(dir, { recursive: true, force: true });
  }
}
