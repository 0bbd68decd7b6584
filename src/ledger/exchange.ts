import { open } from 'node:fs/promises';
import { openCsv, unreadableFile } from '../csv/read.js';
import { createCsvWriter, restoreFormula, unwritableFile } from '../csv/write.js';
import { InputError } from '../errors/paybatch-error.js';
import type { ChannelType, PaymentOrderStatus } from '../lyra/types.js';
import { formatMinor, parseMoney } from '../orders/currencies.js';
import type { LedgerEntry, LedgerState } from './ledger.js';

/**
 * The ledger's exchange formats (`ledger export` / `import`): JSON Lines, the entry as stored; CSV for people, money
 * as money and formula-guarded cells, reading back to the same entries.
 */
export const EXPORT_COLUMNS = [
  'orderId',
  'state',
  'paymentOrderId',
  'paymentOrderStatus',
  'amount',
  'currency',
  'channel',
  'recipient',
  'expirationDate',
  'paymentURL',
  'attempts',
  'batchId',
  'firstSentAt',
  'updatedAt',
  'statusChangedAt',
  'errorCode',
  'errorMessage',
  'detailedErrorCode',
  'fingerprint',
] as const;

export type ExportFormat = 'csv' | 'jsonl';

export async function writeExport(entries: AsyncIterable<LedgerEntry>, file: string, format: ExportFormat): Promise<number> {
  let n = 0;
  if (format === 'jsonl') {
    // A path that cannot be written is one line naming it, as the CSV writer says it.
    const fh = await open(file, 'w', 0o600).catch((e: NodeJS.ErrnoException) => {
      throw unwritableFile(e, file);
    });
    try {
      let buf = '';
      for await (const e of entries) {
        buf += `${JSON.stringify(e)}\n`;
        n++;
        if (buf.length > 1 << 20) {
          await fh.write(buf);
          buf = '';
        }
      }
      await fh.write(buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return n;
  }
  const w = createCsvWriter(file, { headers: [...EXPORT_COLUMNS], bom: true });
  for await (const e of entries) {
    await w.write([
      e.orderId,
      e.state,
      e.paymentOrderId ?? '',
      e.paymentOrderStatus ?? '',
      formatMinor(e.sent.amountMinor, e.sent.currency),
      e.sent.currency,
      e.sent.channel,
      e.sent.recipient,
      e.sent.expirationDate ?? '',
      e.paymentURL ?? '',
      String(e.attempts),
      e.batchId ?? '',
      e.firstSentAt ?? '',
      e.updatedAt,
      e.statusChangedAt ?? '',
      e.errorCode ?? '',
      e.errorMessage ?? '',
      e.detailedErrorCode ?? '',
      e.fingerprint,
    ]);
    n++;
  }
  await w.close();
  return n;
}

const STATES: ReadonlySet<string> = new Set<LedgerState>(['SENDING', 'CREATED', 'FAILED', 'UNCERTAIN']);

/** Reads an export back: JSON Lines (a file whose first character is `{`) or the CSV above. */
export async function* readExport(file: string): AsyncGenerator<LedgerEntry> {
  const head = Buffer.alloc(4);
  let fh;
  try {
    fh = await open(file, 'r');
    await fh.read(head, 0, 4, 0);
  } catch (e) {
    // A wrong path is the operator's to fix: one line naming it, as for an input file.
    throw unreadableFile(e, file);
  } finally {
    await fh?.close();
  }
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  if (text.startsWith('{')) yield* readJsonLines(file);
  else yield* readCsvExport(file);
}

async function* readJsonLines(file: string): AsyncGenerator<LedgerEntry> {
  const fh = await open(file, 'r');
  let line = 0;
  try {
    for await (const text of fh.readLines()) {
      line++;
      if (text.trim() === '') continue;
      let v: LedgerEntry;
      try {
        v = JSON.parse(text) as LedgerEntry;
      } catch {
        throw new InputError('PB_LEDGER_IMPORT', 'not a JSON ledger entry', { file, line });
      }
      if (typeof v.orderId !== 'string' || !STATES.has(v.state) || typeof v.sent !== 'object') throw new InputError('PB_LEDGER_IMPORT', 'not a ledger entry (orderId, state and sent are required)', { file, line });
      yield v;
    }
  } finally {
    await fh.close();
  }
}

async function* readCsvExport(file: string): AsyncGenerator<LedgerEntry> {
  const source = await openCsv(file);
  try {
    const at = new Map(source.headers.map((h, i) => [h, i]));
    const missing = ['orderId', 'state', 'amount', 'currency', 'channel'].filter((c) => !at.has(c));
    if (missing.length) throw new InputError('PB_LEDGER_IMPORT', `not a paybatch ledger export: no ${missing.join(', ')} column`, { file });
    for await (const row of source.rows) {
      const cell = (name: string): string => restoreFormula(row.cells[at.get(name) ?? -1] ?? '');
      const state = cell('state');
      if (!STATES.has(state)) throw new InputError('PB_LEDGER_IMPORT', `state "${state}" is not SENDING, CREATED, FAILED or UNCERTAIN`, { file, line: row.line, column: 'state' });
      const currency = cell('currency');
      const amountMinor = parseMoney(cell('amount'), currency);
      if (amountMinor === undefined) throw new InputError('PB_LEDGER_IMPORT', `amount "${cell('amount')}" is not an amount in ${currency}`, { file, line: row.line, column: 'amount' });
      const opt = <K extends string>(k: K, name: string) => (cell(name) ? ({ [k]: cell(name) } as Record<K, string>) : {});
      yield {
        orderId: cell('orderId'),
        state: state as LedgerState,
        attempts: Number.parseInt(cell('attempts'), 10) || 0,
        fingerprint: cell('fingerprint'),
        sent: { amountMinor, currency, channel: cell('channel') as ChannelType, recipient: cell('recipient'), ...opt('expirationDate', 'expirationDate') },
        ...opt('paymentOrderId', 'paymentOrderId'),
        ...opt('paymentURL', 'paymentURL'),
        ...(cell('paymentOrderStatus') ? { paymentOrderStatus: cell('paymentOrderStatus') as PaymentOrderStatus } : {}),
        ...opt('batchId', 'batchId'),
        ...opt('firstSentAt', 'firstSentAt'),
        updatedAt: cell('updatedAt') || new Date().toISOString(),
        ...opt('statusChangedAt', 'statusChangedAt'),
        ...opt('errorCode', 'errorCode'),
        ...opt('errorMessage', 'errorMessage'),
        ...opt('detailedErrorCode', 'detailedErrorCode'),
      };
    }
  } finally {
    source.close();
  }
}
