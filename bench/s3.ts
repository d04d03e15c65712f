// S3 relay benchmark: the same 2 GiB uploaded into a private moto_server by
// `shield plugin s3 store` (the built-in store, defaults: 8 MiB parts, 4 in
// flight) and by boto3's transfer manager (`upload_fileobj`, default settings:
// 8 MiB parts, 10 threads), alternately, from the same file (in the page cache
// after the first read). Wall time and peak RSS (GNU time) of each uploader.
//
//   npm run build && bun run bench/s3.ts        # BENCH_S3_MIB=2048 BENCH_S3_RUNS=2
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { freshBucket, MOTO_KEY, motoAvailable, motoEndpoint, startServer } from "../test/helpers/s3.ts";

const MIB = Number(process.env.BENCH_S3_MIB ?? 2048);
const RUNS = Number(process.env.BENCH_S3_RUNS ?? 2);
const SHIELD = resolve(import.meta.dir, "../dist/shield");

if (!motoAvailable) process.exit(1);
const dir = mkdtempSync(join(tmpdir(), "shield-bench-s3-"));
const file = join(dir, "data");
spawnSync("sh", ["-c", `head -c ${MIB * 1024 * 1024} /dev/urandom > ${file}`]);
const moto = await startServer();
const bucket = await freshBucket("bench", moto);

const BOTO = `
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["BENCH_URL"], region_name="us-east-1")
with open(sys.argv[1], "rb") as f:
    s3.upload_fileobj(f, os.environ["BENCH_BUCKET"], sys.argv[2])
`;

interface Result { secs: number; rssMiB: number }

function timed(cmd: string, env: Record<string, string>): Result {
  const t = performance.now();
  const r = spawnSync("sh", ["-c", `/usr/bin/time -f 'RSS %M' ${cmd}`], { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 20 });
  const secs = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const rss = Number(/RSS (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
  return { secs, rssMiB: rss };
}

const shield: Result[] = [];
const boto: Result[] = [];
for (let i = 0; i < RUNS; i++) {
  const s = timed(`${SHIELD} plugin s3 store < ${file} > ${dir}/key.json`, { SHIELD_ENDPOINT: JSON.stringify(motoEndpoint(moto, bucket)) });
  shield.push(s);
  const key = JSON.parse(await Bun.file(`${dir}/key.json`).text()).key;
  await moto.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  const b = timed(`python3 -c '${BOTO}' ${file} boto-${i}`, {
    BENCH_URL: moto.url, BENCH_BUCKET: bucket, AWS_ACCESS_KEY_ID: MOTO_KEY.access_key_id, AWS_SECRET_ACCESS_KEY: MOTO_KEY.secret_access_key,
  });
  boto.push(b);
  await moto.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `boto-${i}` }));
  console.log(`run ${i + 1}: shield ${s.secs.toFixed(1)} s ${s.rssMiB.toFixed(0)} MiB; boto3 ${b.secs.toFixed(1)} s ${b.rssMiB.toFixed(0)} MiB`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sS = median(shield.map((r) => r.secs));
const bS = median(boto.map((r) => r.secs));
console.log(`\n| uploader | ${MIB} MiB, median of ${RUNS} | MiB/s | peak RSS |`);
console.log(`|---|---|---|---|`);
console.log(`| shield plugin s3 store | ${sS.toFixed(1)} s | ${(MIB / sS).toFixed(0)} | ${Math.max(...shield.map((r) => r.rssMiB)).toFixed(0)} MiB |`);
console.log(`| boto3 upload_fileobj | ${bS.toFixed(1)} s | ${(MIB / bS).toFixed(0)} | ${Math.max(...boto.map((r) => r.rssMiB)).toFixed(0)} MiB |`);
console.log(`\nshield / boto3 speed: ${(bS / sS).toFixed(2)}×`);
moto.stop();
rmSync(dir, { recursive: true, force: true });
