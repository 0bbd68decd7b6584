import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHOP_ID, DEMO_TEST_PASSWORD, startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { storedZip } from '../support/zip.js';
import { runCli } from '../support/cli.js';

let dir: string;
let sandbox: Sandbox;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-xlsx-'));
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A workbook as a finance team saves it: a cover sheet first, numbers as numbers, a date, a formula, rich text. */
const in30Days = new Date(Date.now() + 30 * 86_400_000);
const expiry = new Date(Date.UTC(in30Days.getUTCFullYear(), in30Days.getUTCMonth(), in30Days.getUTCDate()));

async function workbook(path: string): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.addWorksheet('Read me').addRow(['Invoices of March, to be sent on the 1st']);
  const sheet = wb.addWorksheet('March');
  sheet.addRow(['N° facture', 'Montant', 'Devise', 'Canal', 'Expire le']);
  sheet.addRow(['FX-1', 1234.56, 'EUR', 'URL', expiry]);
  sheet.addRow(['FX-2', { formula: 'B2/10', result: 123.45600000000002 }, 'EUR', 'URL', null]);
  sheet.addRow([{ richText: [{ text: 'FX-' }, { text: '3', font: { bold: true } }] }, 12.345, 'EUR', 'URL', null]);
  sheet.getCell('E2').numFmt = 'yyyy-mm-dd';
  const first = wb.addWorksheet('Summary');
  first.addRow(['orderId', 'amount', 'currency', 'channel']);
  first.addRow(['S-1', 5, 'EUR', 'URL']);
  await wb.xlsx.writeFile(path);
}

function env() {
  return { PAYBATCH_API_URL: sandbox.url, PAYBATCH_SHOP_ID: DEMO_SHOP_ID, PAYBATCH_PASSWORD: DEMO_TEST_PASSWORD, PAYBATCH_STATE_DIR: join(dir, 'state'), PAYBATCH_PLATFORM: undefined, REDIS_URL: undefined };
}

describe('an Excel workbook is read directly', () => {
  it('validate and run read the sheet --sheet names, judge it as a CSV, and write CSV reports', async () => {
    const file = join(dir, 'invoices.xlsx');
    await workbook(file);
    const v = await runCli(['validate', file, '--sheet', 'March']);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(1);
    // The rows to fix of a workbook are a CSV file: not "the same format as the input".
    expect(v.stdout).toContain(`rows to fix (2, as CSV: the input's columns): ${join(dir, 'invoices.validation.tofix.csv')}`);
    const report = parse(await readFile(join(dir, 'invoices.validation.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(report.map((r) => [r['N° facture'], r.Montant, r.status, r.orderAmount, r.line]), JSON.stringify(report[0])).toEqual([
      ['FX-1', '1234.56', 'VALID', '1234.56', '2'],
      // A formula's float noise is not the amount: Excel shows 15 significant digits.
      ['FX-2', '123.456', 'INVALID', '', '3'],
      ['FX-3', '12.345', 'INVALID', '', '4'],
    ]);
    // A number cell holds no thousands separator: 12.345 is three decimals, too many for EUR, not "12345 or 12.345?".
    expect(report[2]!.errorMessage).toBe('Montant: the amount "12.345" has 3 decimals but EUR has 2: round it yourself to 2 decimals');
    expect(report[0]!['Expire le']).toBe(expiry.toISOString().slice(0, 10));
    const fix = parse(await readFile(join(dir, 'invoices.validation.tofix.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(fix.map((r) => r['N° facture'])).toEqual(['FX-2', 'FX-3']);
    expect(fix[0]!.paybatchError).toMatch(/^Montant: /);

    const r = await runCli(['run', file, '--sheet', 'March'], { env: env() });
    expect(r.code, r.stderr).toBe(1);
    const run = parse(await readFile(join(dir, 'invoices.report.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(run.map((x) => x.status)).toEqual(['CREATED', 'INVALID', 'INVALID']);
    expect(run[0]!.paymentURL.startsWith(sandbox.url)).toBe(true);
  });

  it('amounts of three-decimal currencies typed as numbers (12.345 KWD, 1.5 TND) are read as the numbers they are', async () => {
    const file = join(dir, 'gulf.xlsx');
    const wb = new ExcelJS.Workbook();
    const sheet = wb.addWorksheet('Invoices');
    sheet.addRow(['Invoice', 'Amount', 'Currency', 'Channel', 'Tax amount']);
    sheet.addRow(['KW-1', 12.345, 'KWD', 'URL', 1.234]);
    sheet.addRow(['TN-1', 1.5, 'TND', 'URL', null]);
    sheet.addRow(['KW-2', '12.345', 'KWD', 'URL', null]);
    await wb.xlsx.writeFile(file);
    const v = await runCli(['validate', file]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^VALID\s+2\s+KWD 12\.345 \(1 row\) · TND 1\.500 \(1 row\)/m);
    const report = parse(await readFile(join(dir, 'gulf.validation.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(report.map((r) => [r.Invoice, r.Amount, r.status, r.orderAmount])).toEqual([
      ['KW-1', '12.345', 'VALID', '12.345'],
      ['TN-1', '1.5', 'VALID', '1.500'],
      // Typed as text, it is what a CSV holds: thousands or decimals cannot be told apart.
      ['KW-2', '12.345', 'INVALID', ''],
    ]);
    expect(report[2]!.errorMessage).toMatch(/ambiguous/);
  });

  it('without --sheet the first sheet is read; a sheet that does not exist is one line naming the sheets', async () => {
    const file = join(dir, 'first.xlsx');
    await workbook(file);
    const first = await runCli(['validate', file]);
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(/no orderId column .*"Invoices of March, to be sent on the 1st"/);
    const none = await runCli(['validate', file, '--sheet', 'April']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`paybatch: ${file}: --sheet April: the workbook has no sheet of that name; its sheets are: "Read me", "March", "Summary"\n`);
  });

  it('a compressed, binary or other non-CSV file is named for what it is: one line, exit 2', async () => {
    const csv = 'orderId,amount,currency,channel\nG-1,10.00,EUR,URL\n';
    await writeFile(join(dir, 'invoices.csv.gz'), gzipSync(csv));
    await writeFile(join(dir, 'scan.pdf'), '%PDF-1.7\n%âãÏÓ\n1 0 obj\n');
    await writeFile(join(dir, 'blob.bin'), Buffer.from([0x4f, 0x00, 0x01, 0x02, 0x22, 0x0a, 0x00]));
    for (const [name, what] of [['invoices.csv.gz', 'a gzip-compressed file'], ['scan.pdf', 'a PDF document'], ['blob.bin', 'a binary file']] as const) {
      const r = await runCli(['validate', join(dir, name), '--currency', 'EUR', '--channel', 'URL']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^paybatch: ${join(dir, name).replace(/[.]/g, '\\.')}: this is ${what}, not a CSV: [^\\n]+\\n$`));
      expect(r.stderr).not.toContain('double quote');
    }
  });
  it('a workbook whose zip holds a sheet before the sheet names (as some tools write it) is read all the same', async () => {
    const file = join(dir, 'out-of-order.xlsx');
    const strings = ['orderId', 'amount', 'currency', 'channel', 'OO-1', 'EUR', 'URL'];
    const cell = (ref: string, s: number) => `<c r="${ref}" t="s"><v>${s}</v></c>`;
    const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';
    await writeFile(
      file,
      storedZip([
        { name: '[Content_Types].xml', text: '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>' },
        { name: '_rels/.rels', text: '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>' },
        { name: 'xl/_rels/workbook.xml.rels', text: '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>' },
        { name: 'xl/sharedStrings.xml', text: `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${strings.length}" uniqueCount="${strings.length}">${strings.map((t) => `<si><t>${t}</t></si>`).join('')}</sst>` },
        { name: 'xl/worksheets/sheet1.xml', text: `<?xml version="1.0" encoding="UTF-8"?><worksheet ${ns}><sheetData><row r="1">${cell('A1', 0)}${cell('B1', 1)}${cell('C1', 2)}${cell('D1', 3)}</row><row r="2">${cell('A2', 4)}<c r="B2"><v>42.5</v></c>${cell('C2', 5)}${cell('D2', 6)}</row></sheetData></worksheet>` },
        { name: 'xl/workbook.xml', text: `<?xml version="1.0" encoding="UTF-8"?><workbook ${ns}><sheets><sheet name="Factures" sheetId="1" r:id="rId1"/></sheets></workbook>` },
      ]),
    );
    const v = await runCli(['validate', file, '--json']);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const report = parse(await readFile(join(dir, 'out-of-order.validation.csv')), { columns: true, bom: true }) as Record<string, string>[];
    expect(report.map((r) => [r.orderId, r.amount, r.status])).toEqual([['OO-1', '42.5', 'VALID']]);
    const wrong = await runCli(['validate', file, '--sheet', 'April']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(`paybatch: ${file}: --sheet April: the workbook has no sheet of that name; its sheets are: "Factures"\n`);
  });
});
