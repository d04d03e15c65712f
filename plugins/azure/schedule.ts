// How big each block of a blob is, and how many may be in flight at once.
//
// Azure commits at most 50,000 blocks per blob, so a fixed block size caps the
// archive: 8 MiB blocks stop at 390 GiB, and a stream's size is not known until
// it ends. Blocks therefore start small (memory stays small for the common
// archive) and double every BLOCKS_PER_TIER blocks. From the default 8 MiB:
//   blocks      0 –  6,999: 8 MiB   (up to 55 GiB)
//   blocks  7,000 – 13,999: 16 MiB  (up to 164 GiB)
//   ...                              (up to 1.7 TiB at 128 MiB, 3.4 TiB at 256 MiB)
//   blocks 49,000 – 49,999: 1 GiB   (7.76 TiB in all)
// The memory held is the blocks in flight plus the one being filled; as the
// blocks grow, fewer are in flight (inFlight), so it stays near what the
// endpoint's block_size × concurrency asked for, never below one block.
export const MiB = 1024 * 1024;
/** Azure's limit on the blocks of one blob. */
export const MAX_BLOCKS = 50_000;
/** Azure's limit on one block (service version 2019-12-12 and later). */
export const MAX_BLOCK_SIZE = 4000 * MiB;
export const DEFAULT_BLOCK_SIZE = 8 * MiB;
export const BLOCKS_PER_TIER = 7_000;

/** The size of block number `index` (from 0) of a blob whose first block is `first` bytes. */
export function blockSize(index: number, first = DEFAULT_BLOCK_SIZE): number {
  const tier = Math.floor(index / BLOCKS_PER_TIER);
  return Math.min(MAX_BLOCK_SIZE, first * 2 ** tier);
}

/** The largest blob that fits in MAX_BLOCKS blocks under this schedule. */
export function capacity(first = DEFAULT_BLOCK_SIZE): number {
  let total = 0;
  for (let tier = 0; tier * BLOCKS_PER_TIER < MAX_BLOCKS; tier++) {
    const blocks = Math.min(BLOCKS_PER_TIER, MAX_BLOCKS - tier * BLOCKS_PER_TIER);
    total += blocks * blockSize(tier * BLOCKS_PER_TIER, first);
  }
  return total;
}

/**
 * How many blocks of `size` bytes may be uploading at once: `concurrency`, fewer
 * once the blocks outgrow the budget of concurrency × first, and at least one.
 */
export function inFlight(size: number, concurrency: number, first = DEFAULT_BLOCK_SIZE): number {
  return Math.max(1, Math.min(concurrency, Math.floor((concurrency * first) / size)));
}
