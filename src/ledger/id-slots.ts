import { IdArena } from '../lib/id-arena.js';
import { arenaHash } from '../lib/latin1-ids.js';

const EMPTY = -1;
const DELETED = -2;

/**
 * A map from orderId to a small number (the CompactIndex's slot), lean enough for millions of orders: the ids' bytes in
 * an IdArena (1 MiB chunks, never copied), an open-addressing table of entry numbers, and typed arrays for the
 * entries — ~25 bytes per order instead of ~100 for a Map<string, number> and its strings. That matters twice: the memory itself, and V8 sizing its
 * heap from the live set (a 1M-row run peaked several times above what it kept alive). Exact: a lookup compares the
 * bytes, never the hash alone. Ids with a character above U+00FF or longer than 255 go to an ordinary Map.
 * Keys iterate in insertion order (those of the ordinary Map after the others).
 */
export class IdSlots {
  private readonly arena = new IdArena();
  /** Entry numbers, EMPTY or DELETED; kept at most half full (tombstones included). */
  private table = new Int32Array(1 << 10).fill(EMPTY);
  /** Per entry: offset of its id in the arena (-1 once deleted), and its value. */
  private keyOff = new Int32Array(1 << 9);
  private value = new Int32Array(1 << 9);
  private entries = 0;
  private live = 0;
  private tombstones = 0;
  private readonly wide = new Map<string, number>();

  get size(): number {
    return this.live + this.wide.size;
  }

  get(id: string): number | undefined {
    const h = arenaHash(id);
    if (h < 0) return this.wide.get(id);
    const i = this.find(id, h);
    return i < 0 ? undefined : this.value[this.table[i]!];
  }

  set(id: string, v: number): this {
    const h = arenaHash(id);
    if (h < 0) {
      this.wide.set(id, v);
      return this;
    }
    const found = this.find(id, h);
    if (found >= 0) {
      this.value[this.table[found]!] = v;
      return this;
    }
    if ((this.live + this.tombstones + 1) * 2 > this.table.length) this.rehash();
    const mask = this.table.length - 1;
    let i = h & mask;
    while (this.table[i] !== EMPTY && this.table[i] !== DELETED) i = (i + 1) & mask;
    if (this.table[i] === DELETED) this.tombstones--;
    const e = this.newEntry(this.arena.store(id), v);
    this.table[i] = e;
    this.live++;
    return this;
  }

  delete(id: string): boolean {
    const h = arenaHash(id);
    if (h < 0) return this.wide.delete(id);
    const i = this.find(id, h);
    if (i < 0) return false;
    this.keyOff[this.table[i]!] = -1;
    this.table[i] = DELETED;
    this.live--;
    this.tombstones++;
    return true;
  }

  *keys(): IterableIterator<string> {
    for (let e = 0; e < this.entries; e++) {
      const off = this.keyOff[e]!;
      if (off >= 0) yield this.arena.read(off);
    }
    yield* this.wide.keys();
  }

  /** The table index holding `id`, or -1. */
  private find(id: string, h: number): number {
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = this.table[i]!;
      if (e === EMPTY) return -1;
      if (e !== DELETED && this.arena.equals(this.keyOff[e]!, id)) return i;
    }
  }

  private newEntry(off: number, v: number): number {
    if (this.entries === this.keyOff.length) {
      const k = new Int32Array(this.entries * 2);
      k.set(this.keyOff);
      const val = new Int32Array(this.entries * 2);
      val.set(this.value);
      this.keyOff = k;
      this.value = val;
    }
    this.keyOff[this.entries] = off;
    this.value[this.entries] = v;
    return this.entries++;
  }

  /** A bigger table when the live entries need it, the same size when tombstones filled it; tombstones go. */
  private rehash(): void {
    let n = this.table.length;
    while ((this.live + 1) * 4 > n) n *= 2;
    this.table = new Int32Array(n).fill(EMPTY);
    this.tombstones = 0;
    const mask = n - 1;
    for (let e = 0; e < this.entries; e++) {
      const off = this.keyOff[e]!;
      if (off < 0) continue;
      let i = this.arena.hashAt(off) & mask;
      while (this.table[i] !== EMPTY) i = (i + 1) & mask;
      this.table[i] = e;
    }
  }
}
