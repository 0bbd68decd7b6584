import { describe, expect, it } from 'vitest';
import { IdSlots } from '../../src/ledger/id-slots.js';

describe('the ledger index keeps a million orderIds lean and exact', () => {
  it('answers like a Map<string, number> through sets, updates and deletes, across every growth', () => {
    const slots = new IdSlots();
    const ref = new Map<string, number>();
    const idOf = (i: number): string => (i % 11 === 0 ? `FA/${i % 30_000}` : `INV-${String((i * 7919) % 150_000).padStart(8, '0')}`);
    let x = 12345;
    const random = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const disagreements: string[] = [];
    for (let step = 0; step < 200_000; step++) {
      const id = idOf(Math.floor(random() * 200_000));
      const op = random();
      if (op < 0.7) {
        slots.set(id, step);
        ref.set(id, step);
      } else if (op < 0.8) {
        if (slots.delete(id) !== ref.delete(id)) disagreements.push(`delete ${id}`);
      } else if (slots.get(id) !== ref.get(id)) disagreements.push(`get ${id}`);
    }
    expect(disagreements).toEqual([]);
    expect(slots.size).toBe(ref.size);
    expect([...slots.keys()]).toEqual([...ref.keys()]);
    for (const [id, v] of ref) if (slots.get(id) !== v) disagreements.push(`final ${id}`);
    expect(disagreements).toEqual([]);
  });

  it('tells apart ids that differ by one character, case, accents or length, and keeps ids of any script', () => {
    const slots = new IdSlots();
    const ids = ['INV-1', 'INV-10', 'inv-1', 'INV-É1', 'INV-E1', '請求書-1', 'x'.repeat(300), ''];
    ids.forEach((id, i) => slots.set(id, i));
    expect(ids.map((id) => slots.get(id))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(slots.get('請求書-2')).toBeUndefined();
    expect(slots.get('x'.repeat(299))).toBeUndefined();
    expect([...slots.keys()].sort()).toEqual([...ids].sort());
  });
});
