/** log2 of a chunk's size: 1 MiB chunks, so an offset is (chunk << 20) | position and fits an Int32 up to 2 GiB of ids. */
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
const POSITION = CHUNK - 1;

/**
 * The bytes of many short orderIds (a length byte, then Latin-1 bytes) in fixed chunks that are never copied nor
 * over-allocated, unlike a doubling array. Only ids `arenaHash` (latin1-ids.ts) accepts may be stored.
 */
export class IdArena {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes used in the last chunk. */
  private used = CHUNK;

  /** Bytes held (for memory accounting in tests). */
  get capacity(): number {
    return this.chunks.length * CHUNK;
  }

  /** Stores `id` and returns its offset. */
  store(id: string): number {
    const need = 1 + id.length;
    if (this.used + need > CHUNK) {
      this.chunks.push(new Uint8Array(CHUNK));
      this.used = 0;
    }
    const c = this.chunks[this.chunks.length - 1]!;
    const pos = this.used;
    c[pos] = id.length;
    for (let k = 0; k < id.length; k++) c[pos + 1 + k] = id.charCodeAt(k);
    this.used += need;
    return ((this.chunks.length - 1) << CHUNK_BITS) | pos;
  }

  /** Whether the id stored at `off` is `id`, byte for byte. */
  equals(off: number, id: string): boolean {
    const c = this.chunks[off >>> CHUNK_BITS]!;
    const pos = off & POSITION;
    const n = id.length;
    if (c[pos] !== n) return false;
    // The last character first: a file's ids share their prefix (INV-2026-000…) and differ at the end.
    if (n > 0 && c[pos + n] !== id.charCodeAt(n - 1)) return false;
    for (let k = 0; k < n - 1; k++) if (c[pos + 1 + k] !== id.charCodeAt(k)) return false;
    return true;
  }

  /** FNV-1a of the id at `off`: the same number as `hashOf` of that id. */
  hashAt(off: number): number {
    const c = this.chunks[off >>> CHUNK_BITS]!;
    const pos = off & POSITION;
    const end = pos + 1 + c[pos]!;
    let h = 0x811c9dc5;
    for (let k = pos + 1; k < end; k++) h = Math.imul(h ^ c[k]!, 0x01000193);
    return h >>> 0;
  }

  /** The id stored at `off`. */
  read(off: number): string {
    const c = this.chunks[off >>> CHUNK_BITS]!;
    const pos = off & POSITION;
    return Buffer.from(c.buffer, c.byteOffset + pos + 1, c[pos]!).toString('latin1');
  }
}
