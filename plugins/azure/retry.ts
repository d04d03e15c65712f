// Retries of the calls to Azure that are safe to repeat, as a wrapper around
// the call rather than code at each call site.
//
// - transient (a 408/429/5xx answer, a reset or refused connection, a timeout):
//   tried again after a backoff that doubles, with full jitter so that many
//   stores throttled together do not come back together;
// - permanent (403, 404 container, 400 ...): thrown at once, as the service said it;
// - the action's own signal aborting (a cancel) is never retried.
// The SDK's own retry policy is switched off (client.ts): one place decides.
import { PluginError } from "../protocol.ts";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  tries: number;
  /** The first backoff; each next one doubles, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { tries: 6, baseDelayMs: 500, maxDelayMs: 20_000 };

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODE = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH",
  "REQUEST_SEND_ERROR", "UND_ERR_SOCKET", "ConnectionRefused", "ConnectionClosed", "FailedToOpenSocket",
]);

/** A failure that retrying did not mend, with the service's error code and status for callers to tell apart. */
export class AzureFailure extends PluginError {
  constructor(message: string, readonly serviceCode: string | undefined, readonly status: number | undefined) { super(message); }
}

/** A per-attempt timeout fired: the request may succeed on another try. */
export class AttemptTimeout extends Error {
  constructor(ms: number) { super(`no answer within ${Math.round(ms / 1000)} s`); }
}

interface ServiceError { statusCode?: number; code?: string; details?: { errorCode?: string; message?: string }; name?: string; message?: string; cause?: unknown }

/** Whether trying again may succeed. */
export function isTransient(err: unknown): boolean {
  if (err instanceof AttemptTimeout) return true;
  const e = err as ServiceError | undefined;
  if (!e || typeof e !== "object") return false;
  if (e.statusCode !== undefined && e.statusCode !== 0) return TRANSIENT_STATUS.has(e.statusCode);
  if (e.code && TRANSIENT_CODE.has(e.code)) return true;
  // A connection that broke mid-body surfaces as a bare error from the socket or stream,
  // or as an AbortError that none of our signals caused (the callers check theirs first).
  if (e.name === "AbortError") return true;
  const msg = String(e.message ?? "");
  if (/socket|connection|ECONNRESET|EPIPE|terminated|premature|aborted|other side closed/i.test(msg)) return true;
  return e.cause !== undefined && e.cause !== err ? isTransient(e.cause) : false;
}

/** The service's error code (BlobNotFound, ContainerNotFound, AuthenticationFailed ...), if it gave one. */
export function errorCode(err: unknown): string | undefined {
  const e = err as ServiceError | undefined;
  return e?.details?.errorCode ?? (typeof e?.code === "string" && /^[A-Z][A-Za-z]+$/.test(e.code) ? e.code : undefined);
}

/**
 * The one line to print for a failure: the status and code the service sent and
 * its own first sentence (without its request id), a SAS signature scrubbed.
 */
export function serviceWords(err: unknown): string {
  const e = err as ServiceError | undefined;
  const raw = String(e?.details?.message ?? e?.message ?? err ?? "unknown error");
  const first = raw.split("\n").map((l) => l.trim()).find((l) => l && !/^(RequestId|Time):/.test(l)) ?? raw;
  const code = errorCode(err) ?? (typeof e?.code === "string" ? e.code : undefined);
  const head = [e?.statusCode || undefined, code].filter(Boolean).join(" ");
  const text = head && !first.startsWith(head) ? `${head}: ${first}` : first;
  return scrub(text);
}

/** A SAS token's signature never reaches a log, whatever an error message quoted. */
export function scrub(text: string): string {
  return text.replace(/([?&]?sig=)[^&\s"']+/gi, "$1REDACTED");
}

/**
 * A controller that aborts when `parent` does, until disposed: each attempt's
 * signal is let go of (its listener on the long-lived parent removed) as soon as
 * the attempt ends, rather than left to AbortSignal.any's bookkeeping, thousands
 * of attempts over one large archive.
 */
export function linked(parent?: AbortSignal): { controller: AbortController; dispose(): void } {
  const controller = new AbortController();
  if (!parent) return { controller, dispose() {} };
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener("abort", onAbort) };
}

/** Sleeps, unless the signal aborts first (then throws its reason). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wait before retry number `n` (from 1): full jitter in [delay/2, delay]. */
export function backoff(n: number, policy: RetryPolicy, random = Math.random): number {
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
  return Math.round(delay / 2 + random() * (delay / 2));
}

export interface AttemptOptions {
  /** What is being done, for the log line of a retry ("staging block 12"). */
  what: string;
  /** The action's signal: a cancel stops the retries. */
  signal?: AbortSignal;
  /** Gives up an attempt after this long, and tries again. */
  timeoutMs?: number;
  policy?: RetryPolicy;
  log?: (line: string) => void;
}

/**
 * Runs `call` until it succeeds, a permanent failure, or the tries are spent.
 * Each attempt gets a signal that aborts on a cancel or on its own timeout.
 */
export async function retrying<T>(call: (signal: AbortSignal, attempt: number) => Promise<T>, opts: AttemptOptions): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    const link = linked(opts.signal);
    let timedOut: AttemptTimeout | undefined;
    const timer = opts.timeoutMs ? setTimeout(() => link.controller.abort((timedOut = new AttemptTimeout(opts.timeoutMs!))), opts.timeoutMs) : undefined;
    try {
      return await call(link.controller.signal, attempt);
    } catch (raw) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? raw;
      const err = timedOut ?? raw;
      if (!isTransient(err) || attempt >= policy.tries) {
        if (err instanceof PluginError) throw err;
        const spent = isTransient(err) ? ` (after ${attempt} tries)` : "";
        throw new AzureFailure(`${opts.what}: ${serviceWords(err)}${spent}`, errorCode(err), (err as ServiceError)?.statusCode);
      }
      const wait = backoff(attempt, policy);
      opts.log?.(`azure: ${opts.what}: ${serviceWords(err)}; trying again in ${(wait / 1000).toFixed(1)} s (try ${attempt + 1} of ${policy.tries})`);
      await sleep(wait, opts.signal);
    } finally {
      clearTimeout(timer);
      link.dispose();
    }
  }
}
