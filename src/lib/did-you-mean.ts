import { distance } from 'fastest-levenshtein';

/**
 * The candidate a typed word most likely meant (`emial` → `email`), or undefined: one edit up to 4 letters, else two,
 * lengths differing by one at most (`customer` is no typo of `customerid`). Case-insensitive, never an exact match.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const allowed = w.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (Math.abs(c.length - w.length) > 1) continue;
    const d = distance(w, c.toLowerCase());
    if (d > 0 && d <= allowed && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
