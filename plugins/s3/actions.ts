// The s3 store's actions that talk to the service (see index.ts for the contract).
// Loaded only when one runs: the AWS SDK stays out of every other plugin's process.
import { randomUUID } from "node:crypto";
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client,
} from "@aws-sdk/client-s3";
import { EXIT, PluginError, type ActionContext, type StoreResult } from "../protocol.ts";
import { makeClient } from "./client.ts";
import { readConfig, type S3Config } from "./config.ts";
import { download } from "./download.ts";
import { DEFAULT_POLICY, errorCode, withRetry, type RetryPolicy } from "./retry.ts";
import { sweepOrphanUploads, upload } from "./upload.ts";

function newKey(prefix: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const y = now.getUTCFullYear(), m = p(now.getUTCMonth() + 1), d = p(now.getUTCDate());
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${prefix ? `${prefix}/` : ""}${y}/${m}/${d}/${y}-${m}-${d}-${time}-${randomUUID()}`;
}

/** A key retrieve or purge may use; anything else is refused (13) before a request is made. */
export function checkKey(key: string): string {
  const parts = key.replace(/^\//, "").split("/");
  if (key.length > 1024 || /[\x00-\x1f\x7f\\]/.test(key) || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new PluginError(`"${key}" is not a key of the s3 store`, EXIT.ENDPOINT_BAD_VALUE);
  }
  return key;
}

interface Session { config: S3Config; client: S3Client; policy: RetryPolicy }

function session(ctx: ActionContext, attempts = DEFAULT_POLICY.attempts): Session {
  const config = readConfig(ctx.endpoint);
  return { config, client: makeClient(config), policy: { ...DEFAULT_POLICY, attempts, timeoutMs: config.timeoutMs } };
}

export async function store(ctx: ActionContext): Promise<StoreResult> {
  const { config, client, policy } = session(ctx);
  const key = newKey(config.prefix);
  const job = { client, config, key, policy, stop: ctx.signal, log: ctx.log, onAbort: ctx.onAbort };
  // Left by stores killed outright; a failure here must not fail this store.
  await sweepOrphanUploads(job).catch(() => {});
  try {
    const { size, parts } = await upload(ctx.stdin, job);
    ctx.log(`s3: stored ${size} bytes in ${parts} part(s) as ${key} in bucket ${config.bucket}`);
    return { key, size };
  } catch (err) {
    if (err instanceof PluginError) throw new PluginError(`storing into bucket ${config.bucket} failed: ${err.message}`, err.code);
    throw err;
  } finally {
    client.destroy();
  }
}

export async function retrieve(ctx: ActionContext): Promise<void> {
  const key = checkKey(ctx.key);
  const { config, client, policy } = session(ctx);
  try {
    await download(ctx.stdout, { client, bucket: config.bucket, key, policy, stop: ctx.signal, log: ctx.log });
  } finally {
    client.destroy();
  }
}

export async function purge(ctx: ActionContext): Promise<void> {
  const key = checkKey(ctx.key);
  const { config, client, policy } = session(ctx);
  try {
    // S3 says 204 for a key with no object; some work-alikes say NoSuchKey: both are done.
    await withRetry(`DeleteObject ${key}`, policy, ({ signal }) =>
      client.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }), { abortSignal: signal }), { stop: ctx.signal, log: ctx.log });
  } catch (err) {
    if (errorCode(err) !== "NoSuchKey") throw err;
    ctx.log(`s3: no object under key ${key}: nothing to purge`);
  } finally {
    client.destroy();
  }
}

/** Can connect, can write, can read back, can delete: each step said, the first failure in the service's words. */
export async function test(ctx: ActionContext): Promise<string[]> {
  // A live check answers quickly: two attempts, not the store's patience.
  const { config, client, policy } = session(ctx, 2);
  const opts = { stop: ctx.signal, log: ctx.log };
  const { bucket } = config;
  const probe = `${config.prefix ? `${config.prefix}/` : ""}.shield-probe-${randomUUID()}`;
  const data = `shield probe ${new Date().toISOString()}\n`;
  const lines: string[] = [];
  try {
    await withRetry(`HeadBucket ${bucket}`, policy, ({ signal }) => client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal }), opts);
    lines.push(`ok: can connect: bucket ${bucket} is reachable at ${config.endpointUrl ?? `AWS S3 (${config.region})`}`);
    await withRetry("PutObject (probe)", policy, ({ signal }) => client.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: data }), { abortSignal: signal }), opts);
    let written = true;
    try {
      const got = await withRetry("GetObject (probe)", policy, async ({ signal }) => {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: probe }), { abortSignal: signal });
        return r.Body ? await r.Body.transformToString() : "";
      }, opts);
      if (got !== data) throw new PluginError(`the probe ${probe} read back differs from what was written`);
      lines.push(`ok: can write: wrote and read back ${probe}`);
      await withRetry("DeleteObject (probe)", policy, ({ signal }) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), { abortSignal: signal }), opts);
      written = false;
      lines.push(`ok: can delete: removed ${probe}`);
    } finally {
      if (written) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe })).catch(() => {});
    }
    return lines;
  } catch (err) {
    for (const line of lines) ctx.log(line);
    throw err;
  } finally {
    client.destroy();
  }
}

