import { openCsv, type CsvSource, type OpenCsvOptions } from '../csv/read.js';
import { buildMapping, type Mapping, type MappingOptions } from './map.js';
import { judgeRow } from './judge.js';
import { OrderIdSet } from './order-id-set.js';
import type { JudgedRow } from './types.js';

export interface JudgeFileOptions extends OpenCsvOptions, Omit<MappingOptions, 'file'> {
  /** The run's clock, read once: every row is judged against it. */
  now: Date;
  /** `--phone-region CC`. */
  phoneRegion?: string;
  /** `--tz`: IANA zone for dates without time and the request's offset. Default UTC (the CLI passes the machine's). */
  timeZone?: string;
}

/**
 * Reads, maps and judges a file as a stream: memory stays flat apart from the set of orderIds met (needed to refuse
 * duplicates). The header and the mapping are checked before the first row, so a wrong `--map` fails before any work.
 */
export async function judgeFile(file: string, opts: JudgeFileOptions): Promise<{ source: CsvSource; mapping: Mapping; rows: AsyncIterable<JudgedRow> }> {
  const source = await openCsv(file, { encoding: opts.encoding, delimiter: opts.delimiter });
  let mapping: Mapping;
  try {
    mapping = buildMapping(source.headers, { map: opts.map, defaults: opts.defaults, file });
  } catch (e) {
    source.close();
    throw e;
  }
  const ctx = { now: opts.now, seen: new OrderIdSet(), phoneRegion: opts.phoneRegion, timeZone: opts.timeZone };
  async function* rows(): AsyncGenerator<JudgedRow> {
    for await (const row of source.rows) yield { ...row, judgement: judgeRow(row, mapping, ctx) };
  }
  return { source, mapping, rows: rows() };
}
