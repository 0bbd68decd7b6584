import { describe, expect, it } from 'vitest';
import { SlidingSecond } from '../../src/sandbox/counters.js';

describe('the busiest sliding second', () => {
  it('counts events less than a second apart together, and events a full second apart separately', () => {
    const w = new SlidingSecond();
    expect([0, 400, 999].map((t) => w.add(t))).toEqual([1, 2, 3]);
    expect(w.add(1000)).toBe(3); // 0 left the window (400, 999, 1000 remain)
    expect(w.add(2400)).toBe(1);
    expect(w.max).toBe(3);
  });

  it('stays exact over a long run (the internal buffer is compacted)', () => {
    const w = new SlidingSecond();
    for (let i = 0; i < 20_000; i++) w.add(i * 10); // 100 per second, steadily
    expect(w.max).toBe(100);
    expect(w.count(20_000 * 10)).toBe(99);
  });
});
