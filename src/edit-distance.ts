// "Did you mean": the nearest of some words to a word mistyped, by edit
// distance. The timespec parser suggests schedule words with it, the CLI its
// commands, nouns, flags and names.

/**
 * Edit distance where two neighbours swapped count as one edit ("jbos" is one
 * from "jobs": the commonest typo), else Levenshtein's (optimal string alignment).
 * The words here are short; the quadratic table is fine.
 */
export function distance(a: string, b: string): number {
  if (a.length > 40 || b.length > 40) return Infinity;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j]!, before[j - 2]! + 1);
    }
    [before, prev] = [prev, cur];
  }
  return prev[b.length]!;
}

/** The candidate nearest to `word` (ignoring case) within `max` edits, or undefined; the first one on a tie. */
export function nearest(word: string, candidates: Iterable<string>, max = 2): string | undefined {
  let best: string | undefined;
  let bestDistance = max + 1;
  const w = word.toLowerCase();
  for (const c of candidates) {
    if (Math.abs(c.length - w.length) >= bestDistance) continue;
    const d = distance(w, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** How many edits a word of this length may be off and still be suggested: one for short words, two from five letters, three from ten. */
export const tolerance = (word: string) => (word.length < 5 ? 1 : word.length < 10 ? 2 : 3);
