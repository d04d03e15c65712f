// The restore proper of a large blob in the fs store, alone: the retrieve's guard of the
// compiled binary (`shield guard --unseal --in-process fs`), as the daemon runs it, reads
// a 1 GiB sealed blob on its thread and writes the plaintext into a FIFO that `zstd -d`
// reads. Its pages lent (lend.ts) or written, in interleaved rounds, with the exact CPU of
// the guard and of zstd from rusage. Results: bench/DATAPATH.md ("Seventeenth session").
//
//   ./node_modules/.bin/bun run bench/restore-proper.ts   (needs dist/shield)
//
// Knobs: BENCH_RUNS (rounds, default 5); BENCH_COMPARE (another build, run as a third
// variant, with its own default); BENCH_RATE (MB/s: zstd's output goes through a reader
// that takes no more than that, as pg_restore would; default none: /dev/null).
import { closeSync, constants as C, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ChunkSealer, sealChunks } from "../src/pipeline/encryption.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUILT = join(ROOT, "dist/shield");
const COMPARE = process.env.BENCH_COMPARE ? resolve(process.env.BENCH_COMPARE) : undefined;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
const GiB = 1 << 30;

const scratch = mkdtempSync(join(tmpdir(), "shield-bench-restore-proper-"));
const storeDir = join(scratch, "store");
mkdirSync(storeDir);
const env = { PATH: process.env.PATH!, SHIELD_ENDPOINT: JSON.stringify({ base_dir: storeDir }) };
const dataKey = Buffer.alloc(32, 7);

/** 1 GiB of random bytes through zstd (incompressible: stored blocks), sealed, stored with the fs store. */
async function storedBlob(): Promise<string> {
  const plain = join(scratch, "plain.zst");
  const made = Bun.spawnSync(["sh", "-c", `head -c ${GiB} /dev/urandom | zstd -1 -T0 -q -c > ${plain}`]);
  if (made.exitCode !== 0) throw new Error(`making the data failed: ${made.stderr}`);
  const bytes = new Uint8Array(await Bun.file(plain).arrayBuffer());
  const sealer = new ChunkSealer(dataKey);
  const whole = bytes.length - (bytes.length % sealer.chunkSize);
  const blob = Buffer.concat([sealer.header, sealChunks(sealer, bytes.subarray(0, whole)), sealer.seal(bytes.subarray(whole), true)]);
  rmSync(plain);
  const p = Bun.spawn([BUILT, "plugin", "fs", "store"], { stdin: blob, stdout: "pipe", env });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error("the fs store failed");
  return JSON.parse(out).key;
}

const cpu = (r: { cpuTime: { user: number | bigint; system: number | bigint } }) => (Number(r.cpuTime.user) + Number(r.cpuTime.system)) / 1e6;

/** One restore proper: wall time, the guard's CPU, zstd's CPU (seconds). */
async function once(bin: string, key: string, lend: boolean): Promise<{ wall: number; guard: number; zstd: number }> {
  const fifo = join(scratch, "out");
  rmSync(fifo, { force: true });
  if (Bun.spawnSync(["mkfifo", fifo]).exitCode !== 0) throw new Error("mkfifo failed");
  const probe = openSync(fifo, C.O_RDONLY | C.O_NONBLOCK);
  const out = openSync(fifo, C.O_WRONLY);
  // zstd's output into /dev/null, or into a FIFO that a reader paced at BENCH_RATE takes.
  const mid = join(scratch, "mid");
  rmSync(mid, { force: true });
  if (RATE && Bun.spawnSync(["mkfifo", mid]).exitCode !== 0) throw new Error("mkfifo failed");
  const paced = RATE ? Bun.spawn(["sh", "-c", `exec python3 -c ${shellQuote(THROTTLE)} ${RATE} < ${mid}`]) : undefined;
  const reader = Bun.spawn(["sh", "-c", `exec zstd -d -c -q < ${fifo} > ${RATE ? mid : "/dev/null"}`]);
  const messages: Record<string, unknown>[] = [];
  const started = performance.now();
  const guard = Bun.spawn([bin, "guard", "--unseal", "--in-process", "fs", "--", "retrieve", "--key", key], {
    stdin: "ignore", stdout: out, stderr: "inherit", env, serialization: "json", ipc: (m) => messages.push(m),
  });
  closeSync(out);
  closeSync(probe);
  guard.send({ unseal: { key: dataKey.toString("base64"), lend } });
  while (!messages.some((m) => "unsealed" in m || "unsealFailed" in m)) await Bun.sleep(2);
  if (messages.some((m) => "unsealFailed" in m)) throw new Error(`the guard refused: ${JSON.stringify(messages)}`);
  guard.send({ commit: true });
  if ((await guard.exited) !== 0 || (await reader.exited) !== 0 || (await paced?.exited) !== (paced ? 0 : undefined)) throw new Error("the guard, zstd or the paced reader failed");
  return { wall: (performance.now() - started) / 1000, guard: cpu(guard.resourceUsage()!), zstd: cpu(reader.resourceUsage()!) };
}

// Reads stdin at no more than argv[1] MB/s.
const THROTTLE = `import os, sys, time
rate = float(sys.argv[1]) * 1e6; t0 = time.monotonic(); n = 0
while True:
    d = os.read(0, 1 << 16)
    if not d: break
    n += len(d)
    ahead = n / rate - (time.monotonic() - t0)
    if ahead > 0.002: time.sleep(ahead)`;

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

try {
  const key = await storedBlob();
  const variants: [string, string, boolean][] = [["lent", BUILT, true], ["written", BUILT, false]];
  if (COMPARE) variants.push(["compare", COMPARE, false]);
  const results = new Map<string, { wall: number; guard: number; zstd: number }[]>(variants.map(([name]) => [name, []]));
  // One untimed restore: the blob into the page cache.
  await once(BUILT, key, false);
  console.log(`# Restore proper of a 1 GiB sealed blob (random plaintext) from the fs store into zstd -d${RATE ? ` read at ${RATE} MB/s` : ""}, ${RUNS} rounds\n`);
  console.log("| round | variant | wall | guard CPU | zstd CPU |\n|---|---|---|---|---|");
  for (let round = 1; round <= RUNS; round++) {
    // The order rotates, so that whatever the host does falls on each alike.
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const [name, bin, lend] of order) {
      const r = await once(bin, key, lend);
      results.get(name)!.push(r);
      console.log(`| ${round} | ${name} | ${r.wall.toFixed(2)} s | ${r.guard.toFixed(2)} s | ${r.zstd.toFixed(2)} s |`);
    }
  }
  console.log("\n| variant | wall, median (range) | guard CPU | zstd CPU |\n|---|---|---|---|");
  for (const [name, rs] of results) {
    const col = (f: (r: { wall: number; guard: number; zstd: number }) => number) => `${median(rs.map(f)).toFixed(2)} s (${range(rs.map(f))})`;
    console.log(`| ${name} | ${col((r) => r.wall)} | ${col((r) => r.guard)} | ${col((r) => r.zstd)} |`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
