// A stage's stderr, line by line: what the daemon puts in the task log, and what a guard
// reads of the tools it runs itself (compress-beside.ts).

/** Splits a byte stream into lines; a very long line is cut rather than held whole. */
export async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const MAX_LINE = 4096;
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl).replace(/\r$/, ""));
      pending = pending.slice(nl + 1);
    }
    if (pending.length > MAX_LINE) {
      onLine(pending.slice(0, MAX_LINE) + " …");
      pending = "";
    }
  }
  pending += decoder.decode();
  if (pending) onLine(pending);
}
