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
import { deferToWindow, parseWindow } from "./window.ts";

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

// Jobs filed per batch of statements; well under both dialects' limits on parameters.
const BATCH = 500;
// A catch-up run's log counts the due times it stands for up to this many (counting costs time).
const MAX_MISSED = 100;

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
  /** The run window is part of it: a job whose window changed gets its due time computed again. */
  private specKey(timespec: string, runWindow = ""): string {
    return `${this.opts.dev ? `${DEV_TIMESPEC} (SHIELD_MODE=DEV)` : timespec} | ${this.zone}${runWindow ? ` | window ${runWindow}` : ""}`;
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
  /** With a run window, a due time outside it moves to the window's next start (window.ts). */
  private nextAfter(spec: Timespec, afterMs: number, runWindow = ""): number | undefined {
    const next = spec.next(new Date(afterMs), this.zone);
    if (!next) return undefined;
    const at = Math.ceil(next.getTime() / 1000);
    let w = null;
    try {
      w = parseWindow(runWindow);
    } catch {
      // Refused when the job was saved; a damaged value means no window rather than no runs.
    }
    return deferToWindow(w, at, this.zone);
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
    const key = this.specKey(row.timespec, row.runWindow);
    if (row.nextDueAt !== null && row.nextDueSpec === key) return { job: row.uuid, at: row.nextDueAt, spec: key };
    const spec = this.timespec(row.timespec);
    if (!spec) return undefined;
    const at = this.nextAfter(spec, this.clock.now(), row.runWindow);
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
    if (row.nextDueAt === null || row.nextDueSpec !== this.specKey(row.timespec, row.runWindow)) {
      this.dirty = true;
      return undefined;
    }
    return { job, at: row.nextDueAt, spec: row.nextDueSpec };
  }

  private async fileDue(): Promise<TickResult> {
    const result: TickResult = { filed: 0, skipped: 0 };
    const nowMs = this.clock.now();
    // Jobs due together (a popular "daily at 2am") are filed together, a few
    // statements per batch rather than per job: the last of a thousand is not late.
    for (;;) {
      const batch: Due[] = [];
      for (let top = this.heap.peek(); top && top.at * 1000 <= nowMs && batch.length < BATCH; top = this.heap.peek()) batch.push(this.heap.pop()!);
      if (!batch.length) break;
      try {
        const r = await this.fire(batch, nowMs);
        result.filed += r.filed;
        result.skipped += r.skipped;
      } catch (err) {
        // The due times stay in the catalog: the next re-read brings them back.
        this.dirty = true;
        throw err;
      }
      // Tell the workers at once: the first batch's tasks need not wait for the last.
      if (result.filed) this.opts.onFiled?.();
    }
    return result;
  }

  /** Files (or skips) each job's due time, then moves each job to its next one. */
  private async fire(batch: Due[], nowMs: number): Promise<TickResult> {
    const { catalog } = this.opts;
    const result: TickResult = { filed: 0, skipped: 0 };
    const jobs = new Map((await catalog.jobs.getMany([...new Set(batch.map((d) => d.job))])).map((j) => [j.uuid, j]));
    interface Firing { due: Due; job: JobView; spec: Timespec; nextAt: number | undefined }
    const firing: Firing[] = [];
    const nexts = new Map<string, number | undefined>();
    for (const due of batch) {
      const job = jobs.get(due.job);
      // Deleted, paused or left without a schedule since the jobs were read.
      if (!job || job.paused || job.timespec === null) continue;
      const spec = this.timespec(job.timespec);
      if (this.specKey(job.timespec, job.runWindow) !== due.spec || !spec) {
        // The schedule changed since the jobs were read: start over from the catalog.
        this.dirty = true;
        continue;
      }
      // From now, not from the due time: after downtime, one catch-up run stands for all it missed.
      const memo = `${due.spec}\n${due.at}`;
      if (!nexts.has(memo)) nexts.set(memo, this.nextAfter(spec, Math.max(nowMs, due.at * 1000), job.runWindow));
      firing.push({ due, job, spec, nextAt: nexts.get(memo) });
    }

    const previous = await catalog.tasks.unfinishedBackups(firing.map((f) => f.job.uuid));
    const filed = await catalog.tasks.fileScheduledMany(firing.filter((f) => !previous.has(f.job.uuid)).map((f) => ({
      uuid: crypto.randomUUID(), owner: "system", requestedBy: "scheduler", op: "backup", jobUuid: f.job.uuid, archiveUuid: null,
      targetUuid: f.job.targetUuid, storeUuid: f.job.storeUuid, requestedAt: Math.floor(nowMs / 1000), dueAt: f.due.at,
      log: this.firstLine(f.job, f.due, nowMs, f.spec),
    })));
    const filedMs = this.clock.now();

    // Compare-and-set of every due time, one statement per (due time, schedule).
    const groups = new Map<string, Firing[]>();
    for (const f of firing) {
      const k = `${f.due.at}\n${f.due.spec}\n${f.nextAt}`;
      const group = groups.get(k);
      if (group) group.push(f);
      else groups.set(k, [f]);
    }
    const advanced = new Set<string>();
    for (const group of groups.values()) {
      const { due, nextAt } = group[0]!;
      const moved = await catalog.jobs.advanceDueMany(group.map((f) => f.job.uuid), { at: due.at, spec: due.spec },
        { at: nextAt ?? null, spec: nextAt === undefined ? null : due.spec });
      for (const uuid of moved) advanced.add(uuid);
    }

    for (const f of firing) {
      const prev = previous.get(f.job.uuid);
      if (filed.has(f.job.uuid)) {
        result.filed++;
        // How late the task row exists, measured where it is made (bench/scheduler.ts reads it).
        log.debug("filed a scheduled backup", { job: f.job.uuid, due: f.due.at, lateMs: filedMs - f.due.at * 1000 });
      } else if (prev && prev.dueAt !== f.due.at && advanced.has(f.job.uuid)) {
        // Whoever moved the due time past a skip records it, once. A task for this very
        // due time is not in its way: it is this run, filed by a daemon that died before advancing.
        result.skipped++;
        await this.recordSkip(f.job, f.due.at, nowMs, prev);
      }
      if (f.nextAt === undefined) continue;
      // Whoever advanced it, the catalog now says when the job is next due.
      const next = advanced.has(f.job.uuid) ? { job: f.job.uuid, at: f.nextAt, spec: f.due.spec } : await this.reread(f.job.uuid);
      if (next) this.heap.push(next);
    }
    return result;
  }

  /** Due times missed after a catch-up run's, by (schedule, due time): jobs sharing a schedule count once. */
  private missedCounts = new Map<string, number>();

  private firstLine(job: JobView, due: Due, nowMs: number, spec: Timespec): string {
    const dueAt = due.at;
    const schedule = this.opts.dev ? `"${job.timespec}", run every minute as SHIELD_MODE=DEV` : `"${job.timespec}"`;
    let line = `${formatUtc(Math.floor(nowMs / 1000))} filed by the scheduler for ${formatUtc(dueAt)} UTC (job "${job.name}", schedule ${schedule})`;
    // Missed due times after this one: the daemon was not running then. Counted only
    // when there is one (a due time is rarely late), and at most to MAX_MISSED.
    const memo = `${due.spec}\n${dueAt}\n${nowMs}`;
    let missed = this.missedCounts.get(memo);
    if (missed === undefined) {
      missed = 0;
      for (let at = this.nextAfter(spec, dueAt * 1000); at !== undefined && at * 1000 <= nowMs && missed < MAX_MISSED; at = this.nextAfter(spec, at * 1000)) missed++;
      if (this.missedCounts.size > 1000) this.missedCounts.clear();
      this.missedCounts.set(memo, missed);
    }
    if (missed) line += `; a catch-up run: the daemon was not running at ${missed >= MAX_MISSED ? `${MAX_MISSED} or more` : missed} later due time${missed === 1 ? "" : "s"}, which this run stands for`;
    return `${line}\n`;
  }

  /** The skip goes in the log of the run still in the way, where an operator looking at the job finds it. */
  private async recordSkip(job: JobView, dueAt: number, nowMs: number, previous: { uuid: string; status: string }): Promise<void> {
    const line = `${formatUtc(Math.floor(nowMs / 1000))} job "${job.name}" came due at ${formatUtc(dueAt)} UTC while this task was still ${previous.status}; that run was skipped (one backup per job at a time)\n`;
    await this.opts.catalog.tasks.appendLog(previous.uuid, line);
    log.warn("skipped a scheduled backup: the job's previous run has not finished", { job: job.uuid, due: formatUtc(dueAt), task: previous.uuid });
  }
}
