import { describe, expect, it } from 'vitest';
import { IdArena } from '../../src/lib/id-arena.js';
import { arenaHash, hashOf } from '../../src/lib/latin1-ids.js';

describe('IdArena: the bytes of many orderIds', () => {
  it('given 200k ids (several chunks), reads every one back exactly, hashes it as hashOf does, and tells it from its neighbours', () => {
    const arena = new IdArena();
    const ids = Array.from({ length: 200_000 }, (_, i) => `FAC-2026-${String(i).padStart(7, '0')}${i % 7 === 0 ? '-é' : ''}`);
    const offsets = ids.map((id) => arena.store(id));
    for (let i = 0; i < ids.length; i += 997) {
      expect(arena.read(offsets[i]!)).toBe(ids[i]);
      expect(arena.equals(offsets[i]!, ids[i]!)).toBe(true);
      expect(arena.equals(offsets[i]!, ids[i + 1] ?? 'x')).toBe(false);
      expect(arena.equals(offsets[i]!, ids[i]!.slice(0, -1))).toBe(false);
      expect(arena.hashAt(offsets[i]!)).toBe(hashOf(ids[i]!));
    }
    // The id that crossed into a new chunk is whole.
    const last = offsets.length - 1;
    expect(arena.read(offsets[last]!)).toBe(ids[last]);
  });

  it('tells ids that differ only in their first character apart (the last one is compared first)', () => {
    const arena = new IdArena();
    const off = arena.store('A-2026-000042');
    expect(arena.equals(off, 'B-2026-000042')).toBe(false);
    expect(arena.equals(off, 'A-2026-000043')).toBe(false);
    expect(arena.equals(off, 'A-2026-000042')).toBe(true);
    expect(arena.equals(arena.store(''), '')).toBe(true);
  });

  it('arenaHash: the id\'s hash when the arena can hold it, -1 for a character above U+00FF or more than 255 of them', () => {
    for (const id of ['', 'INV-1', 'FAC-é-ÿ', 'x'.repeat(255)]) expect(arenaHash(id)).toBe(hashOf(id));
    expect(arenaHash('INV-€')).toBe(-1);
    expect(arenaHash('北京-1')).toBe(-1);
    expect(arenaHash('x'.repeat(256))).toBe(-1);
  });

  it('holds at most one chunk more than the ids take: no doubling, no copy', () => {
    const arena = new IdArena();
    let bytes = 0;
    for (let i = 0; i < 300_000; i++) {
      const id = `INV-${i}-${'x'.repeat(i % 20)}`;
      arena.store(id);
      bytes += 1 + id.length;
    }
    expect(arena.capacity).toBeGreaterThanOrEqual(bytes);
    expect(arena.capacity - bytes).toBeLessThanOrEqual(1 << 20);
  });
});
