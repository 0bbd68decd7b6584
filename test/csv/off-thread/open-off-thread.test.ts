import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { openCsv, type CsvSource } from '../../../src/csv/read.js';
import { openCsvOffThread } from '../../../src/csv/off-thread/open-off-thread.js';
import { dropEarlyReader, readEarly, startReaderEarly, takeReaderThread } from '../../../src/csv/off-thread/spawn-reader.js';
import { formatCsvRecord } from '../../../src/csv/write.js';
import { PaybatchError } from '../../../src/errors/paybatch-error.js';
import type { RawRow } from '../../../src/csv/raw-row.js';
import { tempFiles } from '../../support/temp-files.js';
import { failure } from '../../support/failure.js';

const { dir: tempDir, fileWith } = tempFiles('paybatch-offthread-');

/** The rows without `csv` (which only the off-thread reader sets: checked apart). */
async function read(source: CsvSource): Promise<{ format: object; rows: RawRow[] }> {
  const rows: RawRow[] = [];
  for await (const batch of source.batches) for (const { csv: _csv, ...row } of batch) rows.push(row);
  const { headers, delimiter, encoding, bom, lineEnding, sepLine, estimatedRows } = source;
  return { format: { headers, delimiter, encoding, bom, lineEnding, sepLine, estimatedRows }, rows };
}

describe('a file read on a second thread reads exactly as on this one', () => {
  it('given a French Excel export (Windows-1252, sep= line, ;, CRLF, quoted line breaks, empty lines), the same rows on the same lines', async () => {
    const body = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? `F-${i};"Crêperie\r\nÈve; ""SARL""";12,50\r\n\r\n` : `F-${i};Noël €;1 234,56\r\n`)).join('');
    const f = await fileWith('fr.csv', iconv.encode(`sep=;\r\nN° facture;Client;Montant\r\n${body}`, 'windows-1252'));
    const here = await read(await openCsv(f));
    const there = await read(await openCsvOffThread(f));
    expect(there).toEqual(here);
    expect(there.rows).toHaveLength(3000);
  });

  it('the thread hands over the batches that 32 KiB given to csv-parse at a time make, half as many as by default', async () => {
    const f = await fileWith('many.csv', 'invoice,name\n' + Array.from({ length: 20_000 }, (_, i) => `INV-${i},"Client ${i}, SARL"\n`).join(''));
    const sizes = async (source: CsvSource) => {
      const out: number[] = [];
      for await (const batch of source.batches) out.push(batch.length);
      return out;
    };
    const byDefault = await sizes(await openCsv(f));
    const here = await sizes(await openCsv(f, { readBytes: 64 * 1024, batchBytes: 32 * 1024 }));
    expect(here.length).toBeGreaterThan(10);
    expect(here.length).toBeLessThan(byDefault.length * 0.6);
    expect(await sizes(await openCsvOffThread(f))).toEqual(here);
  });

  it('rows can be taken one by one too', async () => {
    const f = await fileWith('one.csv', 'invoice,amount\nA,1\nB,2\n');
    const rows: RawRow[] = [];
    for await (const r of (await openCsvOffThread(f)).rows) rows.push(r);
    expect(rows).toEqual([
      { index: 0, line: 2, cells: ['A', '1'], csv: 'A,1' },
      { index: 1, line: 3, cells: ['B', '2'], csv: 'B,2' },
    ]);
  });

  it('every row comes with its CSV record: its cells as they came, those that need quotes or the formula guard formatted', async () => {
    const f = await fileWith('shapes.csv', 'a;b;c\nA;+33 6 12;-12,50\nB;"x;y";1\nC;"say ""hi""";2\nD;=1+1;3\nE;"two\nlines";4\nF;;\nG\n"H;h";@x;"-1+A1"\n');
    const rows: RawRow[] = [];
    for await (const r of (await openCsvOffThread(f)).rows) rows.push(r);
    expect(rows.map((r) => r.csv)).toEqual([
      'A;+33 6 12;-12,50',
      'B;"x;y";1',
      'C;"say ""hi""";2',
      "D;'=1+1;3",
      'E;"two\nlines";4',
      'F;;',
      'G;;',
      `"H;h";'@x;'-1+A1`,
    ]);
    for (const r of rows) expect(r.csv).toBe(formatCsvRecord(r.cells, ';'));
  });
});

describe('errors cross the thread as the same one-line errors', () => {
  it('a row with more values than columns names the file and line', async () => {
    const f = await fileWith('extra.csv', 'invoice,amount\nA,12\nB,1,234.56\n');
    const here = await failure(read(await openCsv(f)));
    const there = await failure(read(await openCsvOffThread(f)));
    expect(there.message).toBe(here.message);
    expect(there.message).toMatch(/extra\.csv, line 3: this line has 3 values/);
    expect([there.code, there.exitCode, there.where]).toEqual([here.code, here.exitCode, here.where]);
  });

  it('an unclosed quote, and a byte that is not UTF-8 after the sample', async () => {
    const unclosed = await fileWith('unclosed.csv', 'invoice,name\nA,ok\nB,"never closed\nC,x\n');
    expect((await failure(read(await openCsvOffThread(unclosed)))).message).toBe((await failure(read(await openCsv(unclosed)))).message);
    const head = 'invoice,name\n' + Array.from({ length: 5000 }, (_, i) => `INV-${i},plain ascii name\n`).join('');
    const late = await fileWith('late.csv', Buffer.concat([Buffer.from(head), Buffer.from('INV-X,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect((await failure(read(await openCsvOffThread(late)))).message).toMatch(/late\.csv, line 5002: .*not valid UTF-8/);
  });

  it('a missing file and an unknown --encoding fail before any row, as openCsv does', async () => {
    const e = await failure(openCsvOffThread(join(tempDir(), 'nope.csv')));
    expect(e.message).toMatch(/nope\.csv: no such file/);
    expect(PaybatchError.is(e)).toBe(true);
    await expect(openCsvOffThread(await fileWith('x.csv', 'a\n1\n'), { encoding: 'klingon' })).rejects.toThrow(/--encoding/);
  });
});

describe('stopping early', () => {
  it('a caller that stops after the first batch, or closes, ends the thread', async () => {
    const f = await fileWith('long.csv', 'a,b\n' + Array.from({ length: 20000 }, (_, i) => `${i},x\n`).join(''));
    const source = await openCsvOffThread(f);
    for await (const batch of source.batches) {
      expect(batch[0]!.index).toBe(0);
      break;
    }
    const other = await openCsvOffThread(f);
    other.close();
    other.close();
  });
});

describe('a thread started before its file is known (the CLI starts it while validate loads)', () => {
  const big = () => fileWith('early.csv', 'invoice,name\n' + Array.from({ length: 5000 }, (_, i) => `INV-${i},"Client ${i}, SARL"\n`).join(''));

  it('is the one the next file is read on, rows and errors as on a thread started for it', async () => {
    const f = await big();
    startReaderEarly();
    const early = takeReaderThread(f, {});
    startReaderEarly();
    expect(await read(await openCsvOffThread(f))).toEqual(await read(await openCsv(f)));
    // That read took the thread started second; the first is still free, and is given a file by hand here.
    early.read(join(tempDir(), 'missing.csv'), {});
    const m = await early.next();
    expect(m.t === 'fail' && m.error.message).toMatch(/missing\.csv: no such file/);
    early.close();
  });

  it('given its file early (readEarly), the open of that file reads on it; the open of another file on a thread of its own', async () => {
    const f = await big();
    const other = await fileWith('other.csv', 'a;b\n1;2\n');
    startReaderEarly();
    readEarly(f, {});
    expect(await read(await openCsvOffThread(f))).toEqual(await read(await openCsv(f)));
    startReaderEarly();
    readEarly(f, { delimiter: ',' });
    // Not the options the early thread was given: it is stopped, and `other` is read as asked.
    expect((await read(await openCsvOffThread(other, { delimiter: ';' }))).rows.map((r) => r.cells)).toEqual([['1', '2']]);
    const thread = takeReaderThread(f, {});
    thread.read(f, {});
    thread.read(f, {});
    expect(() => thread.read(other, {})).toThrow(/already reading/);
    thread.close();
  });

  it('dropped unused (or given a file that was then not opened), it leaves the next read a thread of its own', async () => {
    startReaderEarly();
    dropEarlyReader();
    dropEarlyReader();
    const f = await fileWith('after-drop.csv', 'a,b\n1,2\n');
    startReaderEarly();
    readEarly(f, {});
    dropEarlyReader();
    expect((await read(await openCsvOffThread(f))).rows.map((r) => r.cells)).toEqual([['1', '2']]);
  });
});
