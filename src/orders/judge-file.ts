import { openCsv, type CsvSource, type OpenCsvOptions } from '../csv/read.js';
import { openCsvOffThread } from '../csv/off-thread/open-off-thread.js';
import { readingOptions } from '../csv/off-thread/spawn-reader.js';
import { buildMapping, type Mapping, type MappingOptions } from './map.js';
import { judgeRow } from './judge.js';
import { OrderIdSet } from './order-id-set.js';
import type { JudgedRow } from './types.js';
import { flatten } from '../lib/flatten.js';
import { isSupportedCountry } from 'libphonenumber-js/max';
import { ConfigError } from '../errors/paybatch-error.js';

export interface JudgeFileOptions extends OpenCsvOptions, Omit<MappingOptions, 'file'> {
  /** The run's clock, read once: every row is judged against it. */
  now: Date;
  /** `--phone-region CC`. */
  phoneRegion?: string;
  /** `--tz`: IANA zone for dates without time and the request's offset. Default UTC (the CLI passes the machine's). */
  timeZone?: string;
  /** Read and parse on a worker thread (`openCsvOffThread`): for big files, where a second core halves the time. */
  offThread?: boolean;
}

export interface JudgedFile {
  source: CsvSource;
  mapping: Mapping;
  /** Every row in file order, judged; iterate once. Throws `InputError` on a malformed record. */
  rows: AsyncIterable<JudgedRow>;
  /** The same rows a batch at a time (see `CsvSource.batches`). Iterate either `rows` or `batches`, once, not both. */
  batches: AsyncIterable<JudgedRow[]>;
}

/**
 * Reads, maps and judges a file as a stream: memory stays flat apart from the set of orderIds met (needed to refuse
 * duplicates). The header and the mapping are checked before the first row, so a wrong `--map` fails before any work.
 */
export async function judgeFile(file: string, opts: JudgeFileOptions): Promise<JudgedFile> {
  if (opts.phoneRegion !== undefined && !isSupportedCountry(opts.phoneRegion.toUpperCase())) {
    throw new ConfigError('PB_OPTION', `--phone-region ${opts.phoneRegion}: write a two-letter country code such as FR, GB or US`);
  }
  const csvOpts = readingOptions(opts);
  const source = await (opts.offThread ? openCsvOffThread(file, csvOpts) : openCsv(file, csvOpts));
  let mapping: Mapping;
  try {
    mapping = buildMapping(source.headers, { map: opts.map, defaults: opts.defaults, file });
  } catch (e) {
    source.close();
    throw e;
  }
  // Sized for four fifths of the estimate: it may be a little high, and a table sized past the file's ids would hold
  // twice the memory it needs.
  const seen = new OrderIdSet(Math.floor(source.estimatedRows * 0.8));
  const ctx = { now: opts.now, seen, phoneRegion: opts.phoneRegion, timeZone: opts.timeZone };
  async function* batches(): AsyncGenerator<JudgedRow[]> {
    for await (const raw of source.batches) {
      const judged: JudgedRow[] = new Array(raw.length);
      for (let k = 0; k < raw.length; k++) {
        const row = raw[k]!;
        judged[k] = { index: row.index, line: row.line, cells: row.cells, csv: row.csv, judgement: judgeRow(row, mapping, ctx) };
      }
      yield judged;
    }
  }
  const batched = batches();
  return { source, mapping, rows: flatten(batched), batches: batched };
}
