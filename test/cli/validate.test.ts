import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, lstat, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { parse } from 'csv-parse/sync';
import { runCli } from '../support/cli.js';
import { validateFile } from '../../src/app/validate-file.js';
import { REPORT_COLUMNS } from '../../src/report/run-report.js';

const samples = fileURLToPath(new URL('../../samples/', import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-validate-'));
  for (const f of await readdir(samples)) if (f.endsWith('.csv')) await copyFile(join(samples, f), join(dir, f));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The report as records keyed by header (the report's extra columns come after the input's). */
async function report(path: string, delimiter = ','): Promise<Record<string, string>[]> {
  return parse(await readFile(path), { bom: true, columns: true, delimiter }) as Record<string, string>[];
}

describe('paybatch validate FILE', () => {
  it('given invoices.csv, every row is VALID: exit 0, a report with the normalised values, no rows to fix', async () => {
    const r = await runCli(['validate', join(dir, 'invoices.csv'), '--expires-in', '30d', '--tz', 'Europe/Paris']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/20 rows checked, nothing sent/);
    expect(r.stdout).toMatch(/^VALID\s+20\s+CHF 820\.00 \(1 row\) · EUR 10470\.91 \(14 rows\)/m);
    const rows = await report(join(dir, 'invoices.validation.csv'));
    expect(rows).toHaveLength(20);
    expect(Object.keys(rows[0]!)).toEqual(['invoice', 'customer name', 'amount', 'currency', 'channel', 'email', 'phone', 'locale', 'subject', 'message', ...REPORT_COLUMNS]);
    expect(rows.every((x) => x.status === 'VALID')).toBe(true);
    const sms = rows.find((x) => x.invoice === 'INV-2025-0003')!;
    expect(sms).toMatchObject({ phone: '06 12 34 56 01', orderAmount: '89.90', currencyCode: 'EUR', channelType: 'SMS', sendTo: '+33612345601', line: '4' });
    expect(sms.expiresAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$/);
    expect(existsSync(join(dir, 'invoices.validation.tofix.csv'))).toBe(false);
  });

  it('given excel-fr.csv with a French amount, validate reports the amount 1234.56', async () => {
    const r = await runCli(['validate', join(dir, 'excel-fr.csv'), '--out', join(dir, 'fr-report.csv')]);
    expect(r.code).toBe(0);
    const bytes = await readFile(join(dir, 'fr-report.csv'));
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = await report(join(dir, 'fr-report.csv'), ';');
    expect(rows[0]).toMatchObject({ 'N° facture': 'FA-2025-1101', 'Nom du client': 'Société Générale des Eaux', 'Montant TTC': '1 234,56', orderAmount: '1234.56', status: 'VALID' });
  });

  it('given errors.csv, says what is wrong with each row, exits 1, and writes the rows to fix in the same format', async () => {
    const r = await runCli(['validate', join(dir, 'errors.csv'), '--tz', 'UTC']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^INVALID\s+29\s+INT_009 ×6/m);
    const rows = await report(join(dir, 'errors.validation.csv'));
    expect(rows.map((x) => x.status)).toEqual(['VALID', ...Array(29).fill('INVALID')]);
    expect(rows.find((x) => x.invoice === 'ERR-07')).toMatchObject({ errorCode: 'INT_009', errorColumn: 'amount', amount: '-45.00', errorMessage: 'amount: the amount "-45.00" is negative: a payment order needs a positive amount (use a credit note outside paybatch)' });
    expect(rows.find((x) => x.invoice === 'ERR-23')).toMatchObject({ errorCode: 'PSP_1007', errorMessage: expect.stringMatching(/already past/) });
    const input = (await readFile(join(dir, 'errors.csv'), 'utf8')).split('\n');
    const fix = (await readFile(join(dir, 'errors.validation.tofix.csv'), 'utf8')).split('\n');
    // The input's own lines, each with the reason after it in a column that reading ignores.
    expect(fix[0]).toBe(`${input[0]},paybatchError`);
    expect(fix.slice(1, -1).map((l, i) => l.startsWith(`${input[i + 2]},`))).toEqual(input.slice(2, -1).map(() => true));
    const reasons = parse(fix.join('\n'), { columns: true }) as Record<string, string>[];
    expect(reasons.find((x) => x.invoice === 'ERR-07')?.paybatchError).toBe('amount: the amount "-45.00" is negative: a payment order needs a positive amount (use a credit note outside paybatch)');
  });

  it('given a Windows-1252 ; CRLF export with errors, the rows to fix keep its encoding, delimiter and line endings byte for byte', async () => {
    const lines = ['N° facture;Montant;Devise;Canal', 'F-1;12,50;EUR;URL', 'F-2;1,234;EUR;URL', 'F-3;"8,00";EUR;télécopie', 'F-4;5;EUR;URL'];
    await writeFile(join(dir, 'cp.csv'), iconv.encode(lines.join('\r\n') + '\r\n', 'windows-1252'));
    const r = await runCli(['validate', join(dir, 'cp.csv')]);
    expect(r.code).toBe(1);
    const fix = await readFile(join(dir, 'cp.validation.tofix.csv'));
    const text = iconv.decode(fix, 'windows-1252').split('\r\n');
    expect(text).toHaveLength(4);
    expect(text[0]).toBe(`${lines[0]};paybatchError`);
    expect(text[1]!.startsWith(`${lines[2]};`)).toBe(true);
    expect(text[2]!.startsWith('F-3;8,00;EUR;télécopie;')).toBe(true);
    expect(text[3]).toBe('');
  });

  it('neutralises formulas in the report without touching phone numbers or negative amounts', async () => {
    await writeFile(
      join(dir, 'inject.csv'),
      'invoice,amount,currency,channel,phone,locale,comment\nI-1,10,EUR,SMS,+33612345678,fr_FR,"=HYPERLINK(""http://evil.example"",""x"")"\nI-2,-12.50,EUR,URL,,fr_FR,@SUM(A1)\n',
    );
    const r = await runCli(['validate', join(dir, 'inject.csv')]);
    expect(r.code).toBe(1);
    const text = await readFile(join(dir, 'inject.validation.csv'), 'utf8');
    expect(text).toContain(`,+33612345678,fr_FR,"'=HYPERLINK(""http://evil.example"",""x"")",VALID,`);
    expect(text).toContain(`I-2,-12.50,EUR,URL,,fr_FR,'@SUM(A1),INVALID,,,,INT_009,`);
    expect(text).toContain(',+33612345678,');
  });

  it('neutralises the full-width formula signs ＝ ＋ － ＠ as well', async () => {
    await writeFile(join(dir, 'wide.csv'), 'invoice,amount,currency,channel,comment\nW-1,10,EUR,URL,＝1+1\nW-2,10,EUR,URL,＋cmd|x\nW-3,10,EUR,URL,－SUM(A1)\nW-4,10,EUR,URL,＠SUM(A1)\nW-5,10,EUR,URL,－12.50\n');
    const r = await runCli(['validate', join(dir, 'wide.csv'), '--out', join(dir, 'wide.out.csv')]);
    expect(r.code, r.stderr).toBe(0);
    const comments = (await readFile(join(dir, 'wide.out.csv'), 'utf8')).split(/\r?\n/).slice(1, 6).map((l) => l.split(',')[4]);
    expect(comments).toEqual(["'＝1+1", "'＋cmd|x", "'－SUM(A1)", "'＠SUM(A1)", '－12.50']);
  });

  it('- reads the file from standard input; the report is stdin.validation.csv in the current folder', async () => {
    const r = await runCli(['validate', '-', '--currency', 'EUR', '--channel', 'URL'], { cwd: dir, input: 'invoice,amount\nS-1,10.00\nS-2,\n' });
    expect(r.code, r.stderr).toBe(1);
    expect((await report(join(dir, 'stdin.validation.csv'))).map((x) => [x.invoice, x.status])).toEqual([['S-1', 'VALID'], ['S-2', 'INVALID']]);
    expect(existsSync(join(dir, 'stdin.validation.tofix.csv'))).toBe(true);
  });

  it('a misspelt header is pointed out once, with the fix; so is a misspelt option', async () => {
    await writeFile(join(dir, 'emial.csv'), 'invoice,amount,currency,channel,emial\nM-1,10,EUR,MAIL,a@example.com\nM-2,11,EUR,MAIL,b@example.com\n');
    const r = await runCli(['validate', join(dir, 'emial.csv'), '--subject', 'Invoice']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`paybatch: ${join(dir, 'emial.csv')}: column "emial" is not read: did you mean email? If so, add --map email=emial\n`);
    const fixed = await runCli(['validate', join(dir, 'emial.csv'), '--subject', 'Invoice', '--map', 'email=emial']);
    expect(fixed.stderr).toBe('');
    expect(fixed.code).toBe(0);

    const typo = await runCli(['validate', join(dir, 'emial.csv'), '--curency', 'EUR']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('paybatch: Unknown argument: curency — did you mean --currency for --curency? (paybatch --help)\n');
  });

  it('validate, fix, validate again: once every row is VALID the old rows-to-fix file is gone, not left to be sent', async () => {
    const file = join(dir, 'again.csv');
    await writeFile(file, 'invoice,amount,currency,channel\nA-1,"1,234",EUR,URL\nA-2,10.00,EUR,URL\n');
    const first = await runCli(['validate', file]);
    expect(first.code).toBe(1);
    expect(existsSync(join(dir, 'again.validation.tofix.csv'))).toBe(true);
    await writeFile(file, 'invoice,amount,currency,channel\nA-1,1234.00,EUR,URL\nA-2,10.00,EUR,URL\n');
    const second = await runCli(['validate', file]);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toMatch(/rows to fix/);
    expect(existsSync(join(dir, 'again.validation.tofix.csv'))).toBe(false);
  });

  it('--json prints the summary as JSON', async () => {
    const r = await runCli(['validate', join(dir, 'errors.csv'), '--json', '--out', join(dir, 'e2.csv'), '--fix-out', join(dir, 'e2-fix.csv')]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ rows: 30, statuses: { VALID: 1, INVALID: 29 }, totals: { VALID: { EUR: { minor: 12000, major: '120.00', rows: 1 } } }, report: join(dir, 'e2.csv'), toFix: join(dir, 'e2-fix.csv') });
    expect(json.errorCodes.PSP_1007).toBe(2);
  });
});

describe('paybatch validate refuses a file it cannot read, with one line and exit 2', () => {
  it('an unclosed quote names the file and line; no stack trace, no report left behind', async () => {
    await writeFile(join(dir, 'broken.csv'), 'invoice,amount,currency,channel\nA,10,EUR,URL\nB,"10,EUR,URL\nC,5,EUR,URL\n');
    const r = await runCli(['validate', join(dir, 'broken.csv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^paybatch: .*broken\.csv, line 3(, column amount)?: a double quote opened in this record is never closed; close it, or remove it\n$/);
    expect(existsSync(join(dir, 'broken.validation.csv'))).toBe(false);
    expect(existsSync(join(dir, 'broken.validation.csv.partial'))).toBe(false);
  });

  it('--out on a symbolic link or a FIFO is refused and left as it is: exit 2, one line', async () => {
    const kept = join(dir, 'kept.txt');
    await writeFile(kept, 'kept\n');
    await symlink(kept, join(dir, 'link.report.csv'));
    execFileSync('mkfifo', [join(dir, 'pipe.report.csv')]);
    for (const [out, kind] of [['link.report.csv', 'a symbolic link'], ['pipe.report.csv', 'a FIFO']] as const) {
      const r = await runCli(['validate', join(dir, 'invoices.csv'), '--out', join(dir, out)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--out ${join(dir, out)} is ${kind}`);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await lstat(join(dir, 'link.report.csv'))).isSymbolicLink()).toBe(true);
    expect(await readFile(kept, 'utf8')).toBe('kept\n');
    expect((await lstat(join(dir, 'pipe.report.csv'))).isFIFO()).toBe(true);
  });

  it('a file that is no file of invoices (a 50 MB header line, too many columns, a line of megabytes) fails fast in one line', async () => {
    const wide = join(dir, 'wide.csv');
    await writeFile(wide, `${'c,'.repeat(25_000_000)}c\n`);
    const started = Date.now();
    const r1 = await runCli(['validate', wide]);
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim()).toBe(`paybatch: ${wide}, line 1: this line is longer than 1 MiB; a line holds one invoice: is this the file of invoices, with the right line endings?`);
    expect(Date.now() - started).toBeLessThan(15_000);

    const columns = join(dir, 'columns.csv');
    await writeFile(columns, `invoice,amount,${Array.from({ length: 2000 }, (_, i) => `x${i}`).join(',')}\nA-1,1.00\n`);
    const r2 = await runCli(['validate', columns]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${columns}, line 1: the header row names 2002 columns; paybatch reads at most 1000`);

    const long = join(dir, 'long.csv');
    await writeFile(long, `invoice,amount,currency,channel,message\nA-1,1.00,EUR,URL,hello\nA-2,1.00,EUR,URL,${'x'.repeat(2 * 1024 * 1024)}\n`);
    const r3 = await runCli(['validate', long]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(new RegExp(`${long.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 3: this line is longer than 1 MiB`));
    expect(existsSync(join(dir, 'long.report.csv'))).toBe(false);
  }, 60_000);

  it('a byte that is not UTF-8 after the first 64 KiB is reported on its own line, also when a read chunk starts mid-character', async () => {
    const lines: Buffer[] = [Buffer.from('invoice,amount,currency,channel,message\n')];
    let size = lines[0]!.length;
    let n = 1;
    const add = (b: Buffer) => {
      lines.push(b);
      size += b.length;
      n++;
    };
    while (size < 65_000) add(Buffer.from(`A-${n + 1},1.00,EUR,URL,cafe\n`));
    // An "é" whose two bytes straddle byte 65536, where a read chunk ends.
    const head = `A-${n + 1},1.00,EUR,URL,`;
    add(Buffer.from(`${head}${'x'.repeat(65_535 - size - head.length)}é\n`, 'utf8'));
    for (let i = 0; i < 100; i++) add(Buffer.from(`A-${n + 1},1.00,EUR,URL,cafe\n`));
    // Then one Windows-1252 "é" on the next line.
    add(Buffer.concat([Buffer.from(`A-${n + 1},1.00,EUR,URL,caf`), Buffer.from([0xe9, 0x0a])]));
    const badLine = n;
    for (let i = 0; i < 10; i++) add(Buffer.from(`A-${n + 1},1.00,EUR,URL,cafe\n`));
    const file = join(dir, 'late-latin1.csv');
    await writeFile(file, Buffer.concat(lines));
    const r = await runCli(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`paybatch: ${file}, line ${badLine}: this line is not valid UTF-8 although the start of the file is; re-save the file as "CSV UTF-8", or pass --encoding windows-1252`);
  });

  it('UTF-16 without a byte-order mark names the encoding and the fix, and reads with it', async () => {
    const text = 'invoice,amount,currency,channel\nU-1,10.00,EUR,URL\nU-2,12.50,EUR,URL\n';
    const le = join(dir, 'utf16le.csv');
    await writeFile(le, Buffer.from(text, 'utf16le'));
    const r = await runCli(['validate', le]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`paybatch: ${le}: the file looks like UTF-16 little-endian text without a byte-order mark (every other byte is zero); pass --encoding utf-16le, or re-save it as "CSV UTF-8"`);
    const ok = await runCli(['validate', le, '--encoding', 'utf-16le']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/2 rows checked/);
  });

  it('a file of one row is counted as one row', async () => {
    const one = join(dir, 'one.csv');
    await writeFile(one, 'invoice,amount,currency,channel\nO-1,10.00,EUR,URL\n');
    const r = await runCli(['validate', one]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${one}: 1 row checked, nothing sent`);
  });

  it('a missing column, an unknown --map field, a missing file', async () => {
    await writeFile(join(dir, 'nocur.csv'), 'invoice,amount,channel\nA,10,URL\n');
    const noCurrency = await runCli(['validate', join(dir, 'nocur.csv')]);
    expect(noCurrency.code).toBe(2);
    expect(noCurrency.stderr).toMatch(/^paybatch: .*nocur\.csv: no currency column \(or pass --currency EUR for the whole file\); the file's columns are: "invoice", "amount", "channel"/);

    const badMap = await runCli(['validate', join(dir, 'nocur.csv'), '--map', 'montant=amount']);
    expect(badMap.code).toBe(2);
    expect(badMap.stderr).toMatch(/^paybatch: --map montant=amount: "montant" is not a paybatch field/);

    const missing = await runCli(['validate', join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv: no such file\n$/);
  });
});

describe('paybatch validate on a big export (read and parsed on a second thread)', () => {
  it('given 50 000 invoices (over 4 MiB) with bad rows and a duplicate, the report and the rows to fix are byte for byte those of a check on one thread', async () => {
    const lines = ['invoice,customer,amount,currency,channel,email,phone,locale,subject'];
    for (let i = 0; i < 50_000; i++) {
      if (i % 10_000 === 7) lines.push(`INV-${i},"Client ${i}\nsecond line",1.234,EUR,MAIL,c${i}@example.com,,fr_FR,Facture`);
      else if (i === 30_001) lines.push(`INV-12,"=HYPERLINK(""x"")",5,EUR,MAIL,dup@example.com,,fr_FR,Facture`);
      else if (i % 5 === 0) lines.push(`INV-${i},Client ${i},${(i % 900) + 10}.50,EUR,SMS,,+336${String(10_000_000 + i).slice(-8)},fr_FR,`);
      else lines.push(`INV-${i},"Client ${i}, SARL",${(i % 900) + 10}.50,EUR,MAIL,c${i}@example.com,,fr_FR,Facture ${i}`);
    }
    const big = join(dir, 'big.csv');
    await writeFile(big, lines.join('\n') + '\n');
    const r = await runCli(['validate', big, '--json', '--tz', 'UTC']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 50_000, statuses: { VALID: 49_994, INVALID: 6 }, errorCodes: { INT_009: 5, PB_DUPLICATE_ORDER_ID: 1 } });
    const rows = await report(join(dir, 'big.validation.csv'));
    expect(rows).toHaveLength(50_000);
    expect(rows.filter((x) => x.status === 'INVALID').map((x) => [x.invoice, x.line, x.errorCode])).toEqual([
      ...[7, 10_007, 20_007].map((i, k) => [`INV-${i}`, String(i + 2 + k), 'INT_009']),
      ['INV-12', '30006', 'PB_DUPLICATE_ORDER_ID'],
      ...[30_007, 40_007].map((i, k) => [`INV-${i}`, String(i + 5 + k), 'INT_009']),
    ]);

    // The same file checked on this thread alone (the path of small files), with the same clock and zone.
    const now = new Date();
    const one = { report: join(dir, 'one.validation.csv'), fix: join(dir, 'one.validation.tofix.csv') };
    const two = { report: join(dir, 'two.validation.csv'), fix: join(dir, 'two.validation.tofix.csv') };
    const judging = { now, timeZone: 'UTC', map: {}, defaults: {} };
    const here = await validateFile(big, judging, one);
    const there = await validateFile(big, { ...judging, offThread: true }, two);
    expect(there).toEqual(here);
    const same = async (a: string, b: string) => (await readFile(a)).equals(await readFile(b));
    expect(await same(two.report, one.report)).toBe(true);
    expect(await same(two.fix, one.fix)).toBe(true);
    expect(await same(join(dir, 'big.validation.csv'), one.report)).toBe(true);
  });

  it('a malformed record deep in a big file fails with its line, exit 2, and leaves no report behind', async () => {
    const lines = ['invoice,amount,currency,channel,email,subject'];
    for (let i = 0; i < 60_000; i++) lines.push(i === 55_555 ? `INV-${i},12,EUR,MAIL,"c@example.com"x,Facture` : `INV-${i},12.00,EUR,MAIL,c${i}@example.com,Facture ${i}`);
    const bad = join(dir, 'bad-big.csv');
    await writeFile(bad, lines.join('\n') + '\n');
    const r = await runCli(['validate', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/bad-big\.csv, line 55557/);
    expect(existsSync(join(dir, 'bad-big.validation.csv'))).toBe(false);
    expect(existsSync(join(dir, 'bad-big.validation.csv.partial'))).toBe(false);
  });

  it('an option refused after the reading thread was given the file (--phone-region XX) is one line, exit 2, and the process ends', async () => {
    const lines = ['invoice,amount,currency,channel,phone,locale'];
    for (let i = 0; i < 200_000; i++) lines.push(`INV-${i},12.00,EUR,SMS,+336${String(10_000_000 + i)},fr_FR`);
    const f = join(dir, 'sms-big.csv');
    await writeFile(f, lines.join('\n') + '\n');
    const r = await runCli(['validate', f, '--phone-region', 'XX']);
    expect([r.code, r.stderr.trim()]).toEqual([2, 'paybatch: --phone-region XX: write a two-letter country code such as FR, GB or US']);
    expect(existsSync(join(dir, 'sms-big.validation.csv'))).toBe(false);
    const ok = await runCli(['validate', f, '--phone-region', 'fr', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 200_000, statuses: { VALID: 200_000 } });
  });
});
