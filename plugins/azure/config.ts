// The azure store's endpoint: what each field means, how it is checked (no
// network), and the client made from it.
//
// Field names are the original Shield's azure plugin's (storage_account,
// storage_account_key, storage_container, prefix), so an endpoint written for it
// works unchanged; sas_token, blob_endpoint, block_size and concurrency are new.
import type { ContainerClient, StoragePipelineOptions } from "@azure/storage-blob";
import { EXIT, EndpointInvalid, PluginError, secretLine, str, type Endpoint, type PluginField } from "../protocol.ts";
import { VERSION } from "../../src/version.ts";
import { FetchHttpClient } from "./http.ts";
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MiB } from "./schedule.ts";

export interface Config {
  account: string;
  container: string;
  /** "" or a path ending in "/", never starting with one. */
  prefix: string;
  /** The blob service's URL, without a trailing slash. */
  url: string;
  auth: { key: string } | { sas: string };
  /** The first block's size in bytes (the schedule grows it, schedule.ts). */
  blockSize: number;
  /** Blocks uploading at once. */
  concurrency: number;
}

export const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 16;

export const FIELDS: PluginField[] = [
  {
    name: "storage_account", type: "string", title: "Storage Account", required: true,
    help: "Name of the Azure Storage Account (3-24 lower-case letters and digits).", example: "mybackups",
  },
  {
    name: "storage_account_key", type: "password", title: "Storage Account Key", required: false,
    help: "An access key of the storage account (base64). Give this or a SAS token.",
  },
  {
    name: "sas_token", type: "password", title: "SAS Token", required: false,
    help: "A shared access signature with read, write, delete and list rights on the container, instead of the account key.",
  },
  {
    name: "storage_container", type: "string", title: "Storage Container", required: true,
    help: "Name of an existing container to keep archives in (3-63 lower-case letters, digits and dashes).", example: "shield-backups",
  },
  {
    name: "prefix", type: "string", title: "Container Path Prefix", required: false,
    help: "An optional path inside the container to keep archives under. By default, archives are kept at the container's root.",
    example: "prod/db",
  },
  {
    name: "blob_endpoint", type: "string", title: "Blob Service Endpoint", required: false,
    help: "The blob service's URL, for sovereign clouds, private endpoints or Azurite. Default: https://ACCOUNT.blob.core.windows.net.",
    example: "https://mybackups.blob.core.chinacloudapi.cn",
  },
  {
    name: "block_size", type: "string", title: "First Block Size (MiB)", required: false, default: String(DEFAULT_BLOCK_SIZE / MiB),
    help: "Size of the first blocks in MiB; blocks double every 7,000 so that any archive up to several TiB fits in Azure's 50,000 blocks.",
  },
  {
    name: "concurrency", type: "string", title: "Concurrent Blocks", required: false, default: String(DEFAULT_CONCURRENCY),
    help: `Blocks uploaded at once (1-${MAX_CONCURRENCY}). Memory held is about (concurrency + 1) × block size.`,
  },
];

const ACCOUNT = /^[a-z0-9]{3,24}$/;
// Azure's rule: 3-63 of a-z, 0-9 and "-", starting and ending with a letter or digit, no "--"; or the root container.
const CONTAINER = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;

function intIn(endpoint: Endpoint, field: string, min: number, max: number, fallback: number, unit: RegExp = /^$/): number {
  const s = str(endpoint, field);
  if (s === undefined) return fallback;
  const m = /^\s*(\d{1,6})\s*([A-Za-z]*)\s*$/.exec(s);
  if (!m || !unit.test(m[2]!)) throw new EndpointInvalid(field, `must be a whole number from ${min} to ${max}, not "${s}"`);
  const n = Number(m[1]);
  if (n < min || n > max) throw new EndpointInvalid(field, `must be from ${min} to ${max}, not ${n}`);
  return n;
}

/** The endpoint as the store uses it; throws exit 12 (missing) or 13 (invalid) naming the field. */
export function config(endpoint: Endpoint): Config {
  const account = str(endpoint, "storage_account", { required: true }).trim();
  if (!ACCOUNT.test(account)) throw new EndpointInvalid("storage_account", `must be 3-24 lower-case letters and digits, not "${account}"`);

  const key = str(endpoint, "storage_account_key");
  const sasRaw = str(endpoint, "sas_token");
  if (key === undefined && sasRaw === undefined) {
    throw new PluginError(`the endpoint lacks "storage_account_key" (or "sas_token"): one of them is required`, EXIT.ENDPOINT_MISSING_KEY);
  }
  if (key !== undefined && sasRaw !== undefined) throw new EndpointInvalid("sas_token", `cannot be given with "storage_account_key": give one of them`);
  let auth: Config["auth"];
  if (key !== undefined) {
    const k = key.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k) || k.length % 4 !== 0) throw new EndpointInvalid("storage_account_key", "must be the account key as Azure shows it (base64)");
    auth = { key: k };
  } else {
    const sas = sasRaw!.trim().replace(/^\?/, "");
    const params = new URLSearchParams(sas);
    if (!params.get("sig") || !params.get("sv")) throw new EndpointInvalid("sas_token", `must be a shared access signature (a query string with "sv=" and "sig=")`);
    auth = { sas };
  }

  const container = str(endpoint, "storage_container", { required: true }).trim();
  if (container !== "$root" && !CONTAINER.test(container)) {
    throw new EndpointInvalid("storage_container", `must be 3-63 lower-case letters, digits and single dashes, starting and ending with a letter or digit, not "${container}"`);
  }

  let prefix = (str(endpoint, "prefix") ?? "").trim().replace(/^\/+/, "").replace(/\/+$/, "");
  if (prefix && (/[\x00-\x1f\x7f\\]/.test(prefix) || prefix.split("/").some((s) => s === "." || s === ".." || s === ""))) {
    throw new EndpointInvalid("prefix", "must be a path of plain names separated by single slashes");
  }
  if (prefix.length > 512) throw new EndpointInvalid("prefix", "must be at most 512 characters");
  if (prefix) prefix += "/";

  let url = `https://${account}.blob.core.windows.net`;
  const given = str(endpoint, "blob_endpoint");
  if (given !== undefined) {
    let u: URL;
    try {
      u = new URL(given.trim());
    } catch {
      throw new EndpointInvalid("blob_endpoint", `must be a URL (https://...), not "${given}"`);
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new EndpointInvalid("blob_endpoint", "must be an http:// or https:// URL");
    if (u.search || u.hash || u.username || u.password) throw new EndpointInvalid("blob_endpoint", "must be the service's URL alone: a SAS token goes in sas_token");
    url = u.toString().replace(/\/+$/, "");
  }

  const blockSize = intIn(endpoint, "block_size", 1, MAX_BLOCK_SIZE / MiB, DEFAULT_BLOCK_SIZE / MiB, /^(|M|MB|MiB)$/i) * MiB;
  const concurrency = intIn(endpoint, "concurrency", 1, MAX_CONCURRENCY, DEFAULT_CONCURRENCY);
  return { account, container, prefix, url, auth, blockSize, concurrency };
}

/** validate's lines: every field, the secrets as (set). */
export function describe(c: Config, endpoint: Endpoint): string[] {
  return [
    `storage_account: ${c.account}`,
    secretLine("storage_account_key", str(endpoint, "storage_account_key")),
    secretLine("sas_token", str(endpoint, "sas_token")),
    `storage_container: ${c.container}`,
    `prefix: ${c.prefix || "(none: the container's root)"}`,
    `blob_endpoint: ${c.url}`,
    `block_size: ${c.blockSize / MiB} MiB at first, concurrency: ${c.concurrency}`,
  ];
}

/**
 * The container's client. The SDK's own retries are off: retry.ts decides.
 * The SDK is loaded here, on first use, not when the binary starts: every other
 * plugin and the daemon would otherwise pay for parsing it.
 */
export async function containerClient(c: Config): Promise<ContainerClient> {
  const { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential } = await import("@azure/storage-blob");
  const options = {
    retryOptions: { maxTries: 1 },
    userAgentOptions: { userAgentPrefix: `shield/${VERSION}` },
    httpClient: new FetchHttpClient() as unknown as StoragePipelineOptions["httpClient"],
  };
  const service = "key" in c.auth
    ? new BlobServiceClient(c.url, new StorageSharedKeyCredential(c.account, c.auth.key), options)
    : new BlobServiceClient(`${c.url}?${c.auth.sas}`, new AnonymousCredential(), options);
  return service.getContainerClient(c.container);
}
