// The scheduler: files a backup task, owned by `system`, for every job that is not
// paused, at each of its due times, once.
//
// Exactly once, whoever files it: each job's next due time lives in the catalog
// (jobs.next_due_at), and a task is filed with its due time under a unique
// (job, due time) index before the due time is advanced with a compare-and-set.
// A late tick, a retried tick, a daemon restarted after a crash between the two
// steps, or several daemons sharing one PostgreSQL catalog all end with one task
// per due time: the second insert is a no-op and the second advance finds the due
// time moved. A job whose due time passed while no daemon ran gets one catch-up
// run at start (the next due time is computed from now, not from the missed one).
//
// Idle cost: the next due times sit in a min-heap; the loop sleeps until the
// earliest (or the next periodic re-read of the jobs, for changes made by other
// daemons), and wakes at once when this daemon's API changes a job or schedule.
import type { Catalog, JobScheduling, JobView } from "../catalog/index.ts";
import { describeError, log } from "../log.ts";
import { systemClock, type Clock } from "./clock.ts";
import { MinHeap } from "./heap.ts";
import { daemonZone, parseTimespec, type Timespec } from "./timespec.ts";

/** What SHIELD_MODE=DEV turns every schedule into, as in the design. */
export const DEV_TIMESPEC = "* * * * *";

export interface SchedulerOptions {
  catalog: Catalog;
  clock?: Clock;
  /** The zone of schedules that name none (default: the daemon's). */
  zone?: string;
  /** SHIELD_MODE=DEV: every schedule runs every minute. */
  dev?: boolean;
  /** How often to re-read every job, for changes made by other daemons sharing the catalog (ms). */
  reloadEveryMs?: number;
  /** Called after tasks were filed: the supervisor picks them up at once. */
  onFiled?: () => void;
}

interface Due {
  job: string;
  /** Epoch seconds. */
  at: number;
  /** The effective schedule the due time was computed from (see specKey). */
  spec: string;
}

export interface TickResult { filed: number; skipped: number }

const formatUtc = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ");

export class Scheduler {
  private readonly clock: Clock;
  private readonly zone: string;
  private readonly reloadEveryMs: number;
  private heap = new MinHeap<Due>((d) => d.at);
  /** Parsed schedules by text; a text that does not parse is remembered (and reported) once. */
  private parsed = new Map<string, Timespec | null>();
  private dirty = true;
  private lastReload = -Infinity;
  private stopped = false;
  private wake = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.zone = opts.zone ?? daemonZone();
    this.reloadEveryMs = opts.reloadEveryMs ?? 60_000;
  }

  /** Reads the jobs, files what is due (the catch-up of a daemon that was down), then runs on its own. */
  async start(): Promise<void> {
    if (this.opts.dev) log.warn("SHIELD_MODE=DEV: every schedule runs every minute");
    await this.tick();
    this.loop = this.run();
  }

  /** Jobs or schedules changed: re-read them now rather than at the next periodic re-read. */
  nudge(): void {
    this.dirty = true;
    this.wake.abort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.loop;
  }

  /** When the scheduler next has something to do, for tests and the benchmark (epoch seconds). */
  nextDue(): number | undefined {
    return this.heap.peek()?.at;
  }

  /** Re-reads the jobs if they changed (or it is time to), then files every task now due. */
  async tick(): Promise<TickResult> {
    if (this.dirty || this.clock.now() - this.lastReload >= this.reloadEveryMs) await this.reload();
    return this.fileDue();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let failed = false;
      try {
        await this.tick();
      } catch (err) {
        failed = true;
        log.error("the scheduler cannot reach the catalog; it tries again shortly", describeError(err));
      }
      if (this.stopped) break;
      if (this.dirty && !failed) continue;
      const now = this.clock.now();
      const next = this.heap.peek();
      let wait = this.lastReload + this.reloadEveryMs - now;
      if (next) wait = Math.min(wait, next.at * 1000 - now);
      if (failed) wait = Math.max(wait, 5000);
      if (wait <= 0) continue;
      this.wake = new AbortController();
      await this.clock.sleep(wait, this.wake.signal);
    }
  }

  /** The schedule a job runs on, in full: its text (or DEV mode's), and the zone it falls back to. */
  private specKey(timespec: string): string {
    return `${this.opts.dev ? `${DEV_TIMESPEC} (SHIELD_MODE=DEV)` : timespec} | ${this.zone}`;
  }

  private timespec(text: string): Timespec | null {
    const source = this.opts.dev ? DEV_TIMESPEC : text;
    let spec = this.parsed.get(source);
    if (spec === undefined) {
      try {
        spec = parseTimespec(source);
      } catch (err) {
        // A schedule saved before schedules were checked: say so once, and leave its jobs alone.
        log.error("a schedule cannot be read; its jobs do not run until it is fixed", { when: source, error: (err as Error).message });
        spec = null;
      }
      this.parsed.set(source, spec);
    }
    return spec;
  }

  /** The first due time strictly after `afterMs`, in whole seconds. */
  private nextAfter(spec: Timespec, afterMs: number): number | undefined {
    const next = spec.next(new Date(afterMs), this.zone);
    return next ? Math.ceil(next.getTime() / 1000) : undefined;
  }

  private async reload(): Promise<void> {
    this.dirty = false;
    const rows = await this.opts.catalog.jobs.scheduling();
    this.lastReload = this.clock.now();
    const heap = new MinHeap<Due>((d) => d.at);
    for (const row of rows) {
      const due = await this.dueOf(row);
      if (due) heap.push(due);
    }
    this.heap = heap;
  }

  /**
   * A job's next due time. A job seen for the first time, unpaused, or whose
   * schedule changed starts from now: it gets no run for times before that.
   */
  private async dueOf(row: JobScheduling): Promise<Due | undefined> {
    if (row.paused) return undefined;
    const key = this.specKey(row.timespec);
    if (row.nextDueAt !== null && row.nextDueSpec === key) return { job: row.uuid, at: row.nextDueAt, spec: key };
    const spec = this.timespec(row.timespec);
    if (!spec) return undefined;
    const at = this.nextAfter(spec, this.clock.now());
    if (at === undefined) return undefined;
    if (await this.opts.catalog.jobs.advanceDue(row.uuid, { at: row.nextDueAt, spec: row.nextDueSpec }, { at, spec: key })) {
      return { job: row.uuid, at, spec: key };
    }
    // Another daemon set it meanwhile: take its word.
    return this.reread(row.uuid);
  }

  private async reread(job: string): Promise<Due | undefined> {
    const row = await this.opts.catalog.jobs.schedulingOf(job);
    if (!row || row.paused) return undefined;
    if (row.nextDueAt === null || row.nextDueSpec !== this.specKey(row.timespec)) {
      this.dirty = true;
      return undefined;
    }
    return { job, at: row.nextDueAt, spec: row.nextDueSpec };
  }

  private async fileDue(): Promise<TickResult> {
    const result: TickResult = { filed: 0, skipped: 0 };
    const nowMs = this.clock.now();
    let told = 0;
    for (let top = this.heap.peek(); top && top.at * 1000 <= nowMs; top = this.heap.peek()) {
      this.heap.pop();
      try {
        const outcome = await this.fire(top, nowMs);
        if (outcome === "filed") result.filed++;
        if (outcome === "skipped") result.skipped++;
      } catch (err) {
        // The due time stays in the catalog: the next re-read brings it back.
        this.dirty = true;
        throw err;
      }
      // Tell the workers early: the first tasks of a large batch need not wait for the last.
      if (result.filed - told >= 50) {
        told = result.filed;
        this.opts.onFiled?.();
      }
    }
    if (result.filed > told) this.opts.onFiled?.();
    return result;
  }

  /** Files (or skips) one job's due time, then moves the job to its next one. */
  private async fire(due: Due, nowMs: number): Promise<"filed" | "skipped" | "gone"> {
    const { catalog } = this.opts;
    const job = await catalog.jobs.get(due.job);
    if (!job || job.paused) return "gone";
    const key = this.specKey(job.timespec);
    const spec = this.timespec(job.timespec);
    if (key !== due.spec || !spec) {
      // The schedule changed since the jobs were read: start over from the catalog.
      this.dirty = true;
      return "gone";
    }
    // From now, not from the due time: after downtime, one catch-up run stands for all it missed.
    const nextAt = this.nextAfter(spec, Math.max(nowMs, due.at * 1000));
    const advance = () => catalog.jobs.advanceDue(job.uuid, { at: due.at, spec: key }, { at: nextAt ?? null, spec: nextAt === undefined ? null : key });

    let outcome: "filed" | "skipped" | "gone" = "gone";
    let advanced = false;
    const previous = await catalog.tasks.unfinishedBackup(job.uuid);
    if (previous) {
      advanced = await advance();
      if (advanced) {
        outcome = "skipped";
        await this.recordSkip(job, due.at, nowMs, previous);
      }
    } else {
      const filed = await catalog.tasks.fileScheduled({
        uuid: crypto.randomUUID(), owner: "system", op: "backup", jobUuid: job.uuid, archiveUuid: null,
        targetUuid: job.targetUuid, storeUuid: job.storeUuid, requestedAt: Math.floor(nowMs / 1000), dueAt: due.at,
        log: this.firstLine(job, due.at, nowMs, spec),
      });
      advanced = await advance();
      if (filed) outcome = "filed";
    }
    if (nextAt !== undefined) {
      // Whoever advanced it, the catalog now says when the job is next due.
      const next = advanced ? { job: job.uuid, at: nextAt, spec: key } : await this.reread(job.uuid);
      if (next) this.heap.push(next);
    }
    return outcome;
  }

  private firstLine(job: JobView, dueAt: number, nowMs: number, spec: Timespec): string {
    const schedule = this.opts.dev ? `"${job.timespec}", run every minute as SHIELD_MODE=DEV` : `"${job.timespec}"`;
    let line = `${formatUtc(Math.floor(nowMs / 1000))} filed by the scheduler for ${formatUtc(dueAt)} UTC (job "${job.name}", schedule ${schedule})`;
    // Missed due times after this one: the daemon was not running then.
    const missed = spec.nextRuns(new Date(dueAt * 1000), 1000, this.zone).filter((d) => d.getTime() <= nowMs).length;
    if (missed) line += `; a catch-up run: the daemon was not running at ${missed >= 1000 ? "1000 or more" : missed} later due time${missed === 1 ? "" : "s"}, which this run stands for`;
    return `${line}\n`;
  }

  /** The skip goes in the log of the run still in the way, where an operator looking at the job finds it. */
  private async recordSkip(job: JobView, dueAt: number, nowMs: number, previous: { uuid: string; status: string }): Promise<void> {
    const line = `${formatUtc(Math.floor(nowMs / 1000))} job "${job.name}" came due at ${formatUtc(dueAt)} UTC while this task was still ${previous.status}; that run was skipped (one backup per job at a time)\n`;
    await this.opts.catalog.tasks.appendLog(previous.uuid, line);
    log.warn("skipped a scheduled backup: the job's previous run has not finished", { job: job.uuid, due: formatUtc(dueAt), task: previous.uuid });
  }
}
