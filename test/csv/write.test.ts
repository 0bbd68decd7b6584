import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { createCsvWriter, formatCsvCell, formatCsvRecord, neutraliseFormula } from '../../src/csv/write.js';
import { openCsv } from '../../src/csv/read.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paybatch-write-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cells a spreadsheet would run as a formula are neutralised (OWASP CSV injection)', () => {
  it.each([
    ['=HYPERLINK("http://evil.example","click")', `'=HYPERLINK("http://evil.example","click")`],
    ['@SUM(A1:A9)', `'@SUM(A1:A9)`],
    ['+cmd|" /C calc"!A0', `'+cmd|" /C calc"!A0`],
    ['-2+3', `'-2+3`],
    ['-SUM(A1)', `'-SUM(A1)`],
    ['+33 (0)6 12 34 56 78', `'+33 (0)6 12 34 56 78`],
    ['\t=1+1', `'\t=1+1`],
    ['\r=1+1', `'\r=1+1`],
  ])('%j becomes %j', (cell, out) => expect(neutraliseFormula(cell)).toBe(out));

  it.each(['+33612345678', '+33 6 12 34 56 78', '-12.50', '-1 234,56', '+1\u00a0415\u00a0555\u00a02671', '-', 'INV-1', 'a=b', ''])(
    'data %j is left alone',
    (cell) => expect(neutraliseFormula(cell)).toBe(cell),
  );

  it('quotes only what needs quotes, after the guard', () => {
    expect(formatCsvRecord(['a', 'b;c', 'say "hi"', 'two\nlines', '=1;2'], ';')).toBe('a;"b;c";"say ""hi""";"two\nlines";"\'=1;2"');
    expect(formatCsvRecord(['=x'], ',', false)).toBe('=x');
  });

  it('quotes a cell holding only the delimiter, guards a formula among clean cells, leaves phone numbers and empty cells alone', () => {
    expect(formatCsvRecord(['INV-1', 'Client 1, SARL', '12.50'])).toBe('INV-1,"Client 1, SARL",12.50');
    expect(formatCsvRecord(['a', '', 'b', ''])).toBe('a,,b,');
    expect(formatCsvRecord(['a', '-2+3', 'b'])).toBe("a,'-2+3,b");
    expect(formatCsvRecord(['+33612345678', '-12.50', 'x'], ';')).toBe('+33612345678;-12.50;x');
    expect(formatCsvRecord([])).toBe('');
  });

  it('a record is its cells formatted one by one and joined; a cell that needs nothing comes back as it is', () => {
    const cells = ['a', 'b;c', 'say "hi"', 'two\nlines', '=1;2', '+33612345678', '-2+3', ''];
    expect(cells.map((c) => formatCsvCell(c, ';')).join(';')).toBe(formatCsvRecord(cells, ';'));
    expect(formatCsvCell('INV-1')).toBe('INV-1');
    expect(formatCsvCell('=x', ',', false)).toBe('=x');
  });
});

describe('createCsvWriter', () => {
  it('writes a Windows-1252, ;, CRLF file without BOM that reads back identical', async () => {
    const f = join(dir, 'fr.csv');
    const w = createCsvWriter(f, { headers: ['N° facture', 'Client'], delimiter: ';', encoding: 'windows-1252', lineEnding: '\r\n' });
    await w.write(['F-1', 'Crêperie Ève; Noël']);
    await w.close();
    const bytes = await readFile(f);
    expect(bytes.equals(iconv.encode('N° facture;Client\r\nF-1;"Crêperie Ève; Noël"\r\n', 'windows-1252'))).toBe(true);
    const back = await openCsv(f);
    expect(back).toMatchObject({ encoding: 'windows-1252', delimiter: ';', lineEnding: '\r\n', bom: false });
    for await (const r of back.rows) expect(r.cells).toEqual(['F-1', 'Crêperie Ève; Noël']);
  });

  it("repeats Excel's sep= line when the input had one", async () => {
    const f = join(dir, 'sep.csv');
    const w = createCsvWriter(f, { headers: ['a', 'b'], delimiter: ';', lineEnding: '\r\n', sepLine: true });
    await w.write(['1', '2']);
    await w.close();
    expect(await readFile(f, 'utf8')).toBe('sep=;\r\na;b\r\n1;2\r\n');
  });

  it('a record handed already formatted is written as is, in order with the others, after the header', async () => {
    const f = join(dir, 'formatted.csv');
    const w = createCsvWriter(f, { headers: ['a', 'b'], lineEnding: '\r\n', bom: true });
    w.addFormatted('1,"x,y"');
    w.add(['3', '=4']);
    w.addFormatted('5,6');
    await w.close();
    expect(await readFile(f, 'utf8')).toBe('\uFEFFa,b\r\n1,"x,y"\r\n3,\'=4\r\n5,6\r\n');
  });

  it('writes a UTF-8 BOM when asked, and the header even with no row', async () => {
    const f = join(dir, 'bom.csv');
    const w = createCsvWriter(f, { headers: ['a', 'b'], bom: true });
    await w.close();
    expect(await readFile(f, 'utf8')).toBe('\uFEFFa,b\n');
  });

  it('honours back-pressure: 50 000 awaited writes all land, in order', async () => {
    const f = join(dir, 'many.csv');
    const w = createCsvWriter(f, { headers: ['n', 'pad'] });
    const pad = 'x'.repeat(200);
    for (let i = 0; i < 50_000; i++) await w.write([String(i), pad]);
    await w.close();
    const lines = (await readFile(f, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(50_001);
    expect(lines[50_000]).toBe(`49999,${pad}`);
  });

  it('a file that cannot be created is a one-line error naming it', async () => {
    const f = join(dir, 'no-such-folder', 'r.csv');
    const w = createCsvWriter(f, { headers: ['a'] });
    await expect(w.write(['1']).then(() => w.close())).rejects.toThrow(/no-such-folder\/r\.csv: cannot write the file \(ENOENT\)/);
  });
});
