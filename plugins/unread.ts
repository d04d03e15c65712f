// Looking at the first bytes of a stream (to tell what kind of archive it is)
// without losing them: the bytes read are given back first, then the rest of the
// stream, pulled only as it is read (streams stay streams).

/**
 * The stream whose head is `first` (already read from `reader`) and whose rest is
 * what `reader` still holds; `ended` when the reader already said it was done.
 * Canceling it cancels the reader.
 */
export function unread(first: Uint8Array, reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> }, ended: boolean): ReadableStream<Uint8Array> {
  let sentHead = false;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (!sentHead) {
        sentHead = true;
        if (first.byteLength) { ctl.enqueue(first); return; }
      }
      if (ended) { ctl.close(); return; }
      const r = await reader.read();
      if (r.done) ctl.close();
      else ctl.enqueue(r.value!);
    },
    cancel(reason) { return reader.cancel(reason); },
  }, { highWaterMark: 0 });
}
