import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sqliteLedgerPath } from '../src/ledger/local/sqlite-ledger.js';
import { openSqliteLedger } from '../src/ledger/local/sqlite-ledger.js';
import { DEMO_SHOP_ID } from '../src/sandbox/server.js';

/**
 * A state directory whose ledger holds `orders` past orders of the demo shop, as years of monthly runs leave it: the
 * schema is made by the ledger itself, then the rows go in by one transaction (what a run would take hours to send).
 */
export async function ledgerWithHistory(dir: string, orders: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const l = await openSqliteLedger({ dir, shopId: DEMO_SHOP_ID, mode: 'TEST' });
  await l.close();
  const db = new Database(sqliteLedgerPath(dir, DEMO_SHOP_ID, 'TEST'));
  db.pragma('journal_mode = WAL');
  const insert = db.prepare('INSERT INTO orders (order_id, state, batch_id, updated_at, entry) VALUES (?, ?, ?, ?, ?)');
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const month = String(1 + (i % 12)).padStart(2, '0');
      const orderId = `H${String(i).padStart(8, '0')}`;
      const at = `2025-${month}-01T08:00:00.000Z`;
      const entry = {
        orderId,
        state: 'CREATED',
        attempts: 1,
        fingerprint: 'f'.repeat(64),
        sent: { amountMinor: 1000 + (i % 90000), currency: 'EUR', channel: 'MAIL', recipient: `buyer${i}@example.com`, expirationDate: `2025-${month}-28T23:59:59.000Z` },
        paymentOrderId: `${i.toString(16).padStart(32, '0')}`,
        paymentURL: `https://secure.example/t/${i.toString(36)}`,
        paymentOrderStatus: i % 3 === 0 ? 'RUNNING' : 'PAID',
        batchId: `b2025${month}01T080000Z-hist`,
        firstSentAt: at,
        updatedAt: at,
        statusChangedAt: at,
      };
      insert.run(orderId, 'CREATED', entry.batchId, at, JSON.stringify(entry));
    }
  });
  for (let i = 0; i < orders; i += 100_000) fill(i, Math.min(orders, i + 100_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
