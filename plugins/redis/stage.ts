// The one copy of an archive on disk a restore makes: the server (the data
// host's, or the private one of a network restore) loads an RDB from a file.
import { createWriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PluginError, type ActionContext } from "../protocol.ts";
import { RDB_MAGIC } from "./config.ts";

/** Writes the whole input to `path` (synced); refuses an empty input or one that is not an RDB. */
export async function stage(ctx: ActionContext, path: string): Promise<number> {
  let size = 0;
  let head = Buffer.alloc(0);
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      if (head.byteLength < RDB_MAGIC.byteLength) {
        head = Buffer.concat([head, chunk]).subarray(0, RDB_MAGIC.byteLength);
        if (head.byteLength === RDB_MAGIC.byteLength && !head.equals(RDB_MAGIC)) throw new PluginError("the input is not an RDB file (it does not start with REDIS)");
      }
      size += chunk.byteLength;
      ctl.enqueue(chunk);
    },
  });
  const out = createWriteStream(path, { flags: "wx", mode: 0o640 });
  await pipeline(Readable.fromWeb(ctx.stdin.pipeThrough(counted) as any), out);
  if (size === 0) throw new PluginError("nothing to restore: the input is empty");
  if (size < RDB_MAGIC.byteLength) throw new PluginError("the input is not an RDB file (too short)");
  const fh = await open(path, "r");
  try { await fh.sync(); } finally { await fh.close(); }
  return size;
}
