// The s3 store's endpoint: read, checked and turned into one S3Config, without
// touching the network (validate must not). Field names are the original Shield's
// s3 plugin's, so an endpoint written for it works unchanged; path_style,
// storage_class, sse, sse_kms_key_id, ca_cert, concurrency and request_timeout are ours.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { EndpointInvalid, EndpointMissing, str, type Endpoint, type PluginField } from "../protocol.ts";
import { MAX_PART, MIN_PART } from "./parts.ts";

const AWS_HOST = "s3.amazonaws.com";
const MiB = 1024 * 1024;
export const DEFAULT_PART_SIZE = 8 * MiB;
export const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 16;
const DEFAULT_TIMEOUT_S = 60;

export type Credentials =
  | { from: "endpoint"; accessKeyId: string; secretAccessKey: string }
  | { from: "env" } // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) of the plugin's environment
  | { from: "instance-profile" };

export interface S3Config {
  bucket: string;
  /** "" or a path inside the bucket, without leading or trailing "/". */
  prefix: string;
  region: string;
  /** Undefined for AWS itself (the SDK picks the regional endpoint); else scheme://host[:port]. */
  endpointUrl?: string;
  pathStyle: boolean;
  credentials: Credentials;
  partSize: number;
  concurrency: number;
  /** Per request, before the bytes it carries are counted in (see retry.ts). */
  timeoutMs: number;
  skipSslValidation: boolean;
  /** PEM text of the CA bundle to trust instead of the system's. */
  caCert?: string;
  storageClass?: string;
  sse?: { type: "AES256" } | { type: "aws:kms"; kmsKeyId?: string };
}

/** true/false, as JSON booleans or as the strings the original Shield's forms sent. */
function bool(endpoint: Endpoint, field: string, fallback = false): boolean {
  const v = endpoint[field];
  if (v === undefined || v === null || v === "") return fallback;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["true", "yes", "y", "1", "on"].includes(s)) return true;
    if (["false", "no", "n", "0", "off"].includes(s)) return false;
  }
  throw new EndpointInvalid(field, "must be true or false");
}

/** "5M", "100MB", "1g", or a number of bytes, as the original Shield took it (at least 5M). */
export function parsePartSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(?:([mMgG])[bB]?)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return unit === "g" ? n * 1024 * MiB : unit === "m" ? n * MiB : n;
}

function intIn(endpoint: Endpoint, field: string, lo: number, hi: number, fallback: number): number {
  const s = str(endpoint, field);
  if (s === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(s) ? Number(s) : NaN;
  if (!(n >= lo && n <= hi)) throw new EndpointInvalid(field, `must be a whole number from ${lo} to ${hi}, not "${s}"`);
  return n;
}

// S3's rules for a bucket name (the DNS-compatible ones every S3 work-alike accepts).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The endpoint as a config; throws EndpointMissing (12) or EndpointInvalid (13). */
export function readConfig(endpoint: Endpoint, env: Record<string, string | undefined> = process.env): S3Config {
  const bucket = str(endpoint, "bucket", { required: true });
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    throw new EndpointInvalid("bucket", `"${bucket}" is not a valid bucket name (3-63 lower-case letters, digits, dots and dashes)`);
  }
  const prefix = (str(endpoint, "prefix") ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((p) => p === ".." || p === ".") || /[\x00-\x1f\x7f]/.test(prefix)) {
    throw new EndpointInvalid("prefix", "must be a plain path inside the bucket (no \".\" or \"..\" parts, no control characters)");
  }
  const region = str(endpoint, "region") ?? "us-east-1";
  if (!/^[a-zA-Z0-9-]{1,64}$/.test(region)) throw new EndpointInvalid("region", `"${region}" is not a region name`);

  const sig = str(endpoint, "signature_version") ?? "4";
  if (sig === "2") {
    throw new EndpointInvalid("signature_version", "is 2, which this s3 store does not support: AWS signature version 2 is deprecated; use 4 (every S3-compatible service in use today accepts it)");
  }
  if (sig !== "4") throw new EndpointInvalid("signature_version", `must be 4, not "${sig}"`);

  const proxy = str(endpoint, "socks5_proxy");
  if (proxy !== undefined) {
    throw new EndpointInvalid("socks5_proxy", "is set, but this s3 store cannot relay through a SOCKS5 proxy: leave it empty and reach the service directly or through an HTTP(S) proxy of the network");
  }

  // Where the service is: s3_host may carry a scheme (http://minio.local), s3_port a port.
  const hostText = (str(endpoint, "s3_host") ?? AWS_HOST).trim();
  const s3Port = (() => {
    const p = str(endpoint, "s3_port");
    if (p === undefined) return undefined;
    const n = /^\d{1,5}$/.test(p.trim()) ? Number(p.trim()) : NaN;
    if (!(n >= 1 && n <= 65535)) throw new EndpointInvalid("s3_port", "must be a port number (1-65535)");
    return n;
  })();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(hostText) ? hostText : `https://${hostText}`);
  } catch {
    throw new EndpointInvalid("s3_host", `"${hostText}" is not a host name or URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new EndpointInvalid("s3_host", `must be reached over http or https, not ${url.protocol.slice(0, -1)}`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.username || url.password) {
    throw new EndpointInvalid("s3_host", "must be a host (with an optional scheme and port), not a URL with a path, query or credentials");
  }
  if (s3Port !== undefined) url.port = String(s3Port);
  const aws = url.hostname === AWS_HOST && !url.port && url.protocol === "https:";
  const endpointUrl = aws ? undefined : `${url.protocol}//${url.host}`;
  // Work-alikes (MinIO, Ceph, Garage, moto) want path-style addressing; AWS prefers virtual hosts.
  const pathStyle = bool(endpoint, "path_style", !aws);

  const accessKeyId = str(endpoint, "access_key_id");
  const secretAccessKey = str(endpoint, "secret_access_key");
  const useInstanceProfile = bool(endpoint, "use_instance_profile");
  let credentials: Credentials;
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    if (accessKeyId === undefined) throw new EndpointMissing("access_key_id");
    if (secretAccessKey === undefined) throw new EndpointMissing("secret_access_key");
    credentials = { from: "endpoint", accessKeyId, secretAccessKey };
  } else if (useInstanceProfile) {
    credentials = { from: "instance-profile" };
  } else if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = { from: "env" };
  } else {
    // Said as the missing field, with the other ways out in the message of the caller's log.
    throw new EndpointMissing("access_key_id");
  }

  const partText = str(endpoint, "part_size");
  let partSize = DEFAULT_PART_SIZE;
  if (partText !== undefined) {
    const n = parsePartSize(partText);
    if (n === undefined) throw new EndpointInvalid("part_size", `"${partText}" is not a size (like 8M, 100MB or 1G)`);
    if (n < MIN_PART) throw new EndpointInvalid("part_size", `is ${partText}, below S3's minimum part size of 5M`);
    if (n > MAX_PART) throw new EndpointInvalid("part_size", `is ${partText}, above S3's maximum part size of 5G`);
    partSize = n;
  }
  const concurrency = intIn(endpoint, "concurrency", 1, MAX_CONCURRENCY, DEFAULT_CONCURRENCY);
  const timeoutMs = intIn(endpoint, "request_timeout", 1, 3600, DEFAULT_TIMEOUT_S) * 1000;

  const skipSslValidation = bool(endpoint, "skip_ssl_validation");
  let caCert: string | undefined;
  const ca = str(endpoint, "ca_cert");
  if (ca !== undefined) {
    if (ca.includes("-----BEGIN CERTIFICATE-----")) caCert = ca;
    else if (isAbsolute(ca) && existsSync(ca)) caCert = readFileSync(ca, "utf8");
    else throw new EndpointInvalid("ca_cert", "must be PEM text (-----BEGIN CERTIFICATE-----...) or the absolute path of an existing PEM file");
    if (!caCert.includes("-----BEGIN CERTIFICATE-----")) throw new EndpointInvalid("ca_cert", "holds no PEM certificate");
  }

  const storageClass = str(endpoint, "storage_class");
  if (storageClass !== undefined && !/^[A-Z][A-Z0-9_]{1,40}$/.test(storageClass)) {
    throw new EndpointInvalid("storage_class", `"${storageClass}" is not a storage class (like STANDARD, STANDARD_IA, GLACIER_IR)`);
  }
  const sseText = str(endpoint, "sse");
  const kmsKeyId = str(endpoint, "sse_kms_key_id");
  let sse: S3Config["sse"];
  if (sseText === "AES256") sse = { type: "AES256" };
  else if (sseText === "aws:kms") sse = { type: "aws:kms", kmsKeyId };
  else if (sseText !== undefined) throw new EndpointInvalid("sse", `must be AES256 or aws:kms, not "${sseText}"`);
  if (kmsKeyId !== undefined && sse?.type !== "aws:kms") throw new EndpointInvalid("sse_kms_key_id", "is set, but sse is not aws:kms");

  return {
    bucket, prefix, region, endpointUrl, pathStyle, credentials, partSize, concurrency, timeoutMs,
    skipSslValidation, caCert, storageClass, sse,
  };
}

/** What validate prints: every choice made, never a secret. */
export function describeConfig(c: S3Config): string[] {
  const creds = c.credentials.from === "endpoint" ? `access_key_id and secret_access_key from the endpoint (secret_access_key: (set))`
    : c.credentials.from === "env" ? "from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)" : "from the instance profile";
  return [
    `bucket: ${c.bucket}`,
    `prefix: ${c.prefix || "(none)"}`,
    `service: ${c.endpointUrl ?? `AWS S3, region ${c.region}`}${c.pathStyle ? " (path-style)" : ""}`,
    `region: ${c.region}`,
    `credentials: ${creds}`,
    `part_size: ${c.partSize / MiB} MiB at first, growing with the stream; ${c.concurrency} part(s) in flight at most`,
    `TLS: ${c.skipSslValidation ? "certificate NOT validated (skip_ssl_validation)" : c.caCert ? "validated against ca_cert" : "validated"}`,
    ...(c.storageClass ? [`storage_class: ${c.storageClass}`] : []),
    ...(c.sse ? [`sse: ${c.sse.type}${c.sse.type === "aws:kms" && c.sse.kmsKeyId ? ` (key ${c.sse.kmsKeyId})` : ""}`] : []),
  ];
}

export const FIELDS: PluginField[] = [
  { name: "bucket", type: "string", title: "Bucket", required: true, help: "Name of the bucket archives are kept in (it must exist).", example: "my-backups" },
  { name: "prefix", type: "string", title: "Prefix", required: false, help: "An optional path inside the bucket under which archives are kept.", example: "shield/prod" },
  { name: "region", type: "string", title: "Region", required: false, default: "us-east-1", help: "The bucket's region. Some S3 work-alikes need it set explicitly." },
  { name: "access_key_id", type: "string", title: "Access Key ID", required: false, help: "Leave empty to use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from Shield's environment, or use_instance_profile." },
  { name: "secret_access_key", type: "password", title: "Secret Access Key", required: false, help: "The secret for access_key_id." },
  { name: "use_instance_profile", type: "bool", title: "Use instance profile", required: false, default: "false", help: "Take credentials from the EC2 instance profile instead of a key and secret." },
  { name: "s3_host", type: "string", title: "S3 host", required: false, default: AWS_HOST, help: "Host (or http(s)://host) of an S3-compatible service: MinIO, Ceph RGW, Garage, R2, B2, Wasabi. Leave empty for AWS.", example: "https://minio.example.com" },
  { name: "s3_port", type: "port", title: "S3 port", required: false, help: "The port of s3_host, when not the scheme's own." },
  { name: "path_style", type: "bool", title: "Path-style addressing", required: false, help: "host/bucket/key instead of bucket.host/key: on by default for any s3_host but AWS." },
  { name: "signature_version", type: "string", title: "Signature version", required: false, default: "4", help: "Only 4 is supported; 2 is refused." },
  { name: "part_size", type: "string", title: "Part size", required: false, default: "8M", help: "Size of the first parts of a multipart upload (at least 5M); parts grow with the stream so that archives up to 5 TiB fit.", example: "64M" },
  { name: "concurrency", type: "string", title: "Parts in flight", required: false, default: String(DEFAULT_CONCURRENCY), help: `How many parts are uploaded at once (1-${MAX_CONCURRENCY}); memory is about (this + 1) × part size.` },
  { name: "request_timeout", type: "string", title: "Request timeout (s)", required: false, default: String(DEFAULT_TIMEOUT_S), help: "A request making no progress for this long (plus a second per MiB it carries) is retried." },
  { name: "storage_class", type: "string", title: "Storage class", required: false, help: "The S3 storage class of new archives (STANDARD, STANDARD_IA, GLACIER_IR, ...).", example: "STANDARD_IA" },
  { name: "sse", type: "string", title: "Server-side encryption", required: false, help: "AES256 or aws:kms." },
  { name: "sse_kms_key_id", type: "string", title: "KMS key ID", required: false, help: "The KMS key for sse aws:kms (the bucket's default key if empty)." },
  { name: "skip_ssl_validation", type: "bool", title: "Skip SSL validation", required: false, default: "false", help: "Do not check the service's certificate (not recommended; prefer ca_cert)." },
  { name: "ca_cert", type: "string", title: "CA certificate", required: false, help: "PEM text, or the absolute path of a PEM file, of the CA that signed the service's certificate." },
  { name: "socks5_proxy", type: "string", title: "SOCKS5 proxy", required: false, help: "Not supported by this store: an endpoint that sets it is refused." },
];
