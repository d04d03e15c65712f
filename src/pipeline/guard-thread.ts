// A worker thread of a guard (threads.ts): does the one request it is sent, a share of
// the verify pass or the restore proper of a file, and says how it went. Its word on a
// share's progress comes about every REPORT_EVERY_MS, not per read: each word is a message
// the guard's thread handles.
import { writeSync } from "node:fs";
import type { ThreadReport, ThreadRequest, UnsealRequest } from "./threads.ts";
import { PageLender } from "./lend.ts";
import { unseal } from "./unseal.ts";
import { checkShare, type ShareRequest, shareOpener } from "./verify-file.ts";

const REPORT_EVERY_MS = 100;

declare const self: Worker;

const say = (report: ThreadReport, transfer: ArrayBuffer[] = []) => self.postMessage(report, transfer);

self.onmessage = async (e: MessageEvent<ThreadRequest>) => {
  say({ started: true });
  try {
    if ("share" in e.data) await checkOne(e.data.share);
    else await unsealOne(e.data.unseal);
  } catch (err) {
    const { name, message, atEnd, code } = (err ?? {}) as Error & { atEnd?: boolean; code?: string };
    if (name === "ArchiveDecryptError") say({ refused: message });
    else if (name === "Refused") say({ refused: message, atEnd });
    else say({ failed: message ?? String(err), code });
  }
};

async function checkOne({ fd, key, header, first, count }: ShareRequest): Promise<void> {
  let unsaid = 0;
  let lastSaid = performance.now();
  const onChecked = (frames: number) => {
    unsaid += frames;
    if (performance.now() - lastSaid < REPORT_EVERY_MS) return;
    say({ checked: unsaid });
    unsaid = 0;
    lastSaid = performance.now();
  };
  await checkShare(fd, shareOpener(key, header, first), { first, count }, onChecked, { stopped: false });
  if (unsaid) say({ checked: unsaid });
  say({ done: true });
}

/** Writes wait here, in write(2) or vmsplice(2) (lend.ts), as a tool's would: this thread has nothing else to do meanwhile. */
async function unsealOne({ fd, out, dataKey, holdTail, progressEvery, lend }: UnsealRequest): Promise<void> {
  // Lent, an encrypted archive's plaintext is opened into the lender's buffers, not one reused.
  const lender = lend && dataKey ? PageLender.to(out) : null;
  const write = lender ? (bytes: Uint8Array) => lender.write(bytes) : (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) at += writeSync(out, bytes, at);
  };
  const { unsealed, tail } = await unseal({
    from: { nonBlocking: fd, blocking: fd }, write, dataKey, holdTail, progressEvery,
    plainBuffer: lender ? (size) => lender.buffer(size) : undefined,
    onProgress: (progress) => say({ progress }),
  });
  say({ unsealed, tail }, [tail.buffer as ArrayBuffer]);
}
