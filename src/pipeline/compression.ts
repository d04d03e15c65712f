// Compression runs as a stage of its own (the zstd or gzip program): it uses
// another core than the daemon, and its exit is checked like any plugin's. The one
// exception is a backup's first 256 KiB in the store's guard (compress-beside.ts), which
// makes a zstd frame of them itself (zstdFrame) rather than start the program for a few KiB.
export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** zstd's level: the zstd program's and the frames a guard makes itself (zstdFrame) alike. */
const ZSTD_LEVEL = 3;

export function compressor(c: Compression): string[] | undefined {
  // -T0: every core; on two cores single-threaded zstd is the bottleneck of a backup.
  // -vv: its summary line gives the exact size of its input (see zstdReport).
  if (c === "zstd") return ["zstd", "-vv", `-${ZSTD_LEVEL}`, "-T0", "-c"];
  if (c === "gzip") return ["gzip", "-c", "-6"];
  return undefined;
}

export function decompressor(c: string): string[] | undefined {
  // -v: its last line gives the exact size of its output (see zstdReport).
  if (c === "zstd") return ["zstd", "-v", "-d", "-c"];
  if (c === "gzip") return ["gzip", "-d", "-c"];
  if (c === "none") return undefined;
  throw new Error(`unknown compression "${c}"`);
}

// What zstd -vv says on stderr besides errors: its settings, and at the end
// "/*stdin*\    :100.00%   (300000000 B => 300006877 B, /*stdout*\)" (older
// versions: "(300000000 => 300006877 bytes, ..."), the exact count of the bytes
// it read. Decompressing with -v, its last line is "/*stdin*\   : 300000000 bytes",
// the count of the bytes it wrote. None of it belongs in a task log.
const ZSTD_CHATTER = /^(\*\*\* Zstandard CLI|Note: |--zstd=|--format=|Using std(in|out) for|Decompression will require|Sparse File Support|\/\*stdin\*\\)/;
const ZSTD_SUMMARY = /^\/\*stdin\*\\\s*:.*\(\s*(\d+)(?: B)? =>/;
const ZSTD_DECOMPRESSED = /^\/\*stdin\*\\\s*:\s*(\d+) bytes\s*$/;

/**
 * One stderr line of `zstd -vv` (compressing) or `zstd -v -d`: the size of the raw
 * data (its input, or its output) when it is the summary; keep = not chatter.
 */
export function zstdReport(line: string): { rawBytes?: number; keep: boolean } {
  const m = ZSTD_SUMMARY.exec(line) ?? ZSTD_DECOMPRESSED.exec(line);
  return { rawBytes: m ? Number(m[1]) : undefined, keep: !ZSTD_CHATTER.test(line) };
}

/**
 * `data` as one zstd frame, made in this process at the zstd program's level. A zstd stream
 * may be several frames one after another, and `zstd -d` gives their contents in order, so
 * such a frame may open a stream the program goes on with (compress-beside.ts). Bun's own
 * zstd, not node:zlib's: loading node:zlib (its streams) cost a guard ~2 ms of CPU, about what
 * a zstd process costs. Its frame carries no checksum of its content, which the program's do:
 * the archive's own (its authentication, or its SHA-256 unencrypted) covers every byte anyway.
 */
export function zstdFrame(data: Uint8Array): Uint8Array {
  return Bun.zstdCompressSync(data, { level: ZSTD_LEVEL });
}
