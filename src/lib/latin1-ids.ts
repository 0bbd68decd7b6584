/**
 * The helpers of the compact orderId table (`OrderIdSet`): which ids its arena (`IdArena`: a length byte, then the
 * Latin-1 bytes) can hold, and their FNV-1a hash (`arenaHash`).
 */

/** FNV-1a over the character codes (all ≤ 0xFF here, so the same as over the arena's bytes). */
export function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

/**
 * `hashOf(id)` if the arena can hold `id` (at most 255 characters, each ≤ 0xFF), else -1 (such ids go to a plain
 * Map/Set): the check and the hash in one pass, as the duplicates check asks for every row of a file.
 */
export function arenaHash(id: string): number {
  if (id.length > 255) return -1;
  let h = 0x811c9dc5;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    if (c > 0xff) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}
