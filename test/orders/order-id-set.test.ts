import { describe, expect, it } from 'vitest';
import { OrderIdSet } from '../../src/orders/order-id-set.js';

describe('the orderIds met in a file (duplicates check, lean enough for a million rows)', () => {
  it('knows an id once added, and only that exact id', () => {
    const s = new OrderIdSet();
    expect(s.has('INV-2025-0001')).toBe(false);
    s.add('INV-2025-0001');
    expect(s.has('INV-2025-0001')).toBe(true);
    for (const other of ['INV-2025-0002', 'INV-2025-000', 'INV-2025-00011', 'inv-2025-0001', ' INV-2025-0001', '']) expect(s.has(other), other).toBe(false);
    s.add('INV-2025-0001');
    expect(s.size).toBe(1);
  });

  it('answers like a Set<string> over 200 000 ids, through every growth of its table and arena', () => {
    const s = new OrderIdSet();
    const ref = new Set<string>();
    const idOf = (i: number): string => (i % 7 === 0 ? `FA/${i % 50_000}` : `B-${String(i * 7919).padStart(9, '0')}`);
    const disagreements: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const id = idOf(i);
      if (s.has(id) !== ref.has(id)) disagreements.push(id);
      s.add(id);
      ref.add(id);
    }
    for (let i = 0; i < 400_000; i += 13) if (s.has(idOf(i)) !== ref.has(idOf(i))) disagreements.push(idOf(i));
    expect(disagreements).toEqual([]);
    expect(s.size).toBe(ref.size);
  });

  it('given the ids a file is sure to hold, starts with a table for them and does not grow while they come', () => {
    expect(new OrderIdSet().capacity).toBe(512);
    const s = new OrderIdSet(100_000);
    const capacity = s.capacity;
    expect(capacity).toBeGreaterThanOrEqual(100_000);
    expect(capacity).toBeLessThan(200_000);
    for (let i = 0; i < 100_000; i++) s.add(`INV-${i}`);
    expect(s.capacity).toBe(capacity);
    expect(s.has('INV-99999') && !s.has('INV-100000')).toBe(true);
    s.add('INV-100000').add('INV-100001');
    for (let i = 100_002; i < capacity + 1; i++) s.add(`INV-${i}`);
    expect(s.capacity).toBe(capacity * 2);
  });

  it('keeps ids with Latin-1 accents, other scripts, and very long ids exactly', () => {
    const s = new OrderIdSet();
    const ids = ['FACTURE-É1', 'FACTURE-E1', '請求書-1', '請求書-2', 'x'.repeat(300), 'x'.repeat(299)];
    s.add(ids[0]!).add(ids[2]!).add(ids[4]!);
    expect(ids.map((id) => s.has(id))).toEqual([true, false, true, false, true, false]);
    expect(s.size).toBe(3);
  });
});
