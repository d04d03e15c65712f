// How big each part of a multipart upload is. The length of the stream is not
// known in advance, and S3 allows at most 10,000 parts of 5 MiB to 5 GiB each
// (only the last may be smaller) for an object of at most 5 TiB. With a fixed
// part size of 5 MiB an upload ends at 50 GB, and one of 15 GB with 1.5 MiB
// parts: the original Shield's s3 plugin is reported to lose such archives.
//
// So the part size doubles every GROUP parts, starting from the endpoint's
// part_size and capped at 5 GiB. Small archives keep small parts (memory stays
// at a few parts of part_size: an archive of 7 GiB at 8 MiB never grows them);
// with the smallest start (5 MiB), 10,000 parts hold 9.3 TiB, more than the
// 5 TiB S3 accepts. Doubling every 1,000 parts would reach only 4.9 TiB.
export const MiB = 1024 * 1024;
export const MIN_PART = 5 * MiB;
export const MAX_PART = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT = 5 * 1024 * 1024 * MiB;
export const GROUP = 900;

/** The size of part `n` (1-based) of an upload whose first part is `base` bytes. */
export function partSize(n: number, base: number): number {
  const doublings = Math.floor((n - 1) / GROUP);
  // 2^31 × 5 MiB is far beyond the cap: no overflow to care about past that.
  return Math.min(MAX_PART, base * 2 ** Math.min(doublings, 31));
}

/** How many bytes parts 1..n hold together (what an upload can take before part n+1). */
export function capacity(n: number, base: number): number {
  let total = 0;
  for (let i = 1; i <= n; i++) total += partSize(i, base);
  return total;
}
