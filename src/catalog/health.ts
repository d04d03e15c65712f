// Job health and statistics: how each job's backups went, and what the stores
// hold. Every read here is one aggregate query for however many jobs, stores or
// targets there are (never one per row), over the indexes of migration
// 0005_job_health: tasks_job_op_stopped for a job's runs, archives_store_status_target
// for the totals (read from the index alone: size and taken_at are in it).
import { and, asc, count, desc, eq, gte, inArray, isNotNull, min, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { Page, TaskStatus } from "./rows.ts";

/** A finished backup of a job, as its health and history show it. */
export interface Run {
  task: string;
  job: string;
  status: TaskStatus;
  requestedAt: number;
  startedAt: number | null;
  stoppedAt: number;
  error: string | null;
  archive: string | null;
  /** Bytes stored (the archive's size); null for a failed run. */
  size: number | null;
}

/** Archives grouped by store, status and target: what statistics and metrics total up. */
export interface ArchiveTotal {
  store: string;
  status: string;
  target: string;
  archives: number;
  bytes: number;
  /** Of them, those taken at or after the window's start. */
  addedArchives: number;
  addedBytes: number;
  lastTakenAt: number | null;
}

// A run is a backup that ended on its own: done or failed. Canceled ones are in the history only.
const ENDED = ["done", "failed"] as const;
const FINISHED = ["done", "failed", "canceled"] as const;
// Past this many jobs a list's runs are read for every job and picked in memory:
// one plain scan costs less than a huge IN list.
const MAX_IN = 500;

export function healthQueries({ db, t }: CatalogHandle) {
  const { tasks, archives, jobs } = t;
  const num = (x: unknown) => (x === null || x === undefined ? 0 : Number(x));
  const runColumns = {
    task: tasks.uuid, job: tasks.jobUuid, status: tasks.status, requestedAt: tasks.requestedAt, startedAt: tasks.startedAt,
    stoppedAt: tasks.stoppedAt, error: tasks.error, archive: tasks.archiveUuid, size: archives.size,
  };
  const jobFilter = (uuids?: string[]) => (uuids && uuids.length <= MAX_IN ? inArray(tasks.jobUuid, uuids) : undefined);
  const keep = (uuids?: string[]) => {
    const wanted = uuids && uuids.length > MAX_IN ? new Set(uuids) : undefined;
    return (r: { job: string | null }) => r.job !== null && (!wanted || wanted.has(r.job));
  };

  return {
    /**
     * The last run of each job (of `jobs`, or of all): job uuid → run. Jobs that
     * never ran are absent. `succeeded`: the last successful run instead.
     */
    async lastRuns(jobUuids?: string[], succeeded = false): Promise<Map<string, Run>> {
      const out = new Map<string, Run>();
      if (jobUuids && !jobUuids.length) return out;
      const statuses = succeeded ? ["done" as const] : [...ENDED];
      const latest = db.select({ job: tasks.jobUuid, at: sql<number>`max(${tasks.stoppedAt})`.as("last_at") }).from(tasks)
        .where(and(eq(tasks.op, "backup"), inArray(tasks.status, statuses), isNotNull(tasks.jobUuid), jobFilter(jobUuids)))
        .groupBy(tasks.jobUuid).as("latest");
      const rows = await db.select(runColumns).from(tasks)
        .innerJoin(latest, and(eq(latest.job, tasks.jobUuid), eq(tasks.stoppedAt, latest.at)))
        .leftJoin(archives, eq(archives.uuid, tasks.archiveUuid))
        .where(and(eq(tasks.op, "backup"), inArray(tasks.status, statuses)));
      const wanted = keep(jobUuids);
      for (const r of rows as Run[]) {
        if (!wanted(r)) continue;
        // Two runs ending in the same second: either is "the last"; the greater uuid, so every read agrees.
        const seen = out.get(r.job);
        if (!seen || r.task > seen.task) out.set(r.job, { ...r, size: r.size === null ? null : Number(r.size) });
      }
      return out;
    },

    /** Every run (of `jobs`, or of all) that ended at or after `since`, oldest first. */
    async runsSince(since: number, jobUuids?: string[]): Promise<Run[]> {
      if (jobUuids && !jobUuids.length) return [];
      const rows = await db.select(runColumns).from(tasks).leftJoin(archives, eq(archives.uuid, tasks.archiveUuid))
        .where(and(eq(tasks.op, "backup"), inArray(tasks.status, [...ENDED]), gte(tasks.stoppedAt, since), isNotNull(tasks.jobUuid), jobFilter(jobUuids)))
        .orderBy(asc(tasks.stoppedAt));
      const wanted = keep(jobUuids);
      return (rows as Run[]).filter(wanted).map((r) => ({ ...r, size: r.size === null ? null : Number(r.size) }));
    },

    /** A job's finished backups (canceled ones too), newest first. */
    async history(jobUuid: string, page: Page): Promise<Run[]> {
      const rows = await db.select(runColumns).from(tasks).leftJoin(archives, eq(archives.uuid, tasks.archiveUuid))
        .where(and(eq(tasks.jobUuid, jobUuid), eq(tasks.op, "backup"), inArray(tasks.status, [...FINISHED]), isNotNull(tasks.stoppedAt)))
        .orderBy(desc(tasks.stoppedAt), desc(tasks.uuid)).limit(page.limit).offset(page.offset);
      return (rows as Run[]).map((r) => ({ ...r, size: r.size === null ? null : Number(r.size) }));
    },

    /** Every archive row, totalled by store, status and target (one scan of one index). */
    async archiveTotals(since: number): Promise<ArchiveTotal[]> {
      const recent = sql`${archives.takenAt} >= ${since}`;
      const rows = await db.select({
        store: archives.storeUuid, status: archives.status, target: archives.targetUuid,
        archives: count(), bytes: sql<number>`sum(coalesce(${archives.size}, 0))`,
        addedArchives: sql<number>`sum(CASE WHEN ${recent} THEN 1 ELSE 0 END)`,
        addedBytes: sql<number>`sum(CASE WHEN ${recent} THEN coalesce(${archives.size}, 0) ELSE 0 END)`,
        lastTakenAt: sql<number | null>`max(${archives.takenAt})`,
      }).from(archives).groupBy(archives.storeUuid, archives.status, archives.targetUuid);
      return rows.map((r) => ({
        ...r, archives: num(r.archives), bytes: num(r.bytes), addedArchives: num(r.addedArchives), addedBytes: num(r.addedBytes),
        lastTakenAt: r.lastTakenAt === null ? null : Number(r.lastTakenAt),
      }));
    },

    /** Bytes purged from each store at or after `since`: store uuid → bytes. */
    async purgedSince(since: number): Promise<Map<string, number>> {
      const rows = await db.select({ store: archives.storeUuid, bytes: sql<number>`sum(coalesce(${archives.size}, 0))` }).from(archives)
        .where(and(eq(archives.status, "purged"), gte(archives.purgedAt, since))).groupBy(archives.storeUuid);
      return new Map(rows.map((r) => [r.store, num(r.bytes)]));
    },

    /** How many tasks there are of each status. */
    async taskCounts(): Promise<Map<TaskStatus, number>> {
      const rows = await db.select({ status: tasks.status, n: count() }).from(tasks).groupBy(tasks.status);
      return new Map(rows.map((r) => [r.status, num(r.n)]));
    },

    /**
     * The earliest next due time of the unpaused jobs (epoch seconds), or null: the
     * scheduler moves it on as it files each run, so one far in the past is a
     * scheduler that has fallen behind.
     */
    async earliestDue(): Promise<number | null> {
      const rows = await db.select({ at: min(jobs.nextDueAt) }).from(jobs).where(eq(jobs.paused, false));
      const at = rows[0]?.at;
      return at === null || at === undefined ? null : Number(at);
    },
  };
}
