// A stream of unknown length into one S3 object, with memory bounded whatever
// its size.
//
// Contract:
// - the input is read one part at a time; at most `concurrency` parts are in
//   flight and one is being filled (fewer when parts grow large, see
//   IN_FLIGHT_BYTES), so memory is about (concurrency + 1) × the part size;
// - a stream that ends within the first part is one PutObject (0 B included);
// - the upload is complete only once CompleteMultipartUpload (or PutObject)
//   succeeded AND a HeadObject says the object holds exactly the bytes read:
//   only then does upload() resolve, and only then may the key be printed;
// - any failure, or the action being stopped, aborts the multipart upload
//   (no part is left to be billed) and removes an object of the wrong size;
//   upload() then rejects, and no object is left under the key;
// - the input failing (an error, not an end) is a failure like any other: a
//   guard that never committed the stream errors it (src/pipeline/guard.ts).
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import { read } from "node:fs";
import { PluginError } from "../protocol.ts";
import { crc32Base64, createMultipart, PART_CHECKSUM_ALGORITHM } from "./checksum.ts";
import type { S3Config } from "./config.ts";
import { MAX_OBJECT, MAX_PARTS, MiB, partSize } from "./parts.ts";
import { errorCode } from "./retry.ts";
import type { S3Service } from "./service.ts";

/** Parts in flight may hold this much together before fewer are sent at once (never fewer than one). */
const IN_FLIGHT_BYTES = 256 * MiB;
/** A completion is given a second more per this many bytes of the object (see its call). */
const COMPLETE_BYTES_PER_S = 16 * MiB;
/**
 * A multipart upload left this long belongs to a store that was killed (its guard's
 * SIGKILL). Long, because a live upload of several TiB over a slow link takes days,
 * and another store's sweep must never abort it.
 */
const ORPHAN_UPLOAD_AGE_MS = 7 * 24 * 3600 * 1000;

export interface UploadJob {
  s3: S3Service;
  config: S3Config;
  key: string;
  /** The action being stopped (SIGTERM): abort, then fail. */
  stop: AbortSignal;
  log(line: string): void;
  /** Registers cleanup to finish before the process exits on a signal; returns the unregister. */
  onAbort(fn: () => Promise<void>): () => void;
}

export interface Uploaded { size: number; parts: number }

/** The input, read into buffers the upload owns. */
interface Input {
  /** Fills `buf`; a view of fewer bytes only at the end of the input. */
  fill(buf: Buffer): Promise<Buffer>;
  /** True when no byte is left (may read ahead to know). */
  atEnd(): Promise<boolean>;
  /** Whether reading makes garbage per chunk (a stream's chunks): see the GC in upload(). */
  readonly garbage: boolean;
}

/** Reads a byte stream in pieces of the size asked for. */
class StreamInput implements Input {
  readonly garbage = true;
  private rest?: Uint8Array;
  private ended = false;
  constructor(private readonly reader: { read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }> }) {}

  async fill(buf: Buffer): Promise<Buffer> {
    let n = 0;
    while (n < buf.length) {
      let chunk = this.rest;
      this.rest = undefined;
      if (!chunk) {
        if (this.ended) break;
        const r = await this.reader.read();
        if (r.done) { this.ended = true; break; }
        chunk = r.value;
      }
      const take = Math.min(chunk.byteLength, buf.length - n);
      buf.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), n);
      n += take;
      if (take < chunk.byteLength) this.rest = chunk.subarray(take);
    }
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async atEnd(): Promise<boolean> {
    while (!this.rest?.byteLength && !this.ended) {
      const r = await this.reader.read();
      if (r.done) this.ended = true;
      else this.rest = r.value;
    }
    return !this.rest?.byteLength;
  }
}

/** read(2) on a file descriptor, as a promise; EAGAIN (a non-blocking pipe) waits and reads again. */
function readFd(fd: number, buf: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const attempt = () => read(fd, buf, offset, length, null, (err, n) => {
      if (err?.code === "EAGAIN") setTimeout(attempt, 1);
      else if (err) reject(err);
      else resolve(n);
    });
    attempt();
  });
}

/**
 * Reads a file descriptor (the process's stdin) straight into the part's buffer:
 * no chunk is allocated, so the upload makes no garbage per byte read. To tell
 * the end of the input, atEnd() reads ahead into one small buffer, reused.
 */
class FdInput implements Input {
  readonly garbage = false;
  private readonly ahead = Buffer.allocUnsafeSlow(64 * 1024);
  private aheadAt = 0;
  private aheadEnd = 0;
  private ended = false;
  constructor(private readonly fd: number) {}

  async fill(buf: Buffer): Promise<Buffer> {
    let n = this.ahead.copy(buf, 0, this.aheadAt, this.aheadEnd);
    this.aheadAt += n;
    while (n < buf.length && !this.ended) {
      const got = await readFd(this.fd, buf, n, buf.length - n);
      if (got === 0) this.ended = true;
      n += got;
    }
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async atEnd(): Promise<boolean> {
    if (this.aheadAt < this.aheadEnd) return false;
    if (this.ended) return true;
    this.aheadAt = 0;
    this.aheadEnd = await readFd(this.fd, this.ahead, 0, this.ahead.length);
    if (this.aheadEnd === 0) this.ended = true;
    return this.ended;
  }
}

/** Buffers of one size, reused from part to part so that memory stays flat. */
class BufferPool {
  private free: Buffer[] = [];
  private size = 0;
  take(size: number): Buffer {
    if (size !== this.size) { this.free = []; this.size = size; }
    return this.free.pop() ?? Buffer.allocUnsafeSlow(size);
  }
  give(buf: Buffer): void {
    // A short last part is a view of a full buffer: its bytes are what come back.
    const whole = Buffer.from(buf.buffer, buf.byteOffset, buf.buffer.byteLength - buf.byteOffset);
    if (whole.length === this.size && buf.byteOffset === 0) this.free.push(whole);
  }
}

function objectParams(c: S3Config, key: string) {
  return {
    Bucket: c.bucket,
    Key: key,
    ContentType: "application/octet-stream",
    ...(c.storageClass ? { StorageClass: c.storageClass as never } : {}),
    ...(c.sse ? { ServerSideEncryption: c.sse.type as never } : {}),
    ...(c.sse?.type === "aws:kms" && c.sse.kmsKeyId ? { SSEKMSKeyId: c.sse.kmsKeyId } : {}),
  };
}

/** The size of the object under `key`, or undefined when there is none. */
async function objectSize(job: UploadJob, what: string): Promise<number | undefined> {
  try {
    const h = await job.s3.send(new HeadObjectCommand({ Bucket: job.config.bucket, Key: job.key }), { what });
    return h.ContentLength ?? 0;
  } catch (err) {
    if (["NotFound", "NoSuchKey"].includes(errorCode(err) ?? "")) return undefined;
    throw err;
  }
}

/** Checks what landed; removes it when it is not what was sent. */
async function verify(job: UploadJob, sent: number): Promise<void> {
  let held = await objectSize(job, "HeadObject (checking the stored size)");
  // AWS reads its writes; some older work-alikes show a new object a moment later.
  for (let wait = 500; held === undefined && wait <= 2000; wait *= 2) {
    await Bun.sleep(wait);
    held = await objectSize(job, "HeadObject (checking the stored size)");
  }
  if (held === sent) return;
  if (held !== undefined) await removeObject(job);
  throw new PluginError(`the service holds ${held ?? "no object"}${held === undefined ? "" : " bytes"} under ${job.key} after the upload, not the ${sent} bytes sent: the blob is not kept`);
}

async function removeObject(job: UploadJob): Promise<void> {
  await job.s3.send(new DeleteObjectCommand({ Bucket: job.config.bucket, Key: job.key }), { attempts: 3 });
}

/** Streams `input` into the object `job.key`; see the contract above. */
export async function upload(input: ReadableStream<Uint8Array> | { fd: number }, job: UploadJob): Promise<Uploaded> {
  const { s3, config, key, log } = job;
  const base = config.partSize;
  const parts: Input = "fd" in input ? new FdInput(input.fd)
    : new StreamInput(input.getReader() as ConstructorParameters<typeof StreamInput>[0]);
  const pool = new BufferPool();

  const first = await parts.fill(pool.take(base));
  if (await parts.atEnd()) {
    // One request: a small archive needs no multipart upload (and S3 has no 0-part one).
    // Stopped while the put may have landed: the object must not stay.
    const forget = job.onAbort(() => removeObject(job).catch(() => {}));
    try {
      await s3.send(new PutObjectCommand({ ...objectParams(config, key), Body: first, ContentLength: first.length }), { stop: job.stop });
      try {
        await verify(job, first.length);
      } catch (err) {
        // Failed between the put and the check: the object must not stay either.
        await removeObject(job).catch(() => {});
        throw err;
      }
    } finally {
      forget();
    }
    return { size: first.length, parts: 1 };
  }

  // Created with a checksum algorithm, and every part carrying its CRC32 (checksum.ts says why),
  // unless the service refuses them.
  const { uploadId, checksums } = await createMultipart((withChecksum) => s3.send(
    new CreateMultipartUploadCommand({ ...objectParams(config, key), ChecksumAlgorithm: withChecksum ? PART_CHECKSUM_ALGORITHM : undefined }),
    { stop: job.stop }), log);
  if (!uploadId) throw new PluginError("CreateMultipartUpload returned no UploadId");

  // Parts in flight are stopped at the first failure, or when the action is stopped.
  const halt = new AbortController();
  // A failed part ends the upload at once, even while the input is slow to fill the next one.
  const halted = new Promise<never>((_, reject) => halt.signal.addEventListener("abort", () => reject(halt.signal.reason)));
  halted.catch(() => {});
  const onStop = () => halt.abort(job.stop.reason);
  job.stop.addEventListener("abort", onStop);
  let aborting: Promise<void> | undefined;
  const abort = () => (aborting ??= abortUpload(job, uploadId));
  const forget = job.onAbort(async () => { halt.abort(job.stop.reason); await abort(); });
  // From here on, a failure may come after the object was made: it is removed too.
  let completing = false;
  const inFlight = new Set<Promise<void>>();
  try {
    const done: CompletedPart[] = [];
    let failure: unknown;
    let size = 0;
    let buf = first;
    for (let n = 1; ; n++) {
      if (n > MAX_PARTS) throw new PluginError(`the archive needs more than S3's ${MAX_PARTS} parts`);
      size += buf.length;
      if (size > MAX_OBJECT) throw new PluginError(`the archive is larger than S3's maximum object size (5 TiB)`);
      const body = buf;
      const partNumber = n;
      const crc = checksums ? crc32Base64(body) : undefined;
      const sending: Promise<void> = s3.send(
        new UploadPartCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ChecksumCRC32: crc }),
        { stop: halt.signal },
      ).then(
        (r) => {
          if (!r.ETag) throw new PluginError(`UploadPart ${partNumber} returned no ETag`);
          done.push({ PartNumber: partNumber, ETag: r.ETag, ChecksumCRC32: crc });
          pool.give(body);
        },
      ).catch((err) => {
        failure ??= err;
        halt.abort(err);
      }).finally(() => inFlight.delete(sending));
      inFlight.add(sending);

      if (await Promise.race([parts.atEnd(), halted])) break;
      const next = partSize(n + 1, base);
      const limit = Math.max(1, Math.min(config.concurrency, Math.floor(IN_FLIGHT_BYTES / next)));
      while (inFlight.size >= limit && failure === undefined) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      if (job.stop.aborted) throw job.stop.reason;
      buf = await Promise.race([parts.fill(pool.take(next)), halted]);
      // A stream's chunks are garbage the collector frees lazily: measured, a 1 GiB
      // store peaked at 300 MB without this and stays near 150 MB with it (a full
      // collection of a small heap, once a part). Read from a file descriptor, the
      // input makes none, and this collection was half the store's CPU (bench/S3.md).
      if (parts.garbage) Bun.gc(true);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    if (job.stop.aborted) throw job.stop.reason;

    done.sort((a, b) => a.PartNumber! - b.PartNumber!);
    completing = true;
    try {
      // The service assembles the whole object before it answers: AWS says this may take
      // minutes, and a work-alike may send nothing meanwhile (moto took 33 s for 2 GiB on
      // a quiet machine, over 60 s on a loaded one, and a retry while the first attempt
      // still ran failed with a 500). So the request timeout plus a second per 16 MiB.
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } }),
        { stop: job.stop, extraMs: Math.ceil(size / COMPLETE_BYTES_PER_S) * 1000 });
    } catch (err) {
      // A retry after a lost response finds the upload gone: the first attempt
      // completed it. The key is ours alone, so an object of the right size under it is this upload.
      if (errorCode(err) !== "NoSuchUpload" || (await objectSize(job, "HeadObject (after a retried completion)")) !== size) throw err;
    }
    forget();
    await verify(job, size);
    return { size, parts: done.length };
  } catch (err) {
    halt.abort(err);
    // Parts still in flight are stopped first, so that none lands after the abort.
    await Promise.allSettled(inFlight);
    await abort().catch((e) => log(`s3: ${(e as Error).message}`));
    // Completed, then stopped before the check: nothing may stay under the key.
    if (completing) await removeObject(job).catch(() => {});
    throw err;
  } finally {
    forget();
    job.stop.removeEventListener("abort", onStop);
  }
}

/**
 * Aborts a multipart upload so that no part stays billed. A part still in
 * flight may land after an abort (S3's documentation says so): the parts left
 * are listed, and the abort repeated while any remain.
 */
async function abortUpload(job: Pick<UploadJob, "s3" | "config" | "key" | "log">, uploadId: string): Promise<void> {
  const { s3, config, key, log } = job;
  const ids = { Bucket: config.bucket, Key: key, UploadId: uploadId };
  for (let round = 1; round <= 3; round++) {
    try {
      await s3.send(new AbortMultipartUploadCommand(ids), { attempts: 4 });
    } catch (err) {
      if (errorCode(err) !== "NoSuchUpload") throw err;
    }
    try {
      const left = await s3.send(new ListPartsCommand(ids), { attempts: 4 });
      if (!left.Parts?.length) return;
    } catch (err) {
      if (errorCode(err) === "NoSuchUpload") return;
      throw err;
    }
  }
  log(`s3: parts of the aborted upload ${uploadId} of ${key} are still listed; a lifecycle rule (AbortIncompleteMultipartUpload) will remove them`);
}

/**
 * Aborts multipart uploads under the endpoint's prefix started over a week ago:
 * the leftovers of stores killed outright (SIGKILL gives no chance to abort).
 * Best effort, one page per store; the fs store sweeps its .incoming the same way.
 */
export async function sweepOrphanUploads(job: Pick<UploadJob, "s3" | "config" | "stop" | "log">): Promise<void> {
  const { s3, config, log } = job;
  const prefix = config.prefix ? `${config.prefix}/` : undefined;
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, Prefix: prefix }), { attempts: 2, stop: job.stop });
  const cutoff = Date.now() - ORPHAN_UPLOAD_AGE_MS;
  for (const u of listed.Uploads ?? []) {
    if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated.getTime() > cutoff) continue;
    await abortUpload({ ...job, key: u.Key }, u.UploadId).catch(() => {});
    log(`s3: aborted the multipart upload of ${u.Key} left since ${u.Initiated.toISOString()}`);
  }
}
