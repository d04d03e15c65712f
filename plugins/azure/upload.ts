// A stream into one block blob: cut into blocks (schedule.ts), each staged
// (Put Block) as soon as it is full with a few in flight, and the block list
// committed (Put Block List) only after the input's last byte.
//
// What a failure leaves behind: until the commit, the blob does not exist. The
// staged blocks are uncommitted: invisible to readers and listings, and
// garbage-collected by Azure after 7 days (no API deletes them sooner). So a
// store that fails, is canceled, or whose input errors (the guard never ended
// it: src/pipeline/guard.ts) commits nothing and leaves no blob. The one window
// is a cancel that lands while the commit request itself is in flight.
import type { BlockBlobClient } from "@azure/storage-blob";
import { PluginError } from "../protocol.ts";
import { errorCode, linked, retrying, type RetryPolicy } from "./retry.ts";
import { MAX_BLOCKS, blockSize, capacity, inFlight } from "./schedule.ts";

export interface UploadOptions {
  /** The first block's size (bytes). */
  first: number;
  concurrency: number;
  signal: AbortSignal;
  log(line: string): void;
  policy?: RetryPolicy;
}

const COLLECT_EVERY = 32 * 1024 * 1024;

/** Block ids must all have the same length within a blob. */
export function blockId(index: number): string {
  return Buffer.from(`shield-block-${String(index).padStart(6, "0")}`).toString("base64");
}

/** Time allowed for one attempt at moving `bytes`: a floor, plus 256 KiB/s. */
export function attemptTimeout(bytes: number): number {
  return 30_000 + Math.ceil(bytes / (256 * 1024)) * 1000;
}

/**
 * Uploads `input` as the blocks of `blob` and commits them; resolves with the
 * size once the commit succeeded and the service reports that very size. Never
 * overwrites: the commit fails if a blob already has this name.
 */
export async function uploadStream(blob: BlockBlobClient, input: ReadableStream<Uint8Array>, opts: UploadOptions): Promise<number> {
  // Ends the staging in flight as soon as anything fails: the guard's process may outlive this action.
  const { controller: stop, dispose } = linked(opts.signal);
  const signal = stop.signal;
  const ids: string[] = [];
  const pending = new Set<Promise<void>>();
  // Full block buffers come back here once staged: memory is reused, not regrown.
  const spare = new Map<number, Buffer[]>();
  let failure: unknown;
  let size = 0;
  let collected = 0;

  const stage = async (index: number, data: Buffer, whole: Buffer) => {
    const md5 = new Bun.CryptoHasher("md5").update(data).digest();
    await retrying((sig) => blob.stageBlock(ids[index]!, data, data.byteLength, { transactionalContentMD5: md5, abortSignal: sig }), {
      what: `staging block ${index} (${data.byteLength} bytes)`, signal, timeoutMs: attemptTimeout(data.byteLength), log: opts.log, policy: opts.policy,
    });
    (spare.get(whole.byteLength) ?? spare.set(whole.byteLength, []).get(whole.byteLength)!).push(whole);
  };
  const dispatch = async (data: Buffer, whole: Buffer) => {
    const index = ids.length;
    ids.push(blockId(index));
    const limit = inFlight(whole.byteLength, opts.concurrency, opts.first);
    while (pending.size >= limit && !failure) await Promise.race(pending);
    if (failure) throw failure;
    const p: Promise<void> = stage(index, data, whole)
      .catch((err) => { failure ??= err; stop.abort(err); })
      .finally(() => pending.delete(p));
    pending.add(p);
    size += data.byteLength;
  };
  const take = (bytes: number): Buffer => {
    // Blocks only grow: buffers of an outgrown size are never taken again.
    for (const size of spare.keys()) if (size !== bytes) spare.delete(size);
    return spare.get(bytes)?.pop() ?? Buffer.allocUnsafe(bytes);
  };

  try {
    let buf: Buffer | undefined;
    let fill = 0;
    for await (const chunk of input) {
      if (failure) throw failure;
      for (let off = 0; off < chunk.byteLength;) {
        if (!buf) {
          if (ids.length >= MAX_BLOCKS) {
            throw new PluginError(`the archive is larger than the ${capacity(opts.first)} bytes Azure's ${MAX_BLOCKS} blocks hold from this block_size: raise block_size`);
          }
          buf = take(blockSize(ids.length, opts.first));
          fill = 0;
        }
        const n = Math.min(buf.byteLength - fill, chunk.byteLength - off);
        buf.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === buf.byteLength) {
          await dispatch(buf, buf);
          buf = undefined;
          // The input's chunks are garbage as soon as they are copied, and the runtime lets
          // them pile up: peak RSS ~200 MiB in a sawtooth, whatever the archive's size. A
          // collection every COLLECT_EVERY bytes keeps it near 140 MiB, at no measured cost.
          if (size - collected >= COLLECT_EVERY) {
            collected = size;
            Bun.gc(false);
          }
        }
      }
    }
    if (buf && fill > 0) await dispatch(buf.subarray(0, fill), buf);
    await Promise.all(pending);
    if (failure) throw failure;
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(pending);
    throw failure ?? err;
  } finally {
    dispose();
  }

  // Every byte is staged: only now does the blob come to exist.
  let committedBefore = false;
  await retrying(async (sig) => {
    try {
      await blob.commitBlockList(ids, {
        conditions: { ifNoneMatch: "*" }, blobHTTPHeaders: { blobContentType: "application/octet-stream" }, abortSignal: sig,
      });
    } catch (err) {
      // A commit that reached the service but whose answer was lost, then sent again (by
      // us, or by the HTTP client on a kept-alive connection): checked below to be ours.
      if (errorCode(err) !== "BlobAlreadyExists") throw err;
      committedBefore = true;
    }
  }, { what: `committing ${ids.length} blocks`, signal: opts.signal, timeoutMs: attemptTimeout(0), log: opts.log, policy: opts.policy });
  if (committedBefore) {
    // Our uuid is in the name, so no one else writes here; still, "ours" means exactly our block list.
    const list = await retrying((sig) => blob.getBlockList("committed", { abortSignal: sig }), {
      what: "reading the committed block list", signal: opts.signal, timeoutMs: attemptTimeout(0), log: opts.log, policy: opts.policy,
    });
    const names = (list.committedBlocks ?? []).map((b) => b.name);
    if (names.length !== ids.length || names.some((n, i) => n !== ids[i])) {
      throw new PluginError(`a different blob already exists under ${blob.name}: not overwritten`);
    }
  }

  const props = await retrying((sig) => blob.getProperties({ abortSignal: sig }), {
    what: "reading the committed blob's size", signal: opts.signal, timeoutMs: attemptTimeout(0), log: opts.log, policy: opts.policy,
  });
  if (props.contentLength !== size) {
    await blob.deleteIfExists({ deleteSnapshots: "include" }).catch(() => {});
    throw new PluginError(`the committed blob holds ${props.contentLength} bytes, but ${size} were sent: removed it`);
  }
  return size;
}
