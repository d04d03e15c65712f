// gpbackup plugin benchmark: `backup_data` of a 2 GiB stream into a private
// moto_server in S3 mode, against boto3's transfer manager (upload_fileobj of the
// same stream from stdin), same part size and concurrency. Results: bench/GPBACKUP.md.
//
//   ./node_modules/.bin/bun run bench/gpbackup.ts        (needs dist/shield, moto_server, python3 with boto3)
//   BENCH_GP_MIB=512 BENCH_GP_ROUNDS=3 ... to change the size and the number of alternating rounds.
//   BENCH_GP_BASELINE=/path/to/another/shield   that binary too (a build of main), in each round
//
// The stream is the same bytes for both: a 1 MiB block of random bytes repeated,
// written by this process into the uploader's stdin (so neither side reads a file).
// Wall time from spawn to exit; peak RSS (VmHWM) of the uploader from /proc; moto's CPU
// seconds (user + system, /proc) spent meanwhile: moto is the bottleneck (bench/S3.md).
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMoto } from "../test/helpers/s3.ts";

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_GP_MIB ?? 2048);
const ROUNDS = Number(process.env.BENCH_GP_ROUNDS ?? 2);
const CHUNK_MIB = 64;
const CONCURRENCY = 4;
const SHIELD = process.env.BENCH_GP_SHIELD ?? resolve(import.meta.dir, "../dist/shield");
const BASELINE = process.env.BENCH_GP_BASELINE;

const moto = await startMoto();
const dir = mkdtempSync(join(tmpdir(), "shield-bench-gpbackup-"));
const s3 = new S3Client({ endpoint: moto.url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "b", secretAccessKey: "b" } });
await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
const plugin = join(dir, "gpbackup_shield_plugin");
symlinkSync(SHIELD, plugin);
const basePlugin = join(dir, "base", "gpbackup_shield_plugin");
if (BASELINE) { mkdirSync(join(dir, "base")); symlinkSync(resolve(BASELINE), basePlugin); }
const config = join(dir, "s3.yaml");
writeFileSync(config, [
  `executablepath: ${plugin}`, "options:", `  endpoint: ${moto.url}`, "  aws_access_key_id: b", "  aws_secret_access_key: b",
  "  bucket: bench", "  folder: gp", `  backup_multipart_chunksize: ${CHUNK_MIB}MB`, `  backup_max_concurrent_requests: ${CONCURRENCY}`, "",
].join("\n"));
const boto = join(dir, "boto.py");
writeFileSync(boto, `import sys, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url="${moto.url}", region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b")
s3.upload_fileobj(sys.stdin.buffer, "bench", sys.argv[1], Config=TransferConfig(multipart_chunksize=${CHUNK_MIB}*1024*1024, max_concurrency=${CONCURRENCY}, multipart_threshold=${CHUNK_MIB}*1024*1024))
`);

const block = crypto.getRandomValues(new Uint8Array(65536));
const oneMiB = new Uint8Array(MIB);
for (let i = 0; i < 16; i++) oneMiB.set(block, i * 65536);

function peak(pid: number): number {
  try { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024; } catch { return 0; }
}

function motoCpu(): number {
  const f = readFileSync(`/proc/${moto.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

type Result = { s: number; rssMiB: number; load: string; motoCpu: number };
async function run(argv: string[], key: string): Promise<Result> {
  const l = loadavg()[0]!.toFixed(1);
  const m = motoCpu();
  const start = performance.now();
  const proc = Bun.spawn(argv, { stdin: "pipe", stdout: "ignore", stderr: "inherit" });
  let rss = 0;
  const poll = setInterval(() => { rss = Math.max(rss, peak(proc.pid)); }, 100);
  for (let i = 0; i < SIZE_MIB; i++) { proc.stdin.write(oneMiB); await proc.stdin.flush(); }
  await proc.stdin.end();
  const code = await proc.exited;
  clearInterval(poll);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
  const s = (performance.now() - start) / 1000;
  const cpu = motoCpu() - m;
  const head = await s3.send(new HeadObjectCommand({ Bucket: "bench", Key: key }));
  if (head.ContentLength !== SIZE_MIB * MIB) throw new Error(`${key}: ${head.ContentLength} bytes stored`);
  // moto keeps every object in memory (2 GiB each, several times over while completing): one at a time.
  await s3.send(new DeleteObjectCommand({ Bucket: "bench", Key: key }));
  return { s, rssMiB: rss / MIB, load: l, motoCpu: cpu };
}

const results: Record<string, Result[]> = { shield: [], boto3: [], baseline: [] };
const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2; };
const cell = (x: Result) => `${x.s.toFixed(1)} s (${(SIZE_MIB / x.s).toFixed(0)} MiB/s, ${x.rssMiB.toFixed(0)} MiB, load ${x.load}; moto ${x.motoCpu.toFixed(1)} s CPU)`;
console.log(`backup_data of ${SIZE_MIB} MiB into moto_server, ${CHUNK_MIB} MiB parts, ${CONCURRENCY} in flight, ${ROUNDS} rounds, the order rotating`);
console.log(`| round | order | shield | boto3 | shield/boto3 speed |${BASELINE ? " baseline | baseline/boto3 |" : ""}\n|---|---|---|---|---|${BASELINE ? "---|---|" : ""}`);
for (let r = 0; r < ROUNDS; r++) {
  const ts = `2024010101010${r}`;
  const runs: Record<string, () => Promise<Result>> = {
    shield: () => run([plugin, "backup_data", config, `/data/backups/20240101/${ts}/gpbackup_0_${ts}`], `gp/backups/20240101/${ts}/gpbackup_0_${ts}`),
    boto3: () => run(["python3", boto, `boto/${ts}`], `boto/${ts}`),
    baseline: () => run([basePlugin, "backup_data", config, `/data/backups/20240101/${ts}/gpbackup_1_${ts}`], `gp/backups/20240101/${ts}/gpbackup_1_${ts}`),
  };
  // Rotate which goes first, so none always meets a fresher server.
  const names = BASELINE ? ["shield", "boto3", "baseline"] : ["shield", "boto3"];
  const order = names.map((_, j) => names[(r + j) % names.length]!);
  const got: Record<string, Result> = {};
  for (const name of order) got[name] = await runs[name]!();
  for (const name of names) results[name]!.push(got[name]!);
  const bo = got.boto3!;
  console.log(`| ${r + 1} | ${order.join(", ")} | ${cell(got.shield!)} | ${cell(bo)} | ${(bo.s / got.shield!.s).toFixed(2)}× |` +
    (got.baseline ? ` ${cell(got.baseline)} | ${(bo.s / got.baseline.s).toFixed(2)}× |` : ""));
}
for (const name of BASELINE ? ["shield", "baseline"] : ["shield"]) {
  const ratios = results[name]!.map((x, i) => results.boto3![i]!.s / x.s);
  console.log(`${name} median ${median(results[name]!.map((x) => x.s)).toFixed(1)} s (moto ${median(results[name]!.map((x) => x.motoCpu)).toFixed(1)} s CPU), boto3 median ${median(results.boto3!.map((x) => x.s)).toFixed(1)} s (moto ${median(results.boto3!.map((x) => x.motoCpu)).toFixed(1)} s CPU);` +
    ` ${name}/boto3 speed: median ${median(ratios).toFixed(2)}× (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
}
moto.stop();
rmSync(dir, { recursive: true, force: true });
