// A task's log: timestamped lines, secrets masked, written to the catalog in
// batches (every second) so that GET /v1/task/:uuid shows it while the task runs.
import type { Catalog } from "../catalog/index.ts";
import { describeError, log } from "../log.ts";
import { looksSecret } from "../secret-names.ts";

const FLUSH_MS = 1000;
// A chatty plugin (tar -v, pg_restore --verbose) must not make a log grow with the
// archive: past this much, only the last TAIL_LINES lines are kept for the end.
const MAX_LOG_BYTES = 512 * 1024;
const TAIL_LINES = 200;

/** The values in endpoint JSON documents that must never be written to a log. */
export function secretsOf(...endpoints: (string | null | undefined)[]): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, key: string) => {
    if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    } else if ((typeof value === "string" || typeof value === "number") && looksSecret(key)) {
      const s = String(value);
      if (s.length >= 2) found.add(s);
    }
  };
  for (const e of endpoints) {
    if (!e) continue;
    try { walk(JSON.parse(e), ""); } catch { /* not JSON: nothing to find */ }
  }
  // Longest first, so that a secret containing another is masked whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** `text` with every one of `secrets` (longest first, as secretsOf gives them) replaced by ***. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const s of secrets) masked = masked.split(s).join("***");
  return masked;
}

export class TaskLog {
  private pending: string[] = [];
  private timer: ReturnType<typeof setInterval>;
  private writing: Promise<void> = Promise.resolve();
  private written = 0;
  private tail: string[] = [];
  private dropped = 0;

  constructor(private readonly catalog: Catalog, private readonly taskUuid: string, private secrets: string[] = []) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
  }

  addSecrets(secrets: string[]): void {
    this.secrets = [...new Set([...this.secrets, ...secrets])].sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret this log knows masked. */
  mask(text: string): string {
    return maskSecrets(text, this.secrets);
  }

  line(text: string): void {
    const masked = this.mask(text);
    const stamp = new Date().toISOString().slice(0, 19).replace("T", " ");
    const line = `${stamp} ${masked}\n`;
    if (this.written < MAX_LOG_BYTES) {
      this.written += line.length;
      this.pending.push(line);
      return;
    }
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) {
      this.tail.shift();
      this.dropped++;
    }
  }

  flush(): Promise<void> {
    if (!this.pending.length) return this.writing;
    const text = this.pending.join("");
    this.pending = [];
    // Serialized: appends must land in order.
    this.writing = this.writing.then(() => this.catalog.tasks.appendLog(this.taskUuid, text)).catch((err) => {
      log.error("cannot write a task log", { task: this.taskUuid, ...describeError(err) });
    });
    return this.writing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.dropped) this.pending.push(`… ${this.dropped} lines left out (the log keeps its first ${MAX_LOG_BYTES / 1024} KiB and last ${TAIL_LINES} lines) …\n`);
    this.pending.push(...this.tail);
    this.tail = [];
    await this.flush();
  }
}
