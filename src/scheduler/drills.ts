// Files restore drills when due (issue 16). Each drill has its own schedule; its
// next due time lives on its row and is advanced with a compare-and-set before
// the task is filed, so daemons sharing the catalog file a drill once. (A daemon
// dying between the two skips that one drill; the next comes on schedule.)
// Drill tasks carry no due_at: the (job, due_at) uniqueness is the backups'.
import { nowSeconds, type Catalog } from "../catalog/index.ts";
import { describeError, log } from "../log.ts";
import { daemonZone, parseTimespec } from "./timespec.ts";

export interface DrillSchedulerOptions {
  catalog: Catalog;
  onFiled?: () => void;
  /** How often to look (ms). */
  everyMs?: number;
}

export class DrillScheduler {
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly opts: DrillSchedulerOptions) {}

  start(): void {
    this.timer = setInterval(() => this.nudge(), this.opts.everyMs ?? 15_000);
    this.nudge();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  nudge(): void {
    this.ticking ??= this.tick().catch((err) => log.error("cannot file due drills", describeError(err))).finally(() => { this.ticking = undefined; });
  }

  private async tick(): Promise<void> {
    const { catalog } = this.opts;
    const now = nowSeconds();
    const zone = daemonZone();
    for (const drill of await catalog.drills.list()) {
      const job = await catalog.jobs.get(drill.jobUuid);
      const schedule = await catalog.schedules.get(drill.scheduleUuid);
      // A deleted job's drill goes with it (drills have no foreign key): its scratch target is free again.
      if (!job) { await catalog.drills.delete(drill.jobUuid); continue; }
      if (!schedule) continue;
      let next: number | null = null;
      try {
        const at = parseTimespec(schedule.timespec).next(new Date(Math.max(now, drill.nextDueAt ?? 0) * 1000), zone);
        next = at ? Math.floor(at.getTime() / 1000) : null;
      } catch { /* a schedule that no longer parses drills no more */ }
      if (drill.nextDueAt === null) {
        if (next !== null) await catalog.drills.advance(drill.jobUuid, null, next);
        continue;
      }
      if (drill.nextDueAt > now) continue;
      if (!(await catalog.drills.advance(drill.jobUuid, drill.nextDueAt, next))) continue;
      if (job.paused) continue;
      await catalog.tasks.create({
        uuid: crypto.randomUUID(), owner: "system", requestedBy: "drills", op: "drill", jobUuid: job.uuid,
        targetUuid: drill.scratchTargetUuid, storeUuid: job.storeUuid, archiveUuid: null, requestedAt: now,
      });
      log.info("filed a restore drill", { job: job.name });
      this.opts.onFiled?.();
    }
  }
}
