// Retries and timeouts around every call to the service, as one wrapper, so that
// no call site has a loop of its own. A request is retried when its failure is
// transient (5xx but 501, throttling, a reset or refused connection, a timeout) with
// exponential backoff and jitter; a permanent one (403, no such bucket, a
// bad signature) fails at once with the service's own words. A request that
// carries a body is only ever given a Buffer, so every attempt sends it whole.
import { PluginError } from "../protocol.ts";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** Per attempt: the time a request may take before it is abandoned and retried... */
  timeoutMs: number;
  /** ...plus this much per MiB it carries (a 1 GiB part is not a 1 KiB request). */
  perMiBMs: number;
}

export const DEFAULT_POLICY: Omit<RetryPolicy, "timeoutMs"> = { attempts: 8, baseMs: 250, maxMs: 15_000, perMiBMs: 1000 };

const TRANSIENT_CODES = new Set([
  "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "TooManyRequestsException",
  "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable", "ServerBusy",
  "RequestLimitExceeded", "BandwidthLimitExceeded", "IncompleteBody", "EC2ThrottledException",
]);
const TRANSIENT_NET = new Set([
  "ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH",
  "ENOTFOUND", "ERR_STREAM_PREMATURE_CLOSE", "UND_ERR_SOCKET", "ConnectionRefused", "ConnectionClosed",
]);

interface ServiceError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

export function httpStatus(err: unknown): number | undefined {
  const e = err as ServiceError;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/** A call that failed for good; `cause` is the service's error, for callers that tell kinds apart. */
export class S3Failure extends PluginError {
  constructor(message: string, override readonly cause: unknown) { super(message); }
}

/** The service's error code (NoSuchKey, NoSuchUpload, AccessDenied, ...), if it gave one. */
export function errorCode(err: unknown): string | undefined {
  const e = (err instanceof S3Failure ? err.cause : err) as ServiceError;
  return e?.Code ?? e?.name;
}

/** Our own per-attempt deadline: always worth another attempt. */
export class AttemptTimeout extends Error {
  override name = "AttemptTimeout";
}

export function isTransient(err: unknown): boolean {
  const e = err as ServiceError;
  if (!e) return false;
  if (e instanceof AttemptTimeout) return true;
  if (TRANSIENT_CODES.has(e.name ?? "") || TRANSIENT_CODES.has(e.Code ?? "")) return true;
  const status = httpStatus(err);
  // 501 Not Implemented: the service lacks what the request asks for (S3 and its
  // work-alikes answer a header they do not support so, checksum.ts); asked again, it
  // answers the same, so the caller hears of it at once rather than after every attempt.
  if (status === 501) return false;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (status !== undefined && status >= 400) return false;
  if (TRANSIENT_NET.has(e.code ?? "") || TRANSIENT_NET.has(e.name ?? "")) return true;
  if (e.name === "TimeoutError" || /socket hang up|ECONNRESET|premature close|aborted|timed out|other side closed|connection.*(closed|reset)/i.test(e.message ?? "")) return true;
  if (e.cause && e.cause !== err) return isTransient(e.cause);
  return false;
}

/** The service's words for a failure: its code and message, and the HTTP status. */
export function describe(err: unknown): string {
  const e = err as ServiceError;
  if (e instanceof PluginError) return e.message;
  const status = httpStatus(err);
  const code = e?.Code ?? (e?.name && e.name !== "Error" && e.name !== "UnknownError" ? e.name : undefined) ?? e?.code;
  let message = e?.message ?? String(err);
  // The SDK says "UnknownError" for a bare status; name it.
  if (message === "UnknownError" && status) message = `HTTP ${status}`;
  const parts = [code && !message.startsWith(code) ? `${code}: ${message}` : message];
  if (status && !message.includes(String(status))) parts.push(`(HTTP ${status})`);
  return parts.join(" ");
}

export interface Attempt {
  /** Aborted at the attempt's deadline or when the whole action is stopped. */
  signal: AbortSignal;
  /** 1-based. */
  number: number;
}

/**
 * Runs `fn` until it succeeds, fails permanently, or the attempts are spent.
 * `bytes` is what the request carries, for its deadline, and `extraMs` more time the
 * service is known to need. `log` hears of each retry.
 * A stop of the action (`stop` aborted) ends it at once, with no retry.
 */
export async function withRetry<T>(
  what: string, policy: RetryPolicy, fn: (attempt: Attempt) => Promise<T>,
  opts: { bytes?: number; extraMs?: number; stop?: AbortSignal; log?: (line: string) => void } = {},
): Promise<T> {
  const deadlineMs = policy.timeoutMs + Math.ceil(((opts.bytes ?? 0) / (1024 * 1024)) * policy.perMiBMs) + (opts.extraMs ?? 0);
  for (let n = 1; ; n++) {
    if (opts.stop?.aborted) throw opts.stop.reason ?? new PluginError(`${what}: stopped`);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new AttemptTimeout(`${what} took longer than ${Math.round(deadlineMs / 1000)} s`)), deadlineMs);
    const onStop = () => controller.abort(opts.stop!.reason);
    opts.stop?.addEventListener("abort", onStop);
    try {
      return await fn({ signal: controller.signal, number: n });
    } catch (raw) {
      // An abort surfaces as the SDK's AbortError: say why it was aborted instead.
      const err = controller.signal.aborted && controller.signal.reason instanceof AttemptTimeout ? controller.signal.reason : raw;
      if (opts.stop?.aborted) throw opts.stop.reason ?? err;
      if (!isTransient(err)) throw new S3Failure(`${what} failed: ${describe(err)}`, err);
      if (n >= policy.attempts) throw new S3Failure(`${what} failed after ${n} attempts: ${describe(err)}`, err);
      const wait = backoff(n, policy);
      opts.log?.(`s3: ${what}: ${describe(err)}; retrying in ${(wait / 1000).toFixed(1)} s (attempt ${n + 1} of ${policy.attempts})`);
      await sleep(wait, opts.stop);
    } finally {
      clearTimeout(timer);
      opts.stop?.removeEventListener("abort", onStop);
    }
  }
}

/** Equal jitter: between half and all of the exponential bound, so that parts retried together spread out. */
export function backoff(attempt: number, policy: Pick<RetryPolicy, "baseMs" | "maxMs">): number {
  const bound = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(bound / 2 + Math.random() * (bound / 2));
}

function sleep(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); stop?.removeEventListener("abort", done); resolve(); }
    stop?.addEventListener("abort", done);
  });
}
