// The YAML file gpbackup passes as every command's first argument:
//
//   executablepath: /usr/local/bin/gpbackup_shield_plugin
//   options: { ... }
//
// Two modes, told apart by their options: `shield_core` present → Shield mode
// (objects go through a Shield store and are catalogued), otherwise S3 mode (the
// options of gpbackup_s3_plugin, exactly, so its config files work unchanged).
// Unknown keys are refused by name, as gpbackup_s3_plugin's strict YAML decoding
// refuses them: a misspelt option must never silently fall back to a default.
import { readFileSync } from "node:fs";

export class ConfigError extends Error {}

/** Options gpbackup itself adds to the file it copies to the segment hosts, in either mode. */
const GPBACKUP_OPTIONS = ["pgport", "backup_plugin_version", "restore_subset"] as const;

const S3_OPTIONS = [
  "region", "endpoint", "aws_access_key_id", "aws_secret_access_key", "bucket", "folder", "encryption", "http_proxy",
  "backup_max_concurrent_requests", "backup_multipart_chunksize", "restore_max_concurrent_requests",
  "restore_multipart_chunksize", "max_request_retries",
] as const;

const SHIELD_OPTIONS = [
  "shield_core", "shield_token", "shield_token_file", "store", "retention", "target_name",
  "shield_encryption", "shield_compression", "backup_max_concurrent_requests", "backup_multipart_chunksize",
] as const;

const MiB = 1024 * 1024;
/** gpbackup_s3_plugin's defaults: a drop-in replacement behaves the same with the same file. */
export const DEFAULT_CONCURRENCY = 6;
export const DEFAULT_CHUNK = 500 * MiB;
export const DEFAULT_RETRIES = 10;
/** S3's own floor for every multipart part but the last. */
export const MIN_PART = 5 * MiB;

export interface Transfer {
  /** Bytes per part; at most concurrency parts are in memory at once (plus the one being read). */
  chunkSize: number;
  concurrency: number;
}

export interface S3Config {
  mode: "s3";
  region: string;
  /** A URL with its scheme (http:// when `encryption: off` and none was given). */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  bucket: string;
  folder: string;
  tls: boolean;
  httpProxy?: string;
  backup: Transfer;
  restore: Transfer;
  maxRetries: number;
}

export interface ShieldConfig {
  mode: "shield";
  core: string;
  token: string;
  store: string;
  retention: string;
  targetName: string;
  /** Shield's archive encryption of every object, on the Greenplum host (`shield_encryption`, default on). */
  encryption: boolean;
  /** Shield's compression of every object (`shield_compression`, default none: gpbackup compresses its data itself). */
  compression: "none" | "zstd";
  backup: Transfer;
}

export type PluginConfig = S3Config | ShieldConfig;

/** Reads and validates the config file; every problem is named in one message. */
export function readConfig(path: string): PluginConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the plugin config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path = "the plugin config"): PluginConfig {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (!isMap(doc)) throw new ConfigError(`${path} must be a YAML mapping with executablepath and options`);
  for (const k of Object.keys(doc)) {
    if (k !== "executablepath" && k !== "options") throw new ConfigError(`${path}: unknown key "${k}" (expected executablepath and options)`);
  }
  const problems: string[] = [];
  if (!scalar(doc.executablepath)) problems.push("executablepath must exist and cannot be empty");
  const raw = doc.options ?? {};
  if (!isMap(raw)) throw new ConfigError(`${path}: options must be a mapping`);
  const opts: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue; // `key:` with no value reads as unset, as in the Go plugin
    if (typeof v === "object") throw new ConfigError(`${path}: option "${k}" must be a single value`);
    opts[k] = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
  }
  const shield = "shield_core" in opts;
  const known = new Set<string>([...(shield ? SHIELD_OPTIONS : S3_OPTIONS), ...GPBACKUP_OPTIONS]);
  const unknown = Object.keys(opts).filter((k) => !known.has(k));
  if (unknown.length) {
    const which = shield ? "Shield mode (shield_core is set)" : "S3 mode";
    throw new ConfigError(`${path}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")} in ${which}`);
  }
  const backup = transfer(opts, "backup", problems);
  const config = shield ? shieldConfig(opts, backup, problems) : s3Config(opts, backup, problems);
  if (problems.length) throw new ConfigError(`${path}: ${problems.join("; ")}`);
  return config;
}

function s3Config(o: Record<string, string>, backup: Transfer, problems: string[]): S3Config {
  for (const k of ["bucket", "folder"]) if (!o[k]) problems.push(`${k} must exist and cannot be empty`);
  if (o.aws_access_key_id && !o.aws_secret_access_key) problems.push("aws_secret_access_key must exist if aws_access_key_id does");
  if (!o.aws_access_key_id && o.aws_secret_access_key) problems.push("aws_access_key_id must exist if aws_secret_access_key does");
  if (!o.region && !o.endpoint) problems.push("region or endpoint must exist");
  const encryption = o.encryption ?? "on";
  if (encryption !== "on" && encryption !== "off") problems.push(`encryption must be on or off, not "${encryption}"`);
  const tls = encryption.toLowerCase() !== "off";
  let endpoint = o.endpoint;
  if (endpoint && !/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) endpoint = `${tls ? "https" : "http"}://${endpoint}`;
  if (o.http_proxy) {
    try { new URL(o.http_proxy); } catch { problems.push(`http_proxy "${o.http_proxy}" is not a URL`); }
  }
  return {
    mode: "s3",
    // The Go plugin's placeholder when only an endpoint is given; the SDK needs some region to sign with.
    region: o.region || "us-east-1",
    endpoint,
    accessKeyId: o.aws_access_key_id || undefined,
    secretAccessKey: o.aws_secret_access_key || undefined,
    bucket: o.bucket ?? "",
    folder: o.folder ?? "",
    tls,
    httpProxy: o.http_proxy || undefined,
    backup,
    restore: transfer(o, "restore", problems),
    maxRetries: o.max_request_retries ? int(o, "max_request_retries", problems, 0) : DEFAULT_RETRIES,
  };
}

function shieldConfig(o: Record<string, string>, backup: Transfer, problems: string[]): ShieldConfig {
  for (const k of ["shield_core", "store", "retention"]) if (!o[k]) problems.push(`${k} must exist and cannot be empty`);
  if (o.shield_core) {
    try {
      const u = new URL(o.shield_core);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    } catch { problems.push(`shield_core "${o.shield_core}" is not an http(s) URL`); }
  }
  let token = o.shield_token ?? "";
  if (o.shield_token && o.shield_token_file) problems.push("give shield_token or shield_token_file, not both");
  else if (o.shield_token_file) {
    try {
      token = readFileSync(o.shield_token_file, "utf8").trim();
      if (!token) problems.push(`shield_token_file ${o.shield_token_file} is empty`);
    } catch (err) {
      problems.push(`cannot read shield_token_file ${o.shield_token_file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (!token) problems.push("shield_token (or shield_token_file) must exist and cannot be empty");
  const encryption = (o.shield_encryption ?? "on").toLowerCase();
  if (encryption !== "on" && encryption !== "off") problems.push(`shield_encryption must be on or off, not "${o.shield_encryption}"`);
  const compression = (o.shield_compression ?? "none").toLowerCase();
  if (compression !== "none" && compression !== "zstd") problems.push(`shield_compression must be none or zstd, not "${o.shield_compression}"`);
  return {
    mode: "shield",
    core: (o.shield_core ?? "").replace(/\/+$/, ""),
    token,
    store: o.store ?? "",
    retention: o.retention ?? "",
    targetName: o.target_name || "greenplum",
    encryption: encryption !== "off",
    compression: compression === "zstd" ? "zstd" : "none",
    backup,
  };
}

function transfer(o: Record<string, string>, side: "backup" | "restore", problems: string[]): Transfer {
  const sizeKey = `${side}_multipart_chunksize`;
  const concKey = `${side}_max_concurrent_requests`;
  let chunkSize = DEFAULT_CHUNK;
  if (o[sizeKey]) {
    const n = parseByteSize(o[sizeKey]!);
    if (n === undefined) problems.push(`${sizeKey} "${o[sizeKey]}" is not a size (e.g. 100MB)`);
    else if (side === "backup" && n < MIN_PART) problems.push(`${sizeKey} must be at least 5MB (S3's smallest multipart part)`);
    else if (n < 1) problems.push(`${sizeKey} must be more than 0`);
    else chunkSize = n;
  }
  const concurrency = o[concKey] ? int(o, concKey, problems, 1) : DEFAULT_CONCURRENCY;
  return { chunkSize, concurrency };
}

function int(o: Record<string, string>, key: string, problems: string[], min: number): number {
  const v = o[key]!;
  if (!/^[0-9]+$/.test(v) || Number(v) < min) {
    problems.push(`${key} "${v}" must be a whole number of at least ${min}`);
    return min;
  }
  return Number(v);
}

const UNITS: Record<string, number> = { "": 1, B: 1, K: 1024, KB: 1024, M: MiB, MB: MiB, G: 1024 * MiB, GB: 1024 * MiB, T: 1024 ** 4, TB: 1024 ** 4 };

/** A size as gpbackup_s3_plugin reads it (go-bytesize: binary multiples, "500MB" = 500 MiB). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?B?)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toUpperCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function scalar(v: unknown): boolean {
  return (typeof v === "string" && v !== "") || typeof v === "number";
}
