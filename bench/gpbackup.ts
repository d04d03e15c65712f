// gpbackup plugin benchmark: `backup_data` of a 2 GiB stream into a private
// moto_server in S3 mode, against boto3's transfer manager (upload_fileobj of the
// same stream from stdin), same part size and concurrency. Results: bench/GPBACKUP.md.
//
//   ./node_modules/.bin/bun run bench/gpbackup.ts        (needs dist/shield, moto_server, python3 with boto3)
//   BENCH_GP_MIB=512 BENCH_GP_ROUNDS=3 ... to change the size and the number of alternating rounds.
//
// The stream is the same bytes for both: a 1 MiB block of random bytes repeated,
// written by this process into the uploader's stdin (so neither side reads a file).
// Wall time from spawn to exit; peak RSS (VmHWM) of the uploader from /proc.
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMoto } from "../test/helpers/gpbackup-moto.ts";

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_GP_MIB ?? 2048);
const ROUNDS = Number(process.env.BENCH_GP_ROUNDS ?? 2);
const CHUNK_MIB = 64;
const CONCURRENCY = 4;
const SHIELD = resolve(import.meta.dir, "../dist/shield");

const moto = await startMoto();
const dir = mkdtempSync(join(tmpdir(), "shield-bench-gpbackup-"));
const s3 = new S3Client({ endpoint: moto.url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "b", secretAccessKey: "b" } });
await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
const plugin = join(dir, "gpbackup_shield_plugin");
symlinkSync(SHIELD, plugin);
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

async function run(argv: string[], key: string): Promise<{ s: number; rssMiB: number }> {
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
  const head = await s3.send(new HeadObjectCommand({ Bucket: "bench", Key: key }));
  if (head.ContentLength !== SIZE_MIB * MIB) throw new Error(`${key}: ${head.ContentLength} bytes stored`);
  return { s, rssMiB: rss / MIB };
}

const results: Record<string, { s: number; rssMiB: number }[]> = { shield: [], boto3: [] };
for (let r = 0; r < ROUNDS; r++) {
  const ts = `2024010101010${r}`;
  results.shield!.push(await run([plugin, "backup_data", config, `/data/backups/20240101/${ts}/gpbackup_0_${ts}`], `gp/backups/20240101/${ts}/gpbackup_0_${ts}`));
  results.boto3!.push(await run(["python3", boto, `boto/${ts}`], `boto/${ts}`));
}
const best = (xs: { s: number }[]) => Math.min(...xs.map((x) => x.s));
console.log(`backup_data of ${SIZE_MIB} MiB into moto_server, ${CHUNK_MIB} MiB parts, ${CONCURRENCY} in flight, ${ROUNDS} alternating rounds`);
for (const [name, xs] of Object.entries(results)) {
  console.log(`  ${name.padEnd(7)} ${xs.map((x) => `${x.s.toFixed(1)} s`).join(", ")}  best ${(SIZE_MIB / best(xs)).toFixed(0)} MiB/s  peak RSS ${Math.max(...xs.map((x) => x.rssMiB)).toFixed(0)} MiB`);
}
console.log(`  shield / boto3 speed: ${(best(results.boto3!) / best(results.shield!)).toFixed(2)}x`);
moto.stop();
rmSync(dir, { recursive: true, force: true });
