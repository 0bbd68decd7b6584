// One-off baseline, not part of `npm run bench` or the tests: paybatch's own CSV writer (src/csv/write.ts) against
// csv-stringify's streaming API, writing the same run-report rows with the same options (BOM, `,`, `\n`, formula guard
// on every cell through neutraliseFormula, quotes only where needed). Each subject runs in a fresh child process, in
// rounds (rows only, ours, csv-stringify, …); the fastest run of each counts, peak RSS is the highest run's. "rows
// only" generates the rows and writes nothing: what both writers pay before writing.
// usage: CSV_STRINGIFY=/path/to/csv-stringify/lib/index.js node --import tsx bench/baseline/csv-writer.ts [rows] [rounds]
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createCsvWriter, neutraliseFormula } from '../../src/csv/write.js';
import { formatMinor } from '../../src/orders/currencies.js';
import { REPORT_COLUMNS } from '../../src/report/run-report.js';

type Subject = 'rows' | 'ours' | 'csv-stringify';
interface ChildResult {
  subject: Subject;
  ms: number;
  maxRssKb: number;
  bytes: number;
}

/** The input's columns (as bench/inputs.ts writes them), then what a run report adds. */
const INPUT_COLUMNS = ['invoice', 'customer name', 'amount', 'currency', 'channel', 'email', 'phone', 'locale', 'subject'];
const HEADERS = [...INPUT_COLUMNS, ...REPORT_COLUMNS];

/**
 * Report row i: the bench's invoice mix (70 % MAIL, 20 % SMS, 10 % URL; names with commas), 96 % CREATED with a payment
 * URL, 3 % FAILED with a message holding quotes and commas, 1 % INVALID; one name in 500 a formula, one amount in 200 a
 * negative number (a signed number: not guarded).
 */
function reportRow(i: number): string[] {
  const id = `B1-${String(i).padStart(7, '0')}`;
  const kind = i % 10;
  const currency = kind === 9 ? 'GBP' : 'EUR';
  const minor = (i % 200 === 0 ? -1 : 1) * (1000 + ((i * 7919) % 500_000));
  const amount = formatMinor(minor, currency);
  const name = i % 500 === 0 ? `=HYPERLINK("http://x.example/${i}","Client ${i}")` : kind < 7 ? `Client ${i}, SARL` : kind < 9 ? `Client ${i}` : `Client ${i} Ltd`;
  const email = kind < 7 ? `compta${i}@client${i % 997}.example.com` : '';
  const phone = kind === 7 || kind === 8 ? `+336${String(10_000_000 + (i % 89_999_999)).slice(-8)}` : '';
  const channel = kind < 7 ? 'MAIL' : kind < 9 ? 'SMS' : 'URL';
  const input = [id, name, amount, currency, channel, email, phone, kind === 9 ? 'en_GB' : 'fr_FR', kind < 7 ? `Facture ${id}` : ''];
  const fate = i % 100;
  const status = fate < 96 ? 'CREATED' : fate < 99 ? 'FAILED' : 'INVALID';
  const orderId = status === 'CREATED' ? `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}a1b2c3d4e5f6${String(i).padStart(8, '0')}` : '';
  return [
    ...input,
    status,
    orderId,
    orderId ? `https://secure.lyra.com/t/${orderId}` : '',
    orderId ? 'RUNNING' : '',
    status === 'FAILED' ? 'PSP_100' : status === 'INVALID' ? 'PB_AMOUNT' : '',
    status === 'FAILED' ? `The field "customer.email" is invalid: "compta${i}@client", then refused` : status === 'INVALID' ? 'amount: not a number, e.g. 12.50 | email: missing' : '',
    status === 'INVALID' ? 'amount' : '',
    status === 'FAILED' ? 'INT_905' : '',
    status === 'INVALID' ? '0' : String(1 + (i % 3 === 0 ? 1 : 0)),
    String(i + 1),
    status === 'INVALID' ? '' : amount,
    status === 'INVALID' ? '' : currency,
    status === 'INVALID' ? '' : channel,
    status === 'INVALID' ? '' : email || phone,
    status === 'CREATED' ? '2026-12-31T23:59:59+01:00' : '',
    status === 'FAILED' ? 'retried once' : '',
    '69876357',
    'TEST',
    'run-2026-12-07T21:30:00Z',
  ];
}

function* rows(n: number): Generator<string[]> {
  for (let i = 1; i <= n; i++) yield reportRow(i);
}

async function child(subject: Subject, n: number, file: string, stringifyPath: string): Promise<ChildResult> {
  // Loaded before the clock starts, as the CLI has its modules loaded before a report is written.
  const stringify = subject === 'csv-stringify' ? ((await import(stringifyPath)) as { stringify: (o: object) => NodeJS.ReadWriteStream }).stringify : undefined;
  const t0 = performance.now();
  if (subject === 'rows') {
    let cells = 0;
    for (const r of rows(n)) cells += r.length;
    if (cells !== n * HEADERS.length) throw new Error(`row width: ${cells / n}`);
  } else if (subject === 'ours') {
    // As src/report/run-report.ts writes its report: one awaited write per row, UTF-8 with a BOM, guard on (default).
    const w = createCsvWriter(file, { headers: HEADERS, delimiter: ',', encoding: 'utf8', bom: true, lineEnding: '\n' });
    for (const r of rows(n)) await w.write(r);
    await w.close();
  } else {
    // csv-stringify's own defaults quote what ours quotes (delimiter, quote, CR, LF) and double quotes; its
    // `escape_formulas` would also guard `+336…` phones and `-12.50` amounts, so the guard is ours, per cell.
    const s = stringify!({ header: true, columns: HEADERS, bom: true, delimiter: ',', record_delimiter: '\n', cast: { string: (v: string) => neutraliseFormula(v) } });
    await pipeline(Readable.from(rows(n)), s, createWriteStream(file));
  }
  const ms = performance.now() - t0;
  return { subject, ms, maxRssKb: process.resourceUsage().maxRSS, bytes: subject === 'rows' ? 0 : statSync(file).size };
}

function runChild(subject: Subject, n: number, file: string, stringifyPath: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', subject, String(n), file, stringifyPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`${subject}: exit ${code}`))));
  });
}

/** Byte offset of the first difference, or -1 when the files are identical. */
async function firstDifference(a: string, b: string): Promise<number> {
  const read = async function* (f: string) {
    for await (const c of createReadStream(f, { highWaterMark: 1 << 20 })) yield c as Buffer;
  };
  const ia = read(a)[Symbol.asyncIterator]();
  const ib = read(b)[Symbol.asyncIterator]();
  let ca: Buffer = Buffer.alloc(0);
  let cb: Buffer = Buffer.alloc(0);
  let offset = 0;
  for (;;) {
    if (ca.length === 0) ca = (await ia.next()).value ?? Buffer.alloc(0);
    if (cb.length === 0) cb = (await ib.next()).value ?? Buffer.alloc(0);
    if (ca.length === 0 || cb.length === 0) return ca.length === cb.length ? -1 : offset;
    const len = Math.min(ca.length, cb.length);
    for (let k = 0; k < len; k++) if (ca[k] !== cb[k]) return offset + k;
    offset += len;
    ca = ca.subarray(len);
    cb = cb.subarray(len);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const [, subject, n, file, stringifyPath] = args;
    process.stdout.write(JSON.stringify(await child(subject as Subject, Number(n), file!, stringifyPath!)));
    return;
  }
  const stringifyPath = process.env.CSV_STRINGIFY;
  if (!stringifyPath) {
    console.error('CSV_STRINGIFY is not set: point it at csv-stringify/lib/index.js (installed outside the repo).');
    process.exit(2);
  }
  const n = Number(args[0] ?? 1_000_000);
  const rounds = Number(args[1] ?? 3);
  const dir = os.tmpdir();
  const files: Record<Subject, string> = { rows: '', ours: join(dir, `csvw-ours-${process.pid}.csv`), 'csv-stringify': join(dir, `csvw-stringify-${process.pid}.csv`) };
  console.log(`${n} rows × ${HEADERS.length} columns, ${rounds} rounds; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  const runs: ChildResult[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const subject of ['rows', 'ours', 'csv-stringify'] as const) {
        const res = await runChild(subject, n, files[subject], stringifyPath);
        runs.push(res);
        console.log(`round ${r} ${subject.padEnd(13)} ${(res.ms / 1000).toFixed(2)} s  ${Math.round(n / (res.ms / 1000))} rows/s  peak RSS ${(res.maxRssKb / 1024).toFixed(0)} MB${res.bytes ? `  ${res.bytes} bytes` : ''}`);
      }
    }
    const diff = await firstDifference(files.ours, files['csv-stringify']);
    console.log(diff < 0 ? 'outputs: byte-identical' : `outputs differ at byte ${diff}`);
    const gen = Math.min(...runs.filter((x) => x.subject === 'rows').map((x) => x.ms));
    for (const subject of ['rows', 'ours', 'csv-stringify'] as const) {
      const mine = runs.filter((x) => x.subject === subject);
      const best = Math.min(...mine.map((x) => x.ms));
      const rss = Math.max(...mine.map((x) => x.maxRssKb));
      const net = subject === 'rows' ? '' : `, writing alone ${((best - gen) / 1000).toFixed(2)} s`;
      console.log(`best ${subject.padEnd(13)} ${Math.round(n / (best / 1000))} rows/s (${(best / 1000).toFixed(2)} s${net}), highest peak RSS ${(rss / 1024).toFixed(0)} MB`);
    }
    console.log(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  } finally {
    rmSync(files.ours, { force: true });
    rmSync(files['csv-stringify'], { force: true });
  }
}

await main();
