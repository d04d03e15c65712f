// The s3 store's actions that talk to the service (see index.ts for the contract).
// Loaded only when one runs: the AWS SDK stays out of every other plugin's process.
import { randomUUID } from "node:crypto";
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand,
} from "@aws-sdk/client-s3";
import { EXIT, PluginError, type ActionContext, type StoreResult } from "../protocol.ts";
import { makeClient } from "./client.ts";
import { readConfig, type S3Config } from "./config.ts";
import { download } from "./download.ts";
import { DEFAULT_POLICY, errorCode } from "./retry.ts";
import { S3Service } from "./service.ts";
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

interface Session { config: S3Config; s3: S3Service }

function session(ctx: ActionContext, attempts = DEFAULT_POLICY.attempts): Session {
  const config = readConfig(ctx.endpoint);
  return { config, s3: new S3Service(makeClient(config), { ...DEFAULT_POLICY, attempts, timeoutMs: config.timeoutMs }, ctx.log) };
}

export async function store(ctx: ActionContext): Promise<StoreResult> {
  const { config, s3 } = session(ctx);
  const key = newKey(config.prefix);
  const job = { s3, config, key, stop: ctx.signal, log: ctx.log, onAbort: ctx.onAbort };
  // Left by stores killed outright; a failure here must not fail this store.
  await sweepOrphanUploads(job).catch(() => {});
  try {
    const { size, parts } = await upload(ctx.stdinFd === undefined ? ctx.stdin : { fd: ctx.stdinFd }, job);
    ctx.log(`s3: stored ${size} bytes in ${parts} part(s) as ${key} in bucket ${config.bucket}`);
    return { key, size };
  } catch (err) {
    if (err instanceof PluginError) throw new PluginError(`storing into bucket ${config.bucket} failed: ${err.message}`, err.code);
    throw err;
  } finally {
    s3.destroy();
  }
}

export async function retrieve(ctx: ActionContext): Promise<void> {
  const key = checkKey(ctx.key);
  const { config, s3 } = session(ctx);
  try {
    await download(ctx.stdout, { s3, bucket: config.bucket, key, stop: ctx.signal, log: ctx.log });
  } finally {
    s3.destroy();
  }
}

export async function purge(ctx: ActionContext): Promise<void> {
  const key = checkKey(ctx.key);
  const { config, s3 } = session(ctx);
  try {
    // S3 says 204 for a key with no object; some work-alikes say NoSuchKey: both are done.
    await s3.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }), { stop: ctx.signal, what: `DeleteObject ${key}` });
  } catch (err) {
    if (errorCode(err) !== "NoSuchKey") throw err;
    ctx.log(`s3: no object under key ${key}: nothing to purge`);
  } finally {
    s3.destroy();
  }
}

/** Can connect, can write, can read back, can delete: each step said, the first failure in the service's words. */
export async function test(ctx: ActionContext): Promise<string[]> {
  // A live check answers quickly: two attempts, not the store's patience.
  const { config, s3 } = session(ctx, 2);
  const stop = ctx.signal;
  const { bucket } = config;
  const probe = `${config.prefix ? `${config.prefix}/` : ""}.shield-probe-${randomUUID()}`;
  const data = `shield probe ${new Date().toISOString()}\n`;
  const lines: string[] = [];
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }), { stop, what: `HeadBucket ${bucket}` });
    lines.push(`ok: can connect: bucket ${bucket} is reachable at ${config.endpointUrl ?? `AWS S3 (${config.region})`}`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: data }), { stop, what: "PutObject (probe)" });
    let written = true;
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: probe }), { stop, what: "GetObject (probe)" });
      const text = got.Body ? await got.Body.transformToString() : "";
      if (text !== data) throw new PluginError(`the probe ${probe} read back differs from what was written`);
      lines.push(`ok: can write: wrote and read back ${probe}`);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), { stop, what: "DeleteObject (probe)" });
      written = false;
      lines.push(`ok: can delete: removed ${probe}`);
    } finally {
      if (written) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), { attempts: 1 }).catch(() => {});
    }
    return lines;
  } catch (err) {
    for (const line of lines) ctx.log(line);
    throw err;
  } finally {
    s3.destroy();
  }
}
