// The azure store: archives as block blobs in an Azure Storage container (or
// anything speaking its blob API: Azurite, Azure Stack, sovereign clouds).
//
// Contract kept here (the one every store keeps, plugins/protocol.ts):
// - a key is made by us: PREFIX/YYYY/MM/DD/<uuid>, the blob's full name in the
//   container, as the original Shield's keys were (so its archives retrieve);
// - a key is printed only once the block list is committed and the service
//   reports the blob's size as the bytes sent (upload.ts); a store that fails,
//   is canceled or whose input never ends commits nothing: no blob;
// - transient failures are retried per request, with backoff (retry.ts);
//   permanent ones fail at once with the service's words;
// - retrieve resumes a broken download from the byte it stopped at (download.ts);
//   a key with no blob is exit 4;
// - purge of a key with no blob succeeds (the daemon retries purges);
// - the container must exist: a typo in its name fails, it does not make a new one.
import { randomUUID } from "node:crypto";
import { EXIT, PluginError, type ActionContext, type Plugin, type StoreResult } from "../protocol.ts";
import { VERSION } from "../../src/version.ts";
import { FIELDS, config, containerClient, describe, type Config } from "./config.ts";
import { downloadStream } from "./download.ts";
import { retrying } from "./retry.ts";
import { attemptTimeout, uploadStream } from "./upload.ts";

function newKey(c: Config, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${c.prefix}${now.getUTCFullYear()}/${p(now.getUTCMonth() + 1)}/${p(now.getUTCDate())}/${randomUUID()}`;
}

/** A key given to retrieve or purge: a blob name, never one that a path could misread. Exit 13 otherwise. */
function checkKey(key: string): string {
  const bad = key.length > 1024 || key.startsWith("/") || /[\x00-\x1f\x7f\\]/.test(key)
    || key.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new PluginError(`"${key}" is not a key of the azure store (a blob name such as PREFIX/YYYY/MM/DD/uuid)`, EXIT.ENDPOINT_BAD_VALUE);
  return key;
}

const where = (c: Config) => `container ${c.container} at ${c.url}`;

async function store(ctx: ActionContext): Promise<StoreResult> {
  const c = config(ctx.endpoint);
  const key = newKey(c);
  const blob = (await containerClient(c)).getBlockBlobClient(key);
  try {
    const size = await uploadStream(blob, ctx.stdin, { first: c.blockSize, concurrency: c.concurrency, signal: ctx.signal, log: ctx.log });
    return { key, size };
  } catch (err) {
    throw new PluginError(`storing into ${where(c)} failed, nothing committed: ${(err as Error)?.message ?? err}`);
  }
}

async function retrieve(ctx: ActionContext): Promise<void> {
  const c = config(ctx.endpoint);
  const key = checkKey(ctx.key);
  const blob = (await containerClient(c)).getBlockBlobClient(key);
  await downloadStream(blob, ctx.stdout, {
    signal: ctx.signal, log: ctx.log,
    missing: () => new PluginError(`no blob under key ${key} in ${where(c)}`),
  });
}

async function purge(ctx: ActionContext): Promise<void> {
  const c = config(ctx.endpoint);
  const key = checkKey(ctx.key);
  const blob = (await containerClient(c)).getBlockBlobClient(key);
  // deleteIfExists: BlobNotFound is success. ContainerNotFound is not: the endpoint is wrong,
  // and saying "purged" would leave the real blob behind unnoticed.
  const r = await retrying((sig) => blob.deleteIfExists({ deleteSnapshots: "include", abortSignal: sig }), {
    what: `removing ${key} from ${where(c)}`, signal: ctx.signal, timeoutMs: attemptTimeout(0), log: ctx.log,
  });
  if (!r.succeeded) ctx.log(`azure: no blob under key ${key}: nothing to purge`);
}

async function test(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx.endpoint);
  const container = await containerClient(c);
  const probe = container.getBlockBlobClient(`${c.prefix}.shield-probe-${randomUUID()}`);
  const data = new TextEncoder().encode(`shield probe ${new Date().toISOString()}\n`);
  const opts = { signal: ctx.signal, log: ctx.log };
  try {
    // The same path as a store: a staged block, committed.
    await uploadStream(probe, new Response(data).body!, { ...opts, first: c.blockSize, concurrency: 1 });
    const back = await retrying((sig) => probe.downloadToBuffer(0, undefined, { abortSignal: sig }), { ...opts, what: "reading the probe back", timeoutMs: attemptTimeout(0) });
    if (!Buffer.from(data).equals(back)) throw new PluginError("the probe blob read back differs from what was written");
  } catch (err) {
    throw new PluginError(`cannot write in ${where(c)}: ${(err as Error)?.message ?? err}`);
  } finally {
    await retrying((sig) => probe.deleteIfExists({ abortSignal: sig }), { ...opts, what: "removing the probe", timeoutMs: attemptTimeout(0) })
      .catch((err) => ctx.log(`azure: could not remove the probe blob ${probe.name}: ${(err as Error).message}`));
  }
  return [`ok: connected to ${c.url}, wrote, read back and removed a probe blob in container ${c.container}`];
}

export const azure: Plugin = {
  info: {
    name: "azure",
    author: "Shield",
    version: VERSION,
    features: { target: "no", store: "yes" },
    endpoint_from: "env",
    fields: FIELDS,
  },
  validate(ctx) {
    return describe(config(ctx.endpoint), ctx.endpoint);
  },
  store,
  retrieve,
  purge,
  test,
};
