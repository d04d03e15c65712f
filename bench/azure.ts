// Azure benchmark against a private Azurite (results in bench/S3.md, "Azure"):
// the same BENCH_AZURE_MIB (2048) of random bytes uploaded by `shield plugin azure
// store` (the built-in store, defaults: 8 MiB first blocks, 4 in flight) and by
// @azure/storage-blob's own `BlockBlobClient.uploadStream` (default settings: 8 MiB
// buffers, 5 at once), under Node.js (the SDK's home runtime), both reading the
// same file on stdin, in interleaved pairs (the order alternating). Wall time and
// peak RSS (GNU time) of each uploader, and the load average when each started.
//
//   npm run build && bun run bench/azure.ts     # BENCH_AZURE_MIB=2048 BENCH_AZURE_RUNS=3
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, launch } from "../test/helpers/azurite.ts";

const MIB = Number(process.env.BENCH_AZURE_MIB ?? 2048);
const RUNS = Number(process.env.BENCH_AZURE_RUNS ?? 3);
const SHIELD = resolve(import.meta.dir, "../dist/shield");
const MODULES = resolve(import.meta.dir, "../node_modules");

if (!azuriteAvailable) process.exit(1);
const dir = mkdtempSync(join(tmpdir(), "shield-bench-azure-"));
const file = join(dir, "data");
const azurite = await launch();
const container = "bench";
const service = new BlobServiceClient(azurite.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
await service.getContainerClient(container).create();

// The SDK's uploader, as its documentation shows it: a stream in, defaults for the rest.
const sdkScript = join(dir, "sdk-upload.cjs");
writeFileSync(sdkScript, `
const { BlobServiceClient, StorageSharedKeyCredential } = require(${JSON.stringify(join(MODULES, "@azure/storage-blob"))});
const e = JSON.parse(process.env.BENCH_AZURE);
const s = new BlobServiceClient(e.url, new StorageSharedKeyCredential(e.account, e.key));
s.getContainerClient(e.container).getBlockBlobClient(process.argv[2]).uploadStream(process.stdin)
  .then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
`);

interface Result { secs: number; rssMiB: number; load: string }

// Spawned without blocking this process's event loop: Azurite's output is read through pipes by this process.
async function timed(cmd: string, env: Record<string, string>): Promise<Result> {
  const load = loadavg()[0]!.toFixed(1);
  const t = performance.now();
  const p = Bun.spawn(["sh", "-c", `/usr/bin/time -f 'RSS %M' ${cmd}`], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  const secs = (performance.now() - t) / 1000;
  if (code !== 0) throw new Error(`${cmd} failed: ${stderr}`);
  return { secs, rssMiB: Number(/RSS (\d+)/.exec(stderr)?.[1] ?? 0) / 1024, load };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

spawnSync("sh", ["-c", `head -c ${MIB * 1024 * 1024} /dev/urandom > ${file}`]);
const endpoint = { storage_account: AZURITE_ACCOUNT, storage_account_key: AZURITE_KEY, storage_container: container, blob_endpoint: azurite.url };
const runShield = async () => {
  const r = await timed(`${SHIELD} plugin azure store < ${file} > ${dir}/key.json`, { SHIELD_ENDPOINT: JSON.stringify(endpoint) });
  const key = JSON.parse(await Bun.file(`${dir}/key.json`).text()).key;
  await service.getContainerClient(container).deleteBlob(key);
  return r;
};
const runSdk = async (i: number) => {
  const r = await timed(`node ${sdkScript} sdk-${i} < ${file}`, {
    BENCH_AZURE: JSON.stringify({ url: azurite.url, account: AZURITE_ACCOUNT, key: AZURITE_KEY, container }),
  });
  await service.getContainerClient(container).deleteBlob(`sdk-${i}`);
  return r;
};

console.log(`| pair | order | shield s (MiB/s, RSS, load) | uploadStream s (MiB/s, RSS, load) | shield/SDK speed |`);
console.log(`|---|---|---|---|---|`);
const pairs: { shield: Result; sdk: Result }[] = [];
for (let i = 0; i < RUNS; i++) {
  const shieldFirst = i % 2 === 0;
  const a = shieldFirst ? await runShield() : await runSdk(i);
  const b = shieldFirst ? await runSdk(i) : await runShield();
  const p = shieldFirst ? { shield: a, sdk: b } : { shield: b, sdk: a };
  pairs.push(p);
  const cell = (r: Result) => `${r.secs.toFixed(1)} (${(MIB / r.secs).toFixed(0)}, ${r.rssMiB.toFixed(0)} MiB, ${r.load})`;
  console.log(`| ${i + 1} | ${shieldFirst ? "shield, SDK" : "SDK, shield"} | ${cell(p.shield)} | ${cell(p.sdk)} | ${(p.sdk.secs / p.shield.secs).toFixed(2)}× |`);
}
const ratios = pairs.map((p) => p.sdk.secs / p.shield.secs);
console.log(`\n${MIB} MiB, ${RUNS} pairs: shield median ${median(pairs.map((p) => p.shield.secs)).toFixed(1)} s, uploadStream median ${median(pairs.map((p) => p.sdk.secs)).toFixed(1)} s;` +
  ` shield/SDK speed: median ${median(ratios).toFixed(2)}× (pairs ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)});` +
  ` peak RSS shield ${Math.max(...pairs.map((p) => p.shield.rssMiB)).toFixed(0)} MiB, SDK ${Math.max(...pairs.map((p) => p.sdk.rssMiB)).toFixed(0)} MiB`);
azurite.stop();
rmSync(dir, { recursive: true, force: true });
