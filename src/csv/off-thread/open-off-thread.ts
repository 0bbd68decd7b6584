import { unpackError } from '../../errors/cross-thread.js';
import { flatten } from '../../lib/flatten.js';
import type { RawRow } from '../raw-row.js';
import type { CsvSource, OpenCsvOptions } from '../read.js';
import { takeReaderThread, type FromReader } from './spawn-reader.js';
import { csvCellFormatter } from '../write.js';

/**
 * `openCsv` on a worker thread, for big files: csv-parse runs on another core while the caller judges. The same
 * `CsvSource` (rows, lines, errors). What keeps the validate rows/s row above its target (bench/notes.md).
 */
export async function openCsvOffThread(file: string, opts: OpenCsvOptions = {}): Promise<CsvSource> {
  const thread = takeReaderThread(file, opts);
  thread.read(file, opts);
  const { taken } = thread;
  const close = () => thread.close();

  const opened = await thread.next();
  if (opened.t !== 'open') {
    close();
    throw opened.t === 'fail' ? unpackError(opened.error) : new Error(`reading thread: unexpected ${opened.t}`);
  }
  const { t: _open, ...sniffed } = opened;
  const width = sniffed.headers.length;
  const { delimiter } = sniffed;

  async function* batches(): AsyncGenerator<RawRow[]> {
    try {
      while (true) {
        const m = await thread.next();
        if (m.t === 'end') {
          thread.finish();
          return;
        }
        if (m.t === 'fail') throw unpackError(m.error);
        if (m.t !== 'batch') throw new Error(`reading thread: unexpected ${m.t}`);
        Atomics.add(taken, 0, 1);
        Atomics.notify(taken, 0);
        yield unpack(m, width, delimiter);
      }
    } finally {
      if (!thread.finished) thread.close();
    }
  }
  const batched = batches();
  return { file, ...sniffed, rows: flatten(batched), batches: batched, close };
}

/**
 * A packed batch (`packBatch`) as rows again, each with its CSV record: the joined cells as they came, only the cells
 * that need quotes or the formula guard formatted. On this side because the reading thread is the bottleneck.
 */
function unpack(m: Extract<FromReader, { t: 'batch' }>, width: number, delimiter: string): RawRow[] {
  const { text, ends, lines } = m;
  const format = csvCellFormatter(delimiter);
  const gap = delimiter.length;
  const n = lines.length;
  const rows: RawRow[] = new Array(n);
  let k = 0;
  let from = 0;
  for (let r = 0; r < n; r++) {
    const cells: string[] = new Array(width);
    let at = from;
    // The record so far, up to `copied` in `text`; undefined while every cell is as it came.
    let csv: string | undefined;
    let copied = from;
    for (let c = 0; c < width; c++) {
      const end = ends[k++]!;
      const cell = text.slice(at, end);
      const written = format(cell);
      if (written !== cell) {
        csv = (csv ?? '') + text.slice(copied, at) + written;
        copied = end;
      }
      cells[c] = cell;
      at = end + gap;
    }
    const to = at - gap;
    const record = csv === undefined ? text.slice(from, to) : csv + text.slice(copied, to);
    rows[r] = { index: m.index + r, line: lines[r]!, cells, csv: record };
    from = to;
  }
  return rows;
}

/**
 * Rows packed to cross to another thread: every row's cells joined by the delimiter in one string, plus where each
 * cell ends — cheaper to post than arrays of strings, and a joined row is often its CSV record already.
 */
export function packBatch(batch: readonly RawRow[], width: number, delimiter: string): Extract<FromReader, { t: 'batch' }> {
  let text = '';
  const ends = new Uint32Array(batch.length * width);
  const lines = new Float64Array(batch.length);
  let k = 0;
  for (let r = 0; r < batch.length; r++) {
    const cells = batch[r]!.cells;
    lines[r] = batch[r]!.line;
    for (let c = 0; c < width; c++) {
      text = c === 0 ? text + cells[c]! : text + delimiter + cells[c]!;
      ends[k++] = text.length;
    }
  }
  return { t: 'batch', index: batch[0]!.index, text, ends, lines };
}
