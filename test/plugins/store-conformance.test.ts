// The store conformance suite (test/helpers/store-conformance.ts) run against
// every store: fs, s3 (against moto), azure (against Azurite), and the shell
// example store. A new store
// adds one storeConformance({...}) here: how to run it, how to make a fresh
// endpoint, how to list what it holds. Any external store can be checked too:
//
//   SHIELD_CONFORMANCE_STORE=/path/to/plugin SHIELD_CONFORMANCE_ENDPOINT='{"...":"..."}' \
//     npx bun test --timeout 120000 test/plugins/store-conformance.test.ts -t external
import { afterAll } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fs } from "../../plugins/fs/index.ts";
import { s3 } from "../../plugins/s3/index.ts";
import { azure } from "../../plugins/azure/index.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, startAzurite } from "../helpers/azurite.ts";
import { freshBucket, motoAvailable, motoEndpoint, objectKeys, openUploads, startMoto } from "../helpers/s3.ts";
import { storeConformance } from "../helpers/store-conformance.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const SHELL_DIR = join(ROOT, "plugins/examples/shell-dir");

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function freshDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `shield-conformance-${name}-`));
  dirs.push(d);
  return d;
}
/** Regular files under dir, relative; hidden ones (temp files, .incoming) are not blobs. */
function files(dir: string, hidden = false): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => statSync(join(dir, p)).isFile())
    .filter((p) => hidden === p.split("/").some((part) => part.startsWith(".")))
    .sort();
}
/** Where a store cannot write even as root (validate may still pass: only a live check finds out). */
const UNWRITABLE = "/proc";

storeConformance({
  name: "fs",
  command: [process.execPath, MAIN, "plugin", "fs"],
  endpointFrom: "env",
  plugin: fs,
  available: true,
  big: "run",
  freshEndpoint: async () => ({ base_dir: freshDir("fs") }),
  blobs: async (ep) => files(ep.base_dir as string),
  leftovers: async (ep) => files(ep.base_dir as string, true),
  missingKey: "2020/01/02/00000000-0000-4000-8000-000000000000",
  badEndpoints: (ep) => [
    ["no base_dir", {}, 12],
    ["a relative base_dir", { base_dir: "backups" }, 13],
    ["an absent base_dir", { base_dir: join(ep.base_dir as string, "nope") }, 13],
  ],
  unreachable: () => ({ base_dir: UNWRITABLE }),
});

storeConformance({
  name: "shell-dir (example external store)",
  command: [SHELL_DIR],
  endpointFrom: "flag",
  available: true,
  big: "run",
  freshEndpoint: async () => ({ dir: freshDir("shell") }),
  blobs: async (ep) => files(ep.dir as string),
  missingKey: "20200102-000000-0000000000000000",
  badEndpoints: () => [
    ["no dir", {}, 12],
    ["a relative dir", { dir: "blobs" }, 13],
  ],
  unreachable: () => ({ dir: UNWRITABLE }),
});

storeConformance({
  name: "s3 (moto)",
  command: [process.execPath, MAIN, "plugin", "s3"],
  endpointFrom: "env",
  plugin: s3,
  available: motoAvailable,
  big: "run",
  freshEndpoint: async () => motoEndpoint(await startMoto(), await freshBucket("conformance"), { part_size: "5M" }),
  blobs: async (ep) => objectKeys(ep.bucket as string),
  leftovers: async (ep) => openUploads(ep.bucket as string),
  missingKey: "2020/01/02/2020-01-02-000000-00000000-0000-4000-8000-000000000000",
  badEndpoints: (ep) => [
    ["no bucket", { ...ep, bucket: undefined }, 12],
    ["no credentials at all", { bucket: ep.bucket, s3_host: ep.s3_host }, 12],
    ["a bucket name S3 refuses", { ...ep, bucket: "Not_A_Bucket" }, 13],
    ["signature version 2", { ...ep, signature_version: "2" }, 13],
    ["a SOCKS5 proxy", { ...ep, socks5_proxy: "127.0.0.1:1080" }, 13],
    ["a part size under 5M", { ...ep, part_size: "1M" }, 13],
  ],
  unreachable: (ep) => ({ ...ep, bucket: "no-such-bucket-anywhere" }),
});

/** A fresh, empty container on the shared Azurite, as an endpoint. */
async function freshContainer(): Promise<Record<string, unknown>> {
  const az = await startAzurite();
  const name = `shield-conformance-${randomUUID().slice(0, 8)}`;
  await new BlobServiceClient(az.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(name).create();
  return { storage_account: AZURITE_ACCOUNT, storage_account_key: AZURITE_KEY, storage_container: name, blob_endpoint: az.url };
}
async function containerBlobs(ep: Record<string, unknown>): Promise<string[]> {
  const service = new BlobServiceClient(ep.blob_endpoint as string, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  const names: string[] = [];
  for await (const b of service.getContainerClient(ep.storage_container as string).listBlobsFlat()) names.push(b.name);
  return names.sort();
}
/** An account, key and container that pass the syntax checks, for the endpoints validate must refuse for one field. */
const AZ = { storage_account: "acct", storage_account_key: AZURITE_KEY, storage_container: "ccc" };

storeConformance({
  name: "azure (Azurite)",
  command: [process.execPath, MAIN, "plugin", "azure"],
  endpointFrom: "env",
  plugin: azure,
  available: azuriteAvailable,
  big: "run",
  // 256 MiB rather than restic's 1 GiB: Azurite keeps every block on disk twice
  // (staged extents, then the committed blob), on a machine shared by eight runs.
  bigSize: 256 * 1024 * 1024,
  // Measured: store 135-160 MiB (the runtime and the SDK alone: 51 MiB), flat from
  // 256 MiB to 2 GiB; retrieve ~90 MiB. A store holding the archive would pass 300.
  memoryBound: 200 * 1024 * 1024,
  freshEndpoint: freshContainer,
  blobs: containerBlobs,
  missingKey: "2020/01/02/00000000-0000-4000-8000-000000000000",
  badEndpoints: () => [
    ["no storage_account", {}, 12, `"storage_account"`],
    ["no key nor SAS", { storage_account: "acct", storage_container: "c0c" }, 12, `"storage_account_key" (or "sas_token")`],
    ["no storage_container", { storage_account: "acct", storage_account_key: AZURITE_KEY }, 12, `"storage_container"`],
    ["a bad account name", { ...AZ, storage_account: "Bad_Name" }, 13, `"storage_account"`],
    ["a key not in base64", { ...AZ, storage_account_key: "not base64!" }, 13, `"storage_account_key"`],
    ["both key and SAS", { ...AZ, sas_token: "sv=1&sig=x" }, 13, "give one of them"],
    ["a SAS with no signature", { storage_account: "acct", sas_token: "se=2030", storage_container: "ccc" }, 13, `"sas_token"`],
    ["an upper-case container", { ...AZ, storage_container: "Backups" }, 13, `"storage_container"`],
    ["a too-short container", { ...AZ, storage_container: "ab" }, 13, `"storage_container"`],
    ["a container with --", { ...AZ, storage_container: "a--b" }, 13, `"storage_container"`],
    ["a prefix with ..", { ...AZ, prefix: "a/../b" }, 13, `"prefix"`],
    ["a blob_endpoint not http(s)", { ...AZ, blob_endpoint: "ftp://x" }, 13, `"blob_endpoint"`],
    ["a SAS in the blob_endpoint", { ...AZ, blob_endpoint: "https://x/?sv=1&sig=2" }, 13, "sas_token"],
    ["a block_size of 0", { ...AZ, block_size: "0" }, 13, `"block_size"`],
    ["a block_size over Azure's limit", { ...AZ, block_size: "8 GiB" }, 13, `"block_size"`],
    ["a concurrency over 16", { ...AZ, concurrency: 17 }, 13, `"concurrency"`],
    ["a container that is not a string", { ...AZ, storage_container: ["x"] }, 13, `"storage_container"`],
  ],
  unreachable: (ep) => ({ ...ep, storage_account_key: Buffer.from(randomBytes(64)).toString("base64") }),
});

const external = process.env.SHIELD_CONFORMANCE_STORE;
if (external) {
  const endpoint = JSON.parse(process.env.SHIELD_CONFORMANCE_ENDPOINT ?? "{}");
  storeConformance({
    name: `external ${external}`,
    command: [resolve(external)],
    endpointFrom: "flag",
    available: true,
    big: process.env.SHIELD_TEST_BIG === "1" ? "run" : "an external store: SHIELD_TEST_BIG=1 to run it",
    freshEndpoint: async () => endpoint,
    missingKey: process.env.SHIELD_CONFORMANCE_MISSING_KEY ?? "shield-conformance-no-such-key",
    badEndpoints: () => [],
  });
}
