// An S3 object to a stream, resuming where a connection broke.
//
// Contract: every byte of the object is written once, in order, or download()
// rejects. When the body breaks off (a reset, a stall longer than the request
// timeout, an early end), the rest is asked for with a Range request from the
// first byte not yet written, pinned to the object's ETag (If-Match), so that
// bytes of two different objects are never spliced together. The number of
// resumes is bounded by the retry policy's attempts, counted since the last byte
// that arrived: a slow but moving download is never given up on.
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { PluginError } from "../protocol.ts";
import { AttemptTimeout, backoff, describe, errorCode, isTransient } from "./retry.ts";
import type { S3Service } from "./service.ts";

export interface DownloadJob {
  s3: S3Service;
  bucket: string;
  key: string;
  stop: AbortSignal;
  log(line: string): void;
}

type Body = AsyncIterable<Uint8Array> & { destroy?(err?: Error): void };

/** Waits for the next chunk, at most `ms`: a stalled connection is then dropped. */
async function nextWithin(it: AsyncIterator<Uint8Array>, body: Body, ms: number, stop: AbortSignal): Promise<IteratorResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onStop: (() => void) | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`no byte arrived for ${Math.round(ms / 1000)} s`)), ms);
    onStop = () => reject(stop.reason);
    stop.addEventListener("abort", onStop);
  });
  try {
    return await Promise.race([it.next(), stalled]);
  } catch (err) {
    body.destroy?.();
    throw err;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop!);
  }
}

export async function download(out: WritableStream<Uint8Array>, job: DownloadJob): Promise<number> {
  const { s3, bucket, key, stop, log } = job;
  const { policy } = s3;
  const writer = out.getWriter();
  let written = 0;
  let total: number | undefined;
  let etag: string | undefined;
  let failures = 0;
  try {
    for (;;) {
      const from = written;
      let res;
      try {
        res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(from ? { Range: `bytes=${from}-`, IfMatch: etag } : {}) }),
          { stop, what: from ? `GetObject ${key} from byte ${from}` : `GetObject ${key}` });
      } catch (err) {
        const code = errorCode(err);
        if (code === "NoSuchKey" || code === "NotFound") throw new PluginError(`no blob under key ${key} in bucket ${bucket}`);
        if (code === "PreconditionFailed") throw new PluginError(`the object under ${key} changed while it was being read (its ETag differs): not resuming`);
        throw err;
      }
      etag ??= res.ETag;
      total ??= res.ContentLength ?? 0;
      // A service that ignores the range sends the object from its first byte again: never splice that on.
      if (from && !res.ContentRange?.startsWith(`bytes ${from}-`)) {
        throw new PluginError(`the service answered the range request for ${key} from byte ${from} with ${res.ContentRange ? `"${res.ContentRange}"` : "the whole object"}: not resuming`);
      }
      const body = res.Body as Body | undefined;
      try {
        if (body) {
          const it = body[Symbol.asyncIterator]();
          for (;;) {
            const next = await nextWithin(it, body, policy.timeoutMs, stop);
            if (next.done) break;
            const chunk = next.value;
            // Past the end would mean a response not for the range asked: refuse it.
            if (written + chunk.byteLength > total) throw new PluginError(`the service sent more than the ${total} bytes of ${key}`);
            try {
              await writer.write(chunk);
            } catch (err) {
              // Our reader's failure, not the service's: nothing to retry.
              throw new PluginError(`writing ${key} out failed at byte ${written}: ${(err as Error)?.message ?? err}`);
            }
            written += chunk.byteLength;
            failures = 0;
          }
        }
        if (written === total) break;
        // An early clean end: the connection was closed in the middle of the body.
        throw Object.assign(new Error(`the body ended at byte ${written} of ${total}`), { code: "ERR_STREAM_PREMATURE_CLOSE" });
      } catch (err) {
        if (stop.aborted) throw stop.reason ?? err;
        if (err instanceof PluginError || !isTransient(err)) throw err instanceof PluginError ? err : new PluginError(`reading ${key} failed at byte ${written}: ${describe(err)}`);
        if (++failures >= policy.attempts) throw new PluginError(`reading ${key} failed at byte ${written} after ${failures} attempts: ${describe(err)}`);
        const wait = backoff(failures, policy);
        log(`s3: reading ${key} broke off at byte ${written} of ${total} (${describe(err)}); resuming from there in ${(wait / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    return written;
  } finally {
    writer.releaseLock();
  }
}
