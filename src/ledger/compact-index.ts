import { IdSlots } from './id-slots.js';
import type { LedgerState } from './ledger.js';

const STATES: readonly LedgerState[] = ['SENDING', 'CREATED', 'FAILED', 'UNCERTAIN'];
const CODE: Record<LedgerState, number> = { SENDING: 0, CREATED: 1, FAILED: 2, UNCERTAIN: 3 };

/**
 * Where the newest line of every order sits in the journal, and its state: about 40 bytes per order (IdSlots' ~25 for
 * the orderId and its slot, 13 bytes of typed arrays), so a million orders fit in ~40 MB. Everything else of an
 * entry is read back from the journal on demand (one positional read), which the page cache makes cheap.
 */
export class CompactIndex {
  private readonly slots = new IdSlots();
  private state = new Uint8Array(1024);
  private off = new Float64Array(1024);
  private len = new Uint32Array(1024);
  private used = 0;
  private freed: number[] = [];

  get size(): number {
    return this.slots.size;
  }

  set(orderId: string, state: LedgerState, offset: number, length: number): void {
    let slot = this.slots.get(orderId);
    if (slot === undefined) {
      slot = this.freed.pop() ?? this.grow();
      this.slots.set(orderId, slot);
    }
    this.state[slot] = CODE[state];
    this.off[slot] = offset;
    this.len[slot] = length;
  }

  delete(orderId: string): void {
    const slot = this.slots.get(orderId);
    if (slot === undefined) return;
    this.slots.delete(orderId);
    this.freed.push(slot);
  }

  get(orderId: string): { state: LedgerState; offset: number; length: number } | undefined {
    const slot = this.slots.get(orderId);
    if (slot === undefined) return undefined;
    return { state: STATES[this.state[slot]!]!, offset: this.off[slot]!, length: this.len[slot]! };
  }

  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  private grow(): number {
    if (this.used === this.state.length) {
      const n = this.state.length * 2;
      const s = new Uint8Array(n);
      s.set(this.state);
      const o = new Float64Array(n);
      o.set(this.off);
      const l = new Uint32Array(n);
      l.set(this.len);
      this.state = s;
      this.off = o;
      this.len = l;
    }
    return this.used++;
  }
}
