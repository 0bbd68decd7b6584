import { distance } from 'fastest-levenshtein';

/**
 * The candidate a typed word most likely meant (`curency` → `currency`, `emial` → `email`), or undefined when none is
 * close: one edit for words of up to 4 letters; from 5 letters, two edits (a swapped pair of letters is two) between
 * words whose lengths differ by one at most (`customer` is not a typo of `customerid`). Compared without case; an
 * exact match is not a typo, so it is never suggested.
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
