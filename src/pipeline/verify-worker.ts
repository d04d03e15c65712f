// A worker thread of the verify pass over a file (verify-file.ts): checks the one share
// it is sent and says how it went. Its word on progress comes about every
// REPORT_EVERY_MS, not per read: each word is a message the guard's thread handles.
import { ArchiveDecryptError } from "./encryption.ts";
import { checkShare, type ShareReport, type ShareRequest, shareOpener } from "./verify-file.ts";

const REPORT_EVERY_MS = 100;

declare const self: Worker;

self.onmessage = async (e: MessageEvent<ShareRequest>) => {
  const { fd, key, header, first, count } = e.data;
  const say = (report: ShareReport) => self.postMessage(report);
  let unsaid = 0;
  let lastSaid = performance.now();
  const onChecked = (frames: number) => {
    unsaid += frames;
    if (performance.now() - lastSaid < REPORT_EVERY_MS) return;
    say({ checked: unsaid });
    unsaid = 0;
    lastSaid = performance.now();
  };
  try {
    await checkShare(fd, shareOpener(key, header, first), { first, count }, onChecked, { stopped: false });
    if (unsaid) say({ checked: unsaid });
    say({ done: true });
  } catch (err) {
    say(err instanceof ArchiveDecryptError ? { refused: err.message } : { failed: (err as Error)?.message ?? String(err) });
  }
};
