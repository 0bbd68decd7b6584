import { IdArena } from '../lib/id-arena.js';
import { arenaHash } from '../lib/latin1-ids.js';

/**
 * The orderIds met so far in a file (duplicates check) in far less memory than a Set<string>: bytes in an IdArena and
 * a table of offsets, compared exactly; ids above U+00FF or over 255 long go to a Set.
 */
export class OrderIdSet {
  private readonly arena = new IdArena();
  /** Offset of an id in the arena (its length byte), -1 for an empty slot. Kept at most half full. */
  private slots: Int32Array;
  /**
   * The low byte of each slot's hash: a probe compares an id's bytes (a read at a random place of the arena) only
   * where it matches, 1 in 256 of the others.
   */
  private tags: Uint8Array;
  private count = 0;
  private readonly wide = new Set<string>();
  /** The last id looked up by `has` and its slot: the duplicates check asks `has` then `add` for the same id. */
  private lastId: string | undefined;
  private lastSlot = 0;
  private lastHash = 0;

  /**
   * `expected`: ids the caller is sure to add (an under-estimate): the table starts big enough for them instead of
   * rehashing its way up. Never more than the table would reach by itself for that many ids.
   */
  constructor(expected = 0) {
    let n = 1 << 10;
    while (n < 2 * expected && n < 1 << 30) n *= 2;
    this.slots = new Int32Array(n).fill(-1);
    this.tags = new Uint8Array(n);
  }

  /** Ids it holds before its table grows. */
  get capacity(): number {
    return this.slots.length / 2;
  }

  get size(): number {
    return this.count + this.wide.size;
  }

  has(id: string): boolean {
    const h = arenaHash(id);
    if (h < 0) return this.wide.has(id);
    const slot = this.probe(id, h);
    this.lastId = id;
    this.lastSlot = slot;
    this.lastHash = h;
    return this.slots[slot] !== -1;
  }

  add(id: string): this {
    if (id === this.lastId) {
      this.lastId = undefined;
      return this.addAt(id, this.lastSlot, this.lastHash);
    }
    const h = arenaHash(id);
    if (h < 0) {
      this.wide.add(id);
      return this;
    }
    return this.addAt(id, this.probe(id, h), h);
  }

  /** Adds an arena id of hash `h` at its probed slot `i` (unless it is there already). */
  private addAt(id: string, i: number, h: number): this {
    if (this.slots[i] !== -1) return this;
    if ((this.count + 1) * 2 > this.slots.length) {
      this.grow();
      i = this.probe(id, h);
    }
    this.slots[i] = this.arena.store(id);
    this.tags[i] = h & 0xff;
    this.count++;
    return this;
  }

  /** The slot holding `id`, or the empty slot where it would go. */
  private probe(id: string, h: number): number {
    const mask = this.slots.length - 1;
    const tag = h & 0xff;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const off = this.slots[i]!;
      if (off === -1 || (this.tags[i] === tag && this.arena.equals(off, id))) return i;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2).fill(-1);
    this.tags = new Uint8Array(this.slots.length);
    const mask = this.slots.length - 1;
    for (const off of old) {
      if (off === -1) continue;
      const h = this.arena.hashAt(off);
      let i = h & mask;
      while (this.slots[i] !== -1) i = (i + 1) & mask;
      this.slots[i] = off;
      this.tags[i] = h & 0xff;
    }
  }
}
