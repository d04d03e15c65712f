// Compression runs as a stage of its own (the zstd or gzip program): it uses
// another core than the daemon, and its exit is checked like any plugin's.
export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export function compressor(c: Compression): string[] | undefined {
  // -T0: every core; on two cores single-threaded zstd is the bottleneck of a backup.
  if (c === "zstd") return ["zstd", "-q", "-3", "-T0", "-c"];
  if (c === "gzip") return ["gzip", "-c", "-6"];
  return undefined;
}

export function decompressor(c: string): string[] | undefined {
  if (c === "zstd") return ["zstd", "-q", "-d", "-c"];
  if (c === "gzip") return ["gzip", "-d", "-c"];
  if (c === "none") return undefined;
  throw new Error(`unknown compression "${c}"`);
}
