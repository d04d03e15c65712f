// zstd for the backup a store's guard runs beside the store (guard.ts, --with-source):
// the guard compresses itself what it can do cheaper than a zstd process would.
//
// Why: in a backup of a small database (thousands of them, each its own job) the zstd
// program cost ~2.4 ms of CPU, nearly all of it its start, for a few KiB of dump that take
// ~0.1 ms to compress here (bench/DATAPATH.md, "Sixteenth session"). So the tools write
// into a FIFO of ours, and we read it up to IN_PROCESS_MAX bytes:
// - the stream ends before that: it becomes one zstd frame made here (zstdFrame), written
//   into the way out. No zstd process at all;
// - it goes on: that much becomes a frame made here, and the rest goes through the zstd
//   program (every core, as any other backup's), which reads the FIFO itself from where we
//   stopped: no byte of a large backup crosses this process. A zstd stream may be several
//   frames one after another; `zstd -d` gives their contents in order.
// The rules of a stage hold: the compressor sees the end of its input only when the backup
// succeeded (a backup failing mid-stream never makes a complete-looking stream; it is killed
// instead), and its exit is checked. The raw size is counted here, plus what zstd reports.
import { closeSync, constants as C, openSync, rmSync } from "node:fs";
import { compressor, zstdFrame, zstdReport } from "./compression.ts";
import { makeFifo, widenPipe } from "./fifo.ts";
import { readLines } from "./lines.ts";
import { readOnPool, writeAllOnPool } from "./pool-io.ts";

/** The most a guard compresses itself: a few ms of CPU at worst (incompressible), under a zstd start. */
export const IN_PROCESS_MAX = 256 * 1024;

export interface BesideCompression {
  /** The fd the backup's tools write into (ActionContext.stdoutFd). */
  readonly input: number;
  /**
   * Once the backup succeeded: the rest of the stream is compressed into the way out (the
   * caller's end of it stays open). Resolves with 0 and the raw size (undefined: zstd did not
   * say it), or the compressor's failure (its exit code, and why, for the task log).
   */
  finish(): Promise<{ code: number; rawBytes?: number; why?: string }>;
  /** Once the backup failed or was stopped: the compressor is killed, never shown the end of its input. */
  abandon(): void;
}

/**
 * Starts the compression of a backup into `output` (a blocking fd: the store's FIFO, which
 * this process's own loop reads, so every write goes to the thread pool). `zstd`: how to run
 * the zstd program, should it be needed; `say`: a line of its for the task log.
 */
export function compressBeside(output: number, say: (line: string) => void, zstd: string[] = compressor("zstd")!): BesideCompression {
  const { dir, path } = makeFifo();
  let reader: number, writer: number;
  try {
    // Ours, not the daemon's: the read end first (a non-blocking open needs no writer), then the
    // write end, then a blocking read end for the thread pool and for zstd.
    const probe = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
    writer = openSync(path, C.O_WRONLY);
    reader = openSync(path, C.O_RDONLY);
    closeSync(probe);
    widenPipe(writer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let inputOpen = true;
  const closeInput = () => { if (inputOpen) closeSync(writer); inputOpen = false; };
  let abandoned = false;
  let running: { proc: Bun.Subprocess; rawBytes?: number; said: Promise<void> } | undefined;

  const head = Buffer.allocUnsafe(IN_PROCESS_MAX);
  // The head of the stream, read while the backup runs: all of it (the end came) or IN_PROCESS_MAX.
  const headRead = (async () => {
    let filled = 0;
    for (;;) {
      // On the thread pool: the fd is blocking, and this process's own loop must stay free.
      const n = await readOnPool(reader, head, filled, head.length - filled);
      if (n === 0) return { filled, ended: true };
      filled += n;
      if (filled === head.length) return { filled, ended: false };
    }
  })();
  // More than that: its frame goes out, then zstd reads the rest from where we stopped.
  const handedOff = headRead.then(async ({ filled, ended }) => {
    if (ended || abandoned) return;
    await writeAllOnPool(output, zstdFrame(head.subarray(0, filled)));
    if (abandoned) return;
    const proc = Bun.spawn(zstd, { stdin: reader, stdout: output, stderr: "pipe" });
    const z: NonNullable<typeof running> = { proc, said: Promise.resolve() };
    z.said = readLines(proc.stderr as ReadableStream<Uint8Array>, (line) => {
      const report = zstdReport(line);
      if (report.rawBytes !== undefined) z.rawBytes = report.rawBytes;
      if (report.keep) say(`zstd: ${line}`);
    });
    running = z;
  });
  handedOff.catch(() => {}); // seen by finish(), or by nobody once abandoned

  return {
    input: writer,
    async finish() {
      closeInput();
      try {
        const { filled, ended } = await headRead;
        if (ended) {
          await writeAllOnPool(output, zstdFrame(head.subarray(0, filled)));
          return { code: 0, rawBytes: filled };
        }
        await handedOff;
        const z = running!;
        const code = await z.proc.exited;
        await z.said;
        if (code !== 0) return { code, why: `zstd exited with code ${code}` };
        return { code: 0, rawBytes: z.rawBytes === undefined ? undefined : filled + z.rawBytes };
      } catch (err) {
        return { code: 1, why: `compressing the backup failed: ${(err as Error).message}` };
      } finally {
        closeSync(reader);
      }
    },
    abandon() {
      abandoned = true;
      // Killed before it can see the end of its input (closed next), should it have started.
      running?.proc.kill("SIGKILL");
      closeInput();
      // Not awaited: a write of the head may wait on a store that no longer reads.
      void handedOff.catch(() => {}).then(() => { running?.proc.kill("SIGKILL"); closeSync(reader); });
    },
  };
}
