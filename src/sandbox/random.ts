import { randomBytes } from 'node:crypto';

/** A small seeded PRNG (mulberry32) so random faults and jitter replay identically for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32 lowercase hex characters, like a paymentOrderId or a transaction uuid. */
export function hexId(): string {
  return randomBytes(16).toString('hex');
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** 8 [a-z0-9] characters, like the `/t/xxxxxxxx` short links. */
export function shortCode(): string {
  const b = randomBytes(8);
  let s = '';
  for (const x of b) s += ALPHABET[x % ALPHABET.length];
  return s;
}
