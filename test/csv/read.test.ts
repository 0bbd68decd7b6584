import { describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { openCsv, type CsvSource } from '../../src/csv/read.js';
import { PaybatchError } from '../../src/errors/paybatch-error.js';
import type { RawRow } from '../../src/csv/raw-row.js';
import { tempFiles } from '../support/temp-files.js';
import { failure } from '../support/failure.js';

const spectrum = fileURLToPath(new URL('../fixtures/csv/spectrum/', import.meta.url));
const { dir: tempDir, fileWith } = tempFiles('paybatch-read-');

async function all(source: CsvSource): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for await (const r of source.rows) rows.push(r);
  return rows;
}

describe('the csv-spectrum cases read as their JSON says', async () => {
  const names = (await readdir(spectrum)).filter((f) => f.endsWith('.csv')).map((f) => f.slice(0, -4));
  it('has all twelve cases', () => expect(names).toHaveLength(12));
  for (const name of names) {
    it(name, async () => {
      const source = await openCsv(join(spectrum, `${name}.csv`));
      const expected = JSON.parse(await readFile(join(spectrum, `${name}.json`), 'utf8')) as Record<string, string>[];
      const records = (await all(source)).map((r) => Object.fromEntries(source.headers.map((h, i) => [h, r.cells[i]])));
      expect(records).toEqual(expected);
      expect(source.delimiter).toBe(',');
      expect(source.lineEnding).toBe(name.endsWith('crlf') ? '\r\n' : '\n');
    });
  }
});

describe('encodings', () => {
  it('given a French Excel export in Windows-1252, reads the accents and says so', async () => {
    const f = await fileWith('fr.csv', iconv.encode('N° facture;Client\r\nF-1;Crêperie Ève\r\n', 'windows-1252'));
    const source = await openCsv(f);
    expect(source).toMatchObject({ encoding: 'windows-1252', delimiter: ';', bom: false, lineEnding: '\r\n', headers: ['N° facture', 'Client'] });
    expect((await all(source))[0]!.cells).toEqual(['F-1', 'Crêperie Ève']);
  });

  it('given UTF-8 with a BOM, the BOM is not part of the first header', async () => {
    const f = await fileWith('bom.csv', '\uFEFFinvoice,amount\nA,1\n');
    const source = await openCsv(f);
    expect(source).toMatchObject({ encoding: 'utf8', bom: true, headers: ['invoice', 'amount'] });
  });

  it('given Excel "Unicode text" (UTF-16 LE with BOM, tab-separated), reads it', async () => {
    const f = await fileWith('u16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode('invoice\tname\r\nA\tZoë\r\n', 'utf-16le')]));
    const source = await openCsv(f);
    expect(source).toMatchObject({ encoding: 'utf-16le', bom: true, delimiter: '\t', headers: ['invoice', 'name'] });
    expect((await all(source))[0]!.cells).toEqual(['A', 'Zoë']);
  });

  it('--encoding wins over detection', async () => {
    const f = await fileWith('forced.csv', iconv.encode('a,b\n1,é\n', 'windows-1252'));
    const source = await openCsv(f, { encoding: 'cp1252' });
    expect(source.encoding).toBe('windows-1252');
    expect((await all(source))[0]!.cells).toEqual(['1', 'é']);
  });

  it('an unknown --encoding is a setting error that names the flag', async () => {
    const f = await fileWith('x.csv', 'a\n1\n');
    await expect(openCsv(f, { encoding: 'klingon' })).rejects.toThrow(/--encoding/);
  });

  it('given a UTF-8 file with a Windows-1252 byte after the first 64 KiB, fails naming that line instead of mangling it', async () => {
    const head = 'invoice,name\n' + Array.from({ length: 5000 }, (_, i) => `INV-${i},plain ascii name\n`).join('');
    const f = await fileWith('late.csv', Buffer.concat([Buffer.from(head), Buffer.from('INV-X,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    const source = await openCsv(f);
    expect(source.encoding).toBe('utf8');
    const e = await failure(all(source));
    expect(e.message).toMatch(/late\.csv, line 5002: .*not valid UTF-8.*--encoding windows-1252/);
  });

  it.each([
    ['a 2-byte', 'é'],
    ['a 3-byte', '€'],
    ['a 4-byte', '😀'],
  ])('given UTF-8 with %s character cut by every read boundary, reads it whole', async (_, ch) => {
    // Each row is as long as a read chunk (16 KiB) plus one byte: the character lands across a boundary at every offset.
    const bytes = Buffer.byteLength(ch);
    const rows = Array.from({ length: 8 }, (_, i) => `INV-${i},${'x'.repeat(16384 - 7 - bytes + i)}${ch}\n`);
    const f = await fileWith('cut.csv', 'invoice,name\n' + rows.join(''));
    const got = await all(await openCsv(f, { encoding: 'utf8' }));
    expect(got.map((r) => r.cells[1]!.slice(-ch.length))).toEqual(Array(8).fill(ch));
  });

  it('given UTF-8 whose character is cut by a read boundary and finished wrongly, fails naming that line', async () => {
    const head = 'invoice,name\n' + Array.from({ length: 3 }, (_, i) => `INV-${i},plain\n`).join('');
    const pad = 'x'.repeat(16384 - Buffer.byteLength(head) - 'INV-X,'.length - 1);
    // 0xE2 0x82 starts a 3-byte character at the last byte before the boundary; "A" after it is not its continuation.
    const f = await fileWith('cutbad.csv', Buffer.concat([Buffer.from(`${head}INV-X,${pad}`), Buffer.from([0xe2, 0x82]), Buffer.from('A\n')]));
    const e = await failure(all(await openCsv(f, { encoding: 'utf8' })));
    expect(e.message).toMatch(/cutbad\.csv, line 5: .*not valid UTF-8/);
  });

  it('given UTF-8 that ends in the middle of a character, fails with the fix', async () => {
    const f = await fileWith('end.csv', Buffer.concat([Buffer.from('invoice,name\nINV-1,caf'), Buffer.from([0xc3])]));
    const e = await failure(all(await openCsv(f, { encoding: 'utf8' })));
    expect(e.message).toMatch(/end\.csv: the file ends in the middle of a UTF-8 character/);
  });
});

describe('delimiters and line endings', () => {
  it.each([
    [';', 'invoice;amount\nA;1 234,56\nB;20,00\n'],
    ['\t', 'invoice\tamount\nA\t1,234.56\n'],
    ['|', 'invoice|amount|note\nA|1,5|"x; y, z"\n'],
    [',', 'invoice,amount,note\nA,"1,5","x; y"\n'],
  ])('sniffs %j', async (delimiter, content) => {
    const source = await openCsv(await fileWith('d.csv', content));
    expect(source.delimiter).toBe(delimiter);
    expect(source.headers[0]).toBe('invoice');
  });

  it('--delimiter wins, by character or by name', async () => {
    const f = await fileWith('forced-d.csv', 'a;b,c\n1;2,3\n');
    expect((await openCsv(f, { delimiter: ',' })).headers).toEqual(['a;b', 'c']);
    expect((await openCsv(f, { delimiter: 'semicolon' })).headers).toEqual(['a', 'b,c']);
  });

  it("Excel's sep= hint line names the delimiter and is not the header", async () => {
    const source = await openCsv(await fileWith('sep.csv', 'sep=;\r\ninvoice;amount\r\nA;1,50\r\n'));
    expect(source).toMatchObject({ sepLine: true, delimiter: ';', headers: ['invoice', 'amount'] });
    expect(await all(source)).toEqual([{ index: 0, line: 3, cells: ['A', '1,50'] }]);
  });

  it('a one-column file is read as such', async () => {
    const source = await openCsv(await fileWith('one.csv', 'invoice\nA\nB\n'));
    expect((await all(source)).map((r) => r.cells)).toEqual([['A'], ['B']]);
  });
});

describe('records, lines and ragged rows', () => {
  it('numbers each record by the line it starts on, through multi-line quoted fields and skipped empty lines (CRLF too)', async () => {
    const f = await fileWith('lines.csv', 'a,b\r\n1,"two\r\nlines"\r\n\r\n\r\n3,4\r\n5,6');
    const rows = await all(await openCsv(f));
    expect(rows.map((r) => [r.index, r.line])).toEqual([
      [0, 2],
      [1, 6],
      [2, 7],
    ]);
  });

  it('reads old Excel-for-Mac files ending records with a lone CR, counting their lines', async () => {
    const source = await openCsv(await fileWith('mac.csv', 'a;b\r1;"x\ry"\r3;4\r'));
    expect(source).toMatchObject({ delimiter: ';', lineEnding: '\r\n' });
    expect((await all(source)).map((r) => [r.line, ...r.cells])).toEqual([
      [2, '1', 'x\ry'],
      [4, '3', '4'],
    ]);
  });

  it('counts only the line breaks of the file in quoted values: a lone CR in a LF file is not one, a LF after empty lines is', async () => {
    const f = await fileWith('mixed.csv', 'a,b\n1,"x\ry"\n\n2,"p\nq"\n3,"\r"\n4,4\n');
    expect((await all(await openCsv(f))).map((r) => [r.line, ...r.cells])).toEqual([
      [2, '1', 'x\ry'],
      [4, '2', 'p\nq'],
      [6, '3', '\r'],
      [7, '4', '4'],
    ]);
  });

  it('pads rows with fewer cells (Excel drops trailing empty cells) and drops empty extra cells (a trailing delimiter)', async () => {
    const f = await fileWith('ragged.csv', 'a;b;c\n1\n1;2;3;;\n');
    expect((await all(await openCsv(f))).map((r) => r.cells)).toEqual([
      ['1', '', ''],
      ['1', '2', '3'],
    ]);
  });

  it('refuses a row with more values than columns, naming the file and line and the likely cause', async () => {
    const f = await fileWith('extra.csv', 'invoice,amount\nA,12\nB,1,234.56\n');
    const e = await failure(all(await openCsv(f)));
    expect(e.message).toMatch(/extra\.csv, line 3: this line has 3 values but the header row names 2 columns.*double quotes/);
    expect(e.exitCode).toBe(2);
  });

  it('keeps duplicate and empty header names as they are, for the report to echo', async () => {
    const source = await openCsv(await fileWith('dups.csv', 'a,,a\n1,2,3\n'));
    expect(source.headers).toEqual(['a', '', 'a']);
  });

  it('a header-only file has no rows', async () => {
    expect(await all(await openCsv(await fileWith('h.csv', 'invoice,amount\n')))).toEqual([]);
  });
});

describe('malformed files fail with one line naming file and line', () => {
  it('an unclosed quote', async () => {
    const f = await fileWith('unclosed.csv', 'invoice,name\nA,ok\nB,"never closed\nC,x\n');
    const e = await failure(all(await openCsv(f)));
    expect(e.message).toMatch(/^.*unclosed\.csv, line 3(, column name)?: a double quote opened in this record is never closed/);
    expect(e.message).not.toContain('\n');
  });

  it('a stray quote after a quoted value', async () => {
    const f = await fileWith('stray.csv', 'invoice,name\nA,"x"y\n');
    const e = await failure(all(await openCsv(f)));
    expect(e.message).toMatch(/stray\.csv, line 2.*quoted value is followed by other characters/);
  });

  it('a stray quote after empty lines names the line of that record, not the start of the file', async () => {
    const f = await fileWith('late-stray.csv', 'invoice,amount\n\n\nF1,1\n\nF2,"x"y\n');
    const e = await failure(all(await openCsv(f)));
    expect(e.message).toMatch(/late-stray\.csv, line 6(, column amount)?: a quoted value is followed by other characters/);
  });

  it('an unclosed quote in an old Mac (CR-only) file names its line', async () => {
    const f = await fileWith('mac-unclosed.csv', 'a;b\r1;"x\ry"\r\r3;"open\r4;5\r');
    const e = await failure(all(await openCsv(f)));
    expect(e.message).toMatch(/mac-unclosed\.csv, line 5(, column b)?: a double quote opened in this record is never closed/);
  });

  it('an empty file', async () => {
    const e = await failure(openCsv(await fileWith('empty.csv', '')));
    expect(e.message).toMatch(/empty\.csv: the file is empty/);
  });

  it('a file that does not exist', async () => {
    const e = await failure(openCsv(join(tempDir(), 'nope.csv')));
    expect(e.message).toMatch(/nope\.csv: no such file/);
    expect(PaybatchError.is(e)).toBe(true);
  });
});

describe('streaming', () => {
  it('reads a 200 000-row file record by record, in order, with the right lines', async () => {
    const n = 200_000;
    const f = join(tempDir(), 'big.csv');
    const { createWriteStream } = await import('node:fs');
    const out = createWriteStream(f);
    out.write('invoice,amount\n');
    for (let i = 0; i < n; i++) if (!out.write(`INV-${i},${i}.00\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((r) => out.end(() => r()));
    let count = 0;
    let last: RawRow | undefined;
    for await (const r of (await openCsv(f)).rows) {
      count++;
      last = r;
    }
    expect(count).toBe(n);
    expect(last).toEqual({ index: n - 1, line: n + 1, cells: [`INV-${n - 1}`, `${n - 1}.00`] });
  });

  it('says about how many rows a file holds before reading it: a few percent off for a big file, exact for a small one', async () => {
    // Invoice numbers and names grow longer down the file, as they do in real exports.
    const big = await fileWith('estimate.csv', 'invoice,name,amount\n' + Array.from({ length: 50_000 }, (_, i) => `INV-${i},Client ${i * 7},${i}.00\n`).join(''));
    const estimate = (await openCsv(big)).estimatedRows;
    expect(estimate).toBeGreaterThan(50_000 * 0.95);
    expect(estimate).toBeLessThan(50_000 * 1.25);
    expect((await openCsv(await fileWith('small.csv', 'invoice,amount\nA,1\nB,2\nC,3'))).estimatedRows).toBe(3);
    expect((await openCsv(await fileWith('header.csv', 'invoice,amount\n'))).estimatedRows).toBe(0);
  });

  it('hands out the same records a batch at a time, lines and indexes included', async () => {
    const content = 'a,b\r\n' + Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? `${i},"x\r\ny"\r\n\r\n` : `${i},${'z'.repeat(40)}\r\n`)).join('');
    const f = await fileWith('batches.csv', content);
    const one = await all(await openCsv(f));
    const batched: RawRow[] = [];
    let batches = 0;
    for await (const batch of (await openCsv(f)).batches) {
      batches++;
      batched.push(...batch);
    }
    expect(batches).toBeGreaterThan(1);
    expect(batched).toEqual(one);
    expect(one[7]).toEqual({ index: 7, line: 11, cells: ['7', 'x\r\ny'] });
    // Every 7th record spans two lines and is followed by an empty line.
    const lines: number[] = [];
    for (let i = 0, line = 2; i < 3000; i++) {
      lines.push(line);
      line += i % 7 === 0 ? 3 : 1;
    }
    expect(one.map((r) => r.line)).toEqual(lines);
  });

  it('reads accents and quoted line breaks that straddle the chunks the file is read in', async () => {
    const names = ['Crêperie Ève', 'Zoë «Noël» €', '北京 ✓', 'a\nb "c"'];
    const content = 'invoice,name\n' + Array.from({ length: 4000 }, (_, i) => `INV-${i},"${names[i % 4]!.replace(/"/g, '""')}"\n`).join('');
    const rows = await all(await openCsv(await fileWith('accents.csv', content)));
    expect(rows).toHaveLength(4000);
    expect(rows.every((r, i) => r.cells[1] === names[i % 4])).toBe(true);
    expect(rows[3999]!.line).toBe(2 + 3999 + 999);
  });

  it('close() stops reading before the end', async () => {
    const rows = 200_000;
    const source = await openCsv(await fileWith('stop.csv', `a\n${Array.from({ length: rows }, (_, i) => i).join('\n')}\n`));
    let read = 0;
    let failure: unknown;
    try {
      for await (const row of source.rows) {
        read += 1;
        if (row.index === 0) {
          source.close();
          source.close(); // idempotent
        }
      }
    } catch (e) {
      failure = e;
    }
    // The rows already parsed may still come; the rest of the file is never read, and nothing is thrown.
    expect(failure).toBeUndefined();
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(rows);
  });
});
