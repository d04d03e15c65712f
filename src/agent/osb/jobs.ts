// The osb API's jobs: one backup or restore each, run asynchronously through
// the script lifecycle (plugins/script/lifecycle.ts) and an S3 transfer, polled
// by id until a broker deletes it.
//
// Jobs run one at a time (a second waits its turn, its state "queued"): two
// lifecycles of the same service's scripts at once would take two locks and
// race their cleanups. Jobs live in memory: an agent restarted has forgotten
// them, as the original agent did.
import { mkdirSync, readdirSync, lstatSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { baseEnv, findScripts, phasesOf, runLifecycle, type Kind, type Phase } from "../../../plugins/script/lifecycle.ts";
import type { JobRequest } from "./bodies.ts";
import { download, s3Message, upload, type S3Settings } from "./s3.ts";

export interface JobSettings {
  scriptDir: string;
  /** Each backup job gets a fresh directory in here for its file ($SHIELD_BACKUP_DIR). */
  backupDir: string;
  /** Each restore job gets a fresh directory in here, holding the downloaded file ($SHIELD_RESTORE_FILE). */
  restoreDir: string;
  s3: S3Settings;
}

type Status = "RUNNING" | "SUCCEEDED" | "FAILED";

/** "YYYY-MM-DDTHH:MM:SS+00:00", the seed's form. */
function time(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

const logKey = (phase: Phase) => phase.replaceAll("-", "_");

export class Job {
  status: Status = "RUNNING";
  state = "queued";
  message = "";
  errorMessage = "";
  readonly start = new Date();
  end?: Date;
  filename?: string;
  size?: number;
  readonly logs = new Map<Phase, { out: string; err: string }>();
  readonly controller = new AbortController();
  done!: Promise<void>;

  constructor(readonly kind: Kind, readonly request: JobRequest) {}

  /** The seed's polling body; error_message only when there is one. */
  body(): Record<string, unknown> {
    const b: Record<string, unknown> = { status: this.status, message: this.message, state: this.state };
    if (this.errorMessage) b.error_message = this.errorMessage;
    if (this.kind === "backup") {
      b.region = this.request.destination.region;
      b.bucket = this.request.destination.bucket;
      b.filename = this.filename ?? "";
      b.filesize = { size: this.size ?? 0, unit: "byte" };
    }
    b.start_time = time(this.start);
    b.end_time = this.end ? time(this.end) : "";
    b.execution_time_ms = (this.end ?? new Date()).getTime() - this.start.getTime();
    for (const phase of phasesOf(this.kind)) {
      const l = this.logs.get(phase);
      b[`${logKey(phase)}_log`] = l?.out ?? "";
      b[`${logKey(phase)}_errorlog`] = l?.err ?? "";
    }
    return b;
  }
}

/** The one file a backup script left: anything else is an error the broker must see. */
function theFile(dir: string): string {
  const names = readdirSync(dir);
  if (names.length !== 1) throw new Error(`the backup script must leave exactly one file in $SHIELD_BACKUP_DIR; it left ${names.length ? names.join(", ") : "none"}`);
  const path = join(dir, names[0]!);
  if (!lstatSync(path).isFile()) throw new Error(`the backup script left ${names[0]}, which is not a regular file`);
  return path;
}

export class Jobs {
  private readonly jobs: Record<Kind, Map<string, Job>> = { backup: new Map(), restore: new Map() };
  private turn: Promise<void> = Promise.resolve();

  constructor(private readonly settings: JobSettings) {}

  get(kind: Kind, id: string): Job | undefined {
    return this.jobs[kind].get(id);
  }

  /** Starts a job; undefined when one with that id exists (409). */
  start(kind: Kind, request: JobRequest): Job | undefined {
    if (this.jobs[kind].has(request.id)) return undefined;
    const job = new Job(kind, request);
    this.jobs[kind].set(request.id, job);
    const mine = this.turn.then(() => this.run(job));
    this.turn = mine.catch(() => {});
    job.done = mine;
    return job;
  }

  /**
   * Forgets a job; false when there is none (410). A running one is canceled
   * first, and forgotten only once its cleanup and unlock have run, so that its
   * id cannot start a second lifecycle while the first still holds the lock.
   */
  async remove(kind: Kind, id: string): Promise<boolean> {
    const job = this.jobs[kind].get(id);
    if (!job) return false;
    if (job.status === "RUNNING") {
      job.controller.abort(new Error("canceled: the job was deleted"));
      await job.done.catch(() => {});
    }
    this.jobs[kind].delete(id);
    return true;
  }

  /** Cancels every job and waits for their cleanup and unlock (the agent is stopping). */
  async stopAll(): Promise<void> {
    const all = [...this.jobs.backup.values(), ...this.jobs.restore.values()];
    for (const j of all) j.controller.abort(new Error("canceled: the agent is stopping"));
    await Promise.all(all.map((j) => j.done?.catch(() => {})));
  }

  private async run(job: Job): Promise<void> {
    const { kind, request } = job;
    const s = this.settings;
    const dir = join(kind === "backup" ? s.backupDir : s.restoreDir, request.id);
    try {
      if (job.controller.signal.aborted) throw job.controller.signal.reason;
      const scripts = findScripts(s.scriptDir, kind);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const env: Record<string, string> = { ...baseEnv(process.env), ...request.env };
      if (kind === "backup") env.SHIELD_BACKUP_DIR = dir;
      else {
        // Before the lock: the service stays locked no longer than the restore takes.
        const key = request.destination.filename!;
        const file = join(dir, basename(key) || "archive");
        job.state = "download";
        try {
          await download(request.destination, s.s3, key, file);
        } catch (err) {
          throw new Error(`downloading s3://${request.destination.bucket}/${key}: ${s3Message(err)}`);
        }
        env.SHIELD_RESTORE_FILE = file;
        env.SHIELD_RESTORE_DIR = dir;
      }
      await runLifecycle({
        kind, scripts, env, cwd: s.scriptDir, signal: job.controller.signal, ownGroup: true,
        io: () => ({ stdin: "ignore", stdout: "pipe", stderr: "pipe" }),
        onPhase: (phase) => { job.state = phase; },
        onOutcome: (o) => job.logs.set(o.phase, { out: o.stdout, err: o.stderr }),
        afterAction: kind === "backup" ? async () => {
          const file = theFile(dir);
          job.filename = basename(file);
          try {
            job.size = await upload(request.destination, s.s3, job.filename, file);
          } catch (err) {
            throw new Error(`uploading to s3://${request.destination.bucket}/${job.filename}: ${s3Message(err)}`);
          }
          rmSync(file, { force: true });
        } : undefined,
      });
      job.status = "SUCCEEDED";
      job.message = `${kind} successfully carried out`;
    } catch (err) {
      job.status = "FAILED";
      job.message = `${kind} failed`;
      job.errorMessage = (err as Error)?.message ?? String(err);
    } finally {
      job.state = "finished";
      job.end = new Date();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
