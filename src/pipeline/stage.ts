// One process of a pipeline: spawned in a process group of its own (so that a
// cancel kills whatever it started too), its stderr turned into log lines, its
// exit awaited and checked by the caller.
import type { FileSink, Subprocess } from "bun";
import { constants } from "node:os";

export interface StageOptions {
  /** What the task log calls this stage: "target backup", "store", "zstd". */
  label: string;
  argv: string[];
  env?: Record<string, string | undefined>;
  stdin: "pipe" | "ignore";
  stdout: "pipe" | "ignore";
  /** Called with each stderr line of the process. */
  onStderr: (label: string, line: string) => void;
}

export class Stage {
  readonly label: string;
  readonly proc: Subprocess<"pipe" | "ignore", "pipe" | "ignore", "pipe">;
  private readonly stderrDone: Promise<void>;

  constructor(opts: StageOptions) {
    this.label = opts.label;
    try {
      this.proc = Bun.spawn(opts.argv, {
        stdin: opts.stdin, stdout: opts.stdout, stderr: "pipe",
        env: opts.env as Record<string, string>,
        // A session of its own: the whole group can be signalled, and the child never reads our terminal.
        detached: true,
      });
    } catch (err) {
      throw new Error(`cannot start ${opts.label} (${opts.argv[0]}): ${(err as Error).message}`);
    }
    this.stderrDone = readLines(this.proc.stderr, (line) => opts.onStderr(this.label, line));
  }

  get stdin(): FileSink {
    return this.proc.stdin as FileSink;
  }

  get stdout(): ReadableStream<Uint8Array> {
    return this.proc.stdout as ReadableStream<Uint8Array>;
  }

  /** The exit code once the process and its stderr are done (signals count as failure). */
  async exited(): Promise<number> {
    const code = await this.proc.exited;
    await this.stderrDone;
    const signal = this.proc.signalCode;
    return signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : code;
  }

  /**
   * Stops the process and everything in its group: SIGTERM first, so that a
   * store can remove its temporary file, then SIGKILL for whatever is left.
   * Safe to call more than once or after exit.
   */
  kill(): void {
    // Its group may hold a reused pid once it has been reaped.
    if (this.killed || this.proc.exitCode !== null || this.proc.signalCode) return;
    this.killed = true;
    signalGroup(this.proc.pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(this.proc.pid, "SIGKILL"), KILL_GRACE_MS);
    // The group may outlive its leader (a plugin's children): always follow up.
    timer.unref?.();
  }
  /** True once we signalled it: its non-zero exit then follows from another stage's failure. */
  killed = false;
}

// Cancel must stop a pipeline within a second; half of it is the grace period.
const KILL_GRACE_MS = 500;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: the group is empty.
  }
}

/** Splits a byte stream into lines; a very long line is cut rather than held whole. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
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
