import { openCsv, type OpenCsvOptions } from '../csv/read.js';
import { ConfigError, InputError } from '../errors/paybatch-error.js';
import { ALIAS_TO_FIELD, FIELDS, normaliseHeader } from '../orders/fields.js';
import { judgeFile, type JudgeFileOptions } from '../orders/judge-file.js';
import type { UpdateTarget } from './update.js';

export interface OrderIdSelection {
  /** Distinct orderIds in file order (a second row with the same orderId adds nothing). */
  orderIds: string[];
  /** Data rows read. */
  rows: number;
  /** Rows with an empty orderId cell: they cannot name an order. */
  blank: number;
  /** The header of the orderId column used. */
  header: string;
  /** How FILE is written: an export "in the input's conventions" writes the same way. */
  format: { delimiter: string; bom: boolean; encoding: string };
}

/**
 * The orderId column: `--map orderId=HEADER`, else the field's name or best alias. Only this column matters, so an
 * input file and its run report designate the same orders.
 */
export function findOrderIdColumn(headers: readonly string[], map: Record<string, string> | undefined, file: string): number {
  const listed = headers.map((h) => `"${h}"`).join(', ');
  const wanted = map?.orderId;
  if (wanted !== undefined) {
    const levels: ((h: string) => boolean)[] = [(h) => h === wanted, (h) => h.trim().toLowerCase() === wanted.trim().toLowerCase(), (h) => normaliseHeader(h) !== '' && normaliseHeader(h) === normaliseHeader(wanted)];
    for (const match of levels) {
      const hits = headers.flatMap((h, i) => (match(h) ? [i] : []));
      if (hits.length > 1) throw new InputError('PB_MAP_HEADER', `--map orderId=${wanted}: ${hits.length} columns are named "${wanted}"; rename one`, { file });
      if (hits.length === 1) return hits[0]!;
    }
    throw new InputError('PB_MAP_HEADER', `--map orderId=${wanted}: the file has no column "${wanted}"; its columns are: ${listed}`, { file });
  }
  const ranks = ['orderId', ...FIELDS.orderId.aliases].map(normaliseHeader);
  let best: number[] = [];
  let bestRank = Infinity;
  headers.forEach((h, i) => {
    const key = normaliseHeader(h);
    if (key === '' || ALIAS_TO_FIELD.get(key) !== 'orderId') return;
    const rank = ranks.indexOf(key);
    if (rank < bestRank) {
      best = [i];
      bestRank = rank;
    } else if (rank === bestRank) best.push(i);
  });
  if (best.length > 1) throw new InputError('PB_AMBIGUOUS_COLUMN', `columns ${best.map((i) => `"${headers[i]}"`).join(' and ')} could both be the orderId; say which with --map orderId=HEADER`, { file });
  if (best.length === 0) throw new InputError('PB_MISSING_COLUMN', `no orderId column (the invoice reference); the file's columns are: ${listed}. Name it with --map orderId=HEADER`, { file });
  return best[0]!;
}

/** The orders FILE designates, optionally narrowed to `only` (an id of `only` that is not in FILE is refused before any call). */
export async function selectOrderIds(file: string, opts: OpenCsvOptions & { map?: Record<string, string>; only?: readonly string[]; named?: string }): Promise<OrderIdSelection> {
  const source = await openCsv(file, { encoding: opts.encoding, delimiter: opts.delimiter, ...(opts.sheet !== undefined ? { sheet: opts.sheet } : {}) });
  const seen = new Set<string>();
  const orderIds: string[] = [];
  let rows = 0;
  let blank = 0;
  let header: string;
  try {
    const col = findOrderIdColumn(source.headers, opts.map, file);
    header = source.headers[col]!;
    for await (const row of source.rows) {
      rows += 1;
      const id = (row.cells[col] ?? '').trim();
      if (id === '') {
        blank += 1;
        continue;
      }
      if (seen.has(id)) continue;
      seen.add(id);
      orderIds.push(id);
    }
  } finally {
    source.close();
  }
  const format = { delimiter: source.delimiter, bom: source.bom, encoding: source.encoding };
  return { orderIds: narrow(orderIds, opts.only, opts.named ?? file), rows, blank, header, format };
}

/**
 * `update`: every row of FILE judged as `run` judges it (same mapping, same defaults), so the request it would send
 * is what the order is compared with. Invalid rows come back with their problem; they are reported, never sent.
 */
export async function selectUpdateTargets(file: string, opts: JudgeFileOptions & { only?: readonly string[]; named?: string }): Promise<{ targets: UpdateTarget[]; rows: number; blank: number }> {
  const judged = await judgeFile(file, opts);
  const col = judged.mapping.columns.orderId?.index;
  const byId = new Map<string, UpdateTarget>();
  let rows = 0;
  let blank = 0;
  try {
    for await (const row of judged.rows) {
      rows += 1;
      const j = row.judgement;
      const orderId = j.ok ? j.order.orderId : col !== undefined ? (row.cells[col] ?? '').trim() : '';
      if (orderId === '') {
        blank += 1;
        continue;
      }
      if (byId.has(orderId)) continue; // a duplicate row is INVALID for run; the first row is the one that was sent
      byId.set(orderId, j.ok ? { orderId, draft: j.order } : { orderId, problem: { code: j.problem.code, message: `line ${row.line}: ${j.problem.message}` } });
    }
  } finally {
    judged.source.close();
  }
  const ids = narrow([...byId.keys()], opts.only, opts.named ?? file);
  return { targets: ids.map((id) => byId.get(id)!), rows, blank };
}

function narrow(ids: string[], only: readonly string[] | undefined, file: string): string[] {
  if (!only || only.length === 0) return ids;
  const inFile = new Set(ids);
  const missing = only.filter((id) => !inFile.has(id));
  if (missing.length > 0) {
    throw new ConfigError('PB_ONLY_UNKNOWN', `--only ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''}: not in ${file}`);
  }
  const wanted = new Set(only);
  return ids.filter((id) => wanted.has(id));
}
