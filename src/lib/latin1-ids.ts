/**
 * The helpers shared by the compact orderId tables (ledger index `IdSlots`, duplicate check `OrderIdSet`): which ids
 * their arena (`IdArena`: a length byte, then the Latin-1 bytes) can hold, and their FNV-1a hash.
 */

/** Whether `id` fits the arena: at most 255 characters, each ≤ 0xFF (anything else goes to a plain Map/Set). */
export function fitsArena(id: string): boolean {
  if (id.length > 255) return false;
  for (let k = 0; k < id.length; k++) if (id.charCodeAt(k) > 0xff) return false;
  return true;
}

/** FNV-1a over the character codes (all ≤ 0xFF here, so the same as over the arena's bytes). */
export function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  return h >>> 0;
}
