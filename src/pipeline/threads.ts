// The guard's worker threads (guard-thread.ts), for work on a file the retrieve handed
// over (the fs store's blob) that another thread does better: a share of the verify pass
// (verify-file.ts), the restore proper's read, decryption and blocking writes (unseal.ts).
// The guard's own thread keeps its event loop: the lifeline to the daemon, signals.
import type { ShareRequest } from "./verify-file.ts";
import type { Unsealed } from "./unseal.ts";

/**
 * The worker's module: beside this one when run from the sources; in the compiled binary,
 * an entry point of the build (package.json), named from the root of its entry points
 * (src/), not from this module's bundled chunk.
 */
const MODULE = import.meta.url.includes("/$bunfs/") ? "./pipeline/guard-thread.ts" : new URL("./guard-thread.ts", import.meta.url).href;

/** A blob's file smaller than this is not worth a thread: one takes ~6 ms and a heap of its own to start. */
export const THREAD_MIN_BYTES = 64 << 20;

/** What a guard thread is asked. */
export type ThreadRequest = { share: ShareRequest } | { unseal: UnsealRequest };

/** The restore proper of a file on a thread: unseal() from `fd` into `out` (a FIFO's blocking write end). */
export interface UnsealRequest {
  fd: number;
  out: number;
  dataKey: Uint8Array | null;
  holdTail: number;
  progressEvery: number;
  /** `out`'s reader copies what it reads: the plaintext's pages may be lent to it (lend.ts). */
  lend: boolean;
}

/**
 * What a guard thread says: `started` once it began (before, it read and wrote nothing),
 * then progress (frames checked since its last word; an unseal's counts), then how it ended.
 */
export type ThreadReport =
  | { started: true }
  | { checked: number }
  | { progress: { bytesIn: number; bytes: number } }
  | { done: true }
  | { unsealed: Unsealed; tail: Uint8Array }
  | { refused: string; atEnd?: boolean }
  | { failed: string; code?: string };

/**
 * Starts a guard thread on `request` and passes its reports to `onReport` until it ended:
 * resolves with its last report (done, unsealed, refused or failed), or with `failed` when
 * the thread itself failed (it did not start, it died).
 * The thread is terminated once it ended, but one that lent pages to a pipe (an unseal's,
 * `lend`): it lives until the process exits, and the pages with it (lend.ts).
 */
export function onThread(request: ThreadRequest, onReport: (report: ThreadReport) => void): { ended: Promise<ThreadReport>; terminate(): void } {
  let worker: Worker | undefined;
  const ended = new Promise<ThreadReport>((resolve) => {
    try {
      worker = new Worker(MODULE);
    } catch (err) {
      return resolve({ failed: (err as Error)?.message ?? String(err) });
    }
    worker.onmessage = (e: MessageEvent<ThreadReport>) => {
      const report = e.data;
      if ("started" in report || "checked" in report || "progress" in report) onReport(report);
      else resolve(report);
    };
    worker.onerror = (e) => resolve({ failed: e.message || "the guard's worker thread failed" });
    worker.postMessage(request);
  });
  const terminate = () => worker?.terminate();
  // A lender's thread is only let go of (unref): it keeps nothing running, and nothing freed.
  const lent = "unseal" in request && request.unseal.lend;
  void ended.then(lent ? () => worker?.unref() : terminate);
  return { ended, terminate };
}
