// Behaviour that every call to a plugin may need, written once around the call
// rather than at each call site: a deadline, retries with backoff for the calls
// that are safe to repeat, and a bounded wait for an answer that may come later.
//
// Which calls are safe to retry: those whose effect is the same however many
// times they run. `info`, `validate` and `test` change nothing; `purge` is
// idempotent by contract (a key with no blob is success, see contract.ts).
// `store`, `retrieve`, `backup` and `restore` are streams: never retried here.

export class DeadlineExceeded extends Error {}

/**
 * Runs `call` with a signal that aborts after `ms` (or when `opts.signal` does):
 * the call must stop what it started when it sees the abort (a plugin process is
 * killed with its group). Rejects with what the call rejects with, or, once the
 * deadline has passed, with `opts.expired` of "WHAT did not answer within N s"
 * (a DeadlineExceeded unless told otherwise), whether or not the call stopped.
 */
export async function withDeadline<T>(ms: number, what: string, call: (signal: AbortSignal) => Promise<T>,
  opts: { signal?: AbortSignal; expired?: (message: string) => Error } = {}): Promise<T> {
  const outer = opts.signal;
  const ac = new AbortController();
  const message = `${what} did not answer within ${ms / 1000} s`;
  const expired = opts.expired ? opts.expired(message) : new DeadlineExceeded(message);
  const timer = setTimeout(() => ac.abort(expired), ms);
  const onOuter = () => ac.abort(outer!.reason);
  outer?.addEventListener("abort", onOuter, { once: true });
  if (outer?.aborted) onOuter();
  try {
    const result = await Promise.race([call(ac.signal), new Promise<never>((_, reject) => {
      ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
      if (ac.signal.aborted) reject(ac.signal.reason);
    })]);
    return result;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
  }
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; doubled before each one after, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Whether a failure may pass by trying again (a timeout, a crash); an answer
   * (invalid, unauthorised) never does. `attempt`: the try that just failed, from 1.
   */
  transient: (err: unknown, attempt: number) => boolean;
  /** Told of each failure that will be tried again, with the wait before the next try. */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

/**
 * Runs `call` until it succeeds, its failure is not transient, the attempts are
 * spent or `signal` aborts (the wait is cut short then); rejects with the last
 * failure. The waits carry jitter (±25%), so that many callers failing together
 * do not come back together.
 */
export async function withRetry<T>(policy: RetryPolicy, call: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || signal?.aborted || !policy.transient(err, attempt)) throw err;
      const base = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
      const waitMs = Math.round(base * (0.75 + Math.random() * 0.5));
      policy.onRetry?.(err, attempt, waitMs);
      await sleep(waitMs, signal);
      if (signal?.aborted) throw err;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal?.removeEventListener("abort", done); resolve(); }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A bounded wait for answers that keep coming after the wait (a plugin's `info`,
 * cached once it lands): `get(name)` gives the answer if it comes within `ms`,
 * else undefined, and for as long as that answer is still on its way, later calls
 * for the same name do not wait again: a hanging plugin costs one wait, not one
 * per caller. A failure is undefined too: the caller falls back to what it can
 * do without the answer.
 */
export function boundedWait<T>(ms: number, ask: (name: string) => Promise<T>): (name: string) => Promise<T | undefined> {
  const stalled = new Set<string>();
  return async (name) => {
    if (stalled.has(name)) return undefined;
    let timer: Timer | undefined;
    const asking = ask(name);
    try {
      const r = await Promise.race([asking.then((v) => ({ v })), new Promise<undefined>((res) => { timer = setTimeout(res, ms); })]);
      if (r) return r.v;
      stalled.add(name);
      asking.then(() => stalled.delete(name), () => stalled.delete(name));
      return undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}
