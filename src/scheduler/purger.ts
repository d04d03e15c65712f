// The retention purger: archives expire at taken_at + their policy's expiry unless
// pinned, and for jobs whose policy has GFS rules only once no rule keeps them
// either (retention.ts decides; jobVerdicts is what both the purger and the preview
// ask, so they agree). The purger marks them expired and files a `purge` task
// (owned by `system`) for each, which the supervisor runs (store `purge`, then the
// archive is marked purged). A failed purge leaves the archive purge_failed with
// the store's words and a next attempt time (backing off from 1 minute to 6 hours);
// the purger files the next attempt when that time comes. Copies in other stores
// (archive_copies) expire by their own policy and are purged by `purge_copy` tasks. Purged archive rows and
// old task logs are kept for the audit period, then removed.
import type { Catalog, RetentionRow } from "../catalog/index.ts";
import { describeError, log } from "../log.ts";
import { systemClock, type Clock } from "./clock.ts";
import { decide, toExpire, type RetentionRules, type Verdict } from "./retention.ts";
import { daemonZone } from "./zone.ts";

/** A policy row's GFS rules. */
export function rulesOf(p: RetentionRow): RetentionRules {
  return {
    keepLast: p.keepLast, keepHourly: p.keepHourly, keepDaily: p.keepDaily, keepWeekly: p.keepWeekly,
    keepMonthly: p.keepMonthly, keepYearly: p.keepYearly, keepWithin: p.keepWithin,
  };
}

/** The verdict of `rules` on each valid archive of a job now (epoch seconds), newest first. */
export async function jobVerdicts(catalog: Catalog, jobUuid: string, rules: RetentionRules, now: number, zone = daemonZone()): Promise<Verdict[]> {
  return decide(await catalog.archives.retainedOf(jobUuid), rules, now, zone);
}

export const DEFAULT_AUDIT_RETENTION_S = 90 * 86400;

export interface PurgerOptions {
  catalog: Catalog;
  clock?: Clock;
  /** How often to look for expired archives (ms); DELETE /v1/archive/:uuid wakes it at once. */
  everyMs?: number;
  /** Purged archive rows and finished tasks older than this are removed (seconds). */
  auditRetentionS?: number;
  /** Called after purge tasks were filed: the supervisor picks them up at once. */
  onFiled?: () => void;
  /** The zone GFS periods are read in; the daemon's (TZ) unless a test says otherwise. */
  zone?: () => string;
}

export interface PurgeTickResult { expired: number; filed: number; removedArchives: number; removedTasks: number; removedAuditEntries: number }

// A purge taken but whose task was never filed (the daemon died in between) is retried after this.
const LEASE_S = 600;
// Archives handled per pass; a longer backlog continues on the next pass, right away.
const BATCH = 200;
// The audit trail is trimmed at most this often: it is a slow delete, and nothing is in a hurry.
const TRIM_EVERY_MS = 3600_000;

export class Purger {
  private readonly clock: Clock;
  private stopped = false;
  private wake = new AbortController();
  private loop: Promise<void> | undefined;
  private lastTrim = -Infinity;
  private more = false;

  constructor(private readonly opts: PurgerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.loop = this.run();
  }

  /** An archive was deleted (expired now): purge it without waiting for the next pass. */
  nudge(): void {
    this.more = true;
    this.wake.abort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const every = this.opts.everyMs ?? 60_000;
    while (!this.stopped) {
      this.more = false;
      try {
        await this.tick();
      } catch (err) {
        log.error("the retention purger cannot reach the catalog; it tries again shortly", describeError(err));
      }
      if (this.stopped || this.more) continue;
      this.wake = new AbortController();
      await this.clock.sleep(every, this.wake.signal);
    }
  }

  /** Jobs whose policy has GFS rules: each job's archives are decided together. */
  private async expireByRules(now: number): Promise<number> {
    const { catalog } = this.opts;
    const zone = (this.opts.zone ?? daemonZone)();
    let expired = 0;
    for (const { jobUuid, policy } of await catalog.retentionRules.jobsWithRules()) {
      const chosen = toExpire(await jobVerdicts(catalog, jobUuid, rulesOf(policy), now, zone));
      if (!chosen.length) continue;
      const n = await catalog.archives.expireChosen(chosen.map((a) => a.uuid), now);
      if (n) log.info("expired archives no retention rule keeps", { job: jobUuid, policy: policy.name, count: n });
      expired += n;
    }
    return expired;
  }

  /** One pass: expire what is due, file purges (first attempts and due retries), trim the audit trail. */
  async tick(): Promise<PurgeTickResult> {
    const { catalog } = this.opts;
    const nowMs = this.clock.now();
    const now = Math.floor(nowMs / 1000);
    const result: PurgeTickResult = { expired: 0, filed: 0, removedArchives: 0, removedTasks: 0, removedAuditEntries: 0 };
    result.expired = await catalog.archives.expireDue(now);
    result.expired += await this.expireByRules(now);
    const due = await catalog.archives.purgeDue(now, BATCH);
    for (const a of due) {
      if (!(await catalog.archives.takePurge(a.uuid, now, LEASE_S))) continue;
      await catalog.tasks.create({
        uuid: crypto.randomUUID(), owner: "system", requestedBy: "purger", op: "purge", archiveUuid: a.uuid, jobUuid: a.jobUuid,
        targetUuid: a.targetUuid, storeUuid: a.storeUuid, requestedAt: now,
      });
      result.filed++;
    }
    if (due.length === BATCH && result.filed) this.more = true;
    // Copies in other stores expire by their own policy (set when copied), and are purged the same way.
    result.expired += await catalog.copies.expireDue(now);
    const copies = await catalog.copies.takePurges(now, LEASE_S, BATCH);
    for (const c of copies) {
      await catalog.tasks.create({
        uuid: crypto.randomUUID(), owner: "system", requestedBy: "purger", op: "purge_copy", archiveUuid: c.archiveUuid, jobUuid: null,
        targetUuid: null, storeUuid: c.storeUuid, requestedAt: now,
      });
      result.filed++;
    }
    if (copies.length === BATCH) this.more = true;
    if (result.filed) {
      log.info("filed purge tasks for expired archives", { count: result.filed });
      this.opts.onFiled?.();
    }
    if (nowMs - this.lastTrim >= TRIM_EVERY_MS) {
      this.lastTrim = nowMs;
      const cutoff = now - (this.opts.auditRetentionS ?? DEFAULT_AUDIT_RETENTION_S);
      result.removedArchives = await catalog.archives.deletePurgedBefore(cutoff);
      if (result.removedArchives) await catalog.archiveObjects.deleteOrphaned();
      result.removedTasks = await catalog.tasks.deleteFinishedBefore(cutoff);
      result.removedAuditEntries = await catalog.audit.deleteBefore(cutoff);
      if (result.removedArchives || result.removedTasks || result.removedAuditEntries) {
        log.info("removed audit records past the audit period", { archives: result.removedArchives, tasks: result.removedTasks, audit_entries: result.removedAuditEntries });
      }
    }
    return result;
  }
}
