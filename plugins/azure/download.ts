// A blob to a stream, resuming where a broken connection stopped: the rest is
// asked for with a range from the first byte not yet written, and only from the
// same version of the blob (If-Match on its ETag), so a resumed stream can never
// splice two different blobs. Tries are counted per break without progress: a
// long download on a flaky link keeps going as long as each try moves it on.
import type { BlockBlobClient } from "@azure/storage-blob";
import { PluginError } from "../protocol.ts";
import { AzureFailure, backoff, DEFAULT_RETRY, isTransient, linked, retrying, serviceWords, type RetryPolicy } from "./retry.ts";
import { attemptTimeout } from "./upload.ts";

export interface DownloadOptions {
  signal: AbortSignal;
  log(line: string): void;
  policy?: RetryPolicy;
  /** The error to throw when there is no blob under the key (exit 4). */
  missing(): PluginError;
}

/** A connection that goes quiet this long is broken: resume on another. */
const STALL_MS = 60_000;

/** Writes the whole blob to `out`; resolves with its size once every byte is written. */
export async function downloadStream(blob: BlockBlobClient, out: WritableStream<Uint8Array>, opts: DownloadOptions): Promise<number> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  let props;
  try {
    props = await retrying((sig) => blob.getProperties({ abortSignal: sig }), {
      what: "reading the blob's properties", signal: opts.signal, timeoutMs: attemptTimeout(0), log: opts.log, policy,
    });
  } catch (err) {
    if (err instanceof AzureFailure && (err.serviceCode === "BlobNotFound" || (err.status === 404 && err.serviceCode === undefined))) throw opts.missing();
    throw err;
  }
  const size = props.contentLength ?? 0;
  const etag = props.etag;
  const writer = out.getWriter();
  let offset = 0;
  let failures = 0;
  try {
    while (offset < size) {
      const link = linked(opts.signal);
      const attempt = link.controller;
      const signal = attempt.signal;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stalled = false;
      const arm = () => { clearTimeout(timer); timer = setTimeout(() => { stalled = true; attempt.abort(new Error(`the connection stalled for ${STALL_MS / 1000} s`)); }, STALL_MS); };
      const before = offset;
      // Once the answer's head is in, any failure reading its body is a broken connection.
      let reading = false;
      try {
        arm();
        // maxRetryRequests 0: the SDK's own resuming stream is off, this loop is the one that resumes.
        const res = await blob.download(offset, undefined, { conditions: { ifMatch: etag }, abortSignal: signal, maxRetryRequests: 0 });
        reading = true;
        const body = res.readableStreamBody;
        if (!body) throw new PluginError("the service sent no body");
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          arm();
          // Never more than the size read at the start: the If-Match keeps it so anyway.
          const part = chunk.byteLength > size - offset ? chunk.subarray(0, size - offset) : chunk;
          try {
            await writer.write(part);
          } catch (err) {
            // Our reader went away: no retry can mend that.
            throw new PluginError(`writing the blob out stopped at byte ${offset}: ${(err as Error)?.message ?? err}`);
          }
          offset += part.byteLength;
        }
        if (offset < size) throw Object.assign(new Error(`the connection ended after ${offset} of ${size} bytes`), { code: "ECONNRESET" });
      } catch (raw) {
        if (opts.signal.aborted) throw opts.signal.reason ?? raw;
        const err = stalled ? Object.assign(new Error(String((attempt.signal.reason as Error)?.message)), { code: "ETIMEDOUT" }) : raw;
        if ((err as { statusCode?: number }).statusCode === 412) {
          throw new PluginError(`the blob changed while it was being read (its ETag is no longer ${etag}): read it again`);
        }
        if (err instanceof PluginError) throw err;
        failures = offset > before ? 1 : failures + 1;
        const transient = reading || isTransient(err);
        if (!transient || failures >= policy.tries) throw new PluginError(`reading the blob at byte ${offset} of ${size}: ${serviceWords(err)}`);
        const wait = backoff(failures, policy);
        opts.log(`azure: reading the blob broke at byte ${offset} of ${size} (${serviceWords(err)}); resuming from there in ${(wait / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, wait));
      } finally {
        clearTimeout(timer);
        link.dispose();
      }
    }
  } finally {
    writer.releaseLock();
  }
  return offset;
}
