import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, ne, or, sql, type SQL } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import { isUniqueViolation, type Page, type TaskRow, type TaskStatus } from "./rows.ts";

export interface TaskFilter { status?: TaskStatus; job?: string; archive?: string; q?: string }

/** q as a LIKE pattern: its own % and _ match themselves. */
function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Priority of a task with no job (a restore of an archive whose job was deleted): the jobs' default. */
export const JOBLESS_PRIORITY = 50;

/** Operations that act on a target: at most one of them runs per target (a unique index guards it). */
export const TARGET_OPS = ["backup", "restore"] as const;

export type NewTask = Pick<TaskRow, "uuid" | "owner" | "op" | "jobUuid" | "archiveUuid" | "targetUuid" | "storeUuid" | "requestedAt">
  & Partial<Pick<TaskRow, "dueAt" | "log" | "requestedBy">>;

/** The daemon process that runs a task (made by src/supervisor/runner.ts). */
export interface Runner {
  /** Random per process start: two starts of one daemon are two runners. */
  id: string;
  host: string;
  pid: number;
  /** Which kernel boot and PID namespace `pid` belongs to; null where that cannot be known. */
  pidSpace: string | null;
}

/**
 * A running task of another runner: what recovery judges it by (not its log or the
 * rest of the row, read only for a task it takes over), and whether its heartbeat
 * is older than the grace (by the catalog's clock).
 */
export type ForeignTask = Pick<TaskRow, "uuid" | "runnerId" | "runnerHost" | "runnerPid" | "runnerPidSpace" | "heartbeatAt"> & { stale: boolean };

export function taskQueries({ db, t, dialect }: CatalogHandle) {
  const { tasks, jobs, targets } = t;
  const unfinished = inArray(tasks.status, ["pending", "running"]);
  // Heartbeats are written and judged by the catalog's clock, not each daemon's:
  // daemons on several machines sharing a catalog need not agree on the time.
  const dbNow: SQL<number> = dialect === "pg"
    ? sql`CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)`
    : sql`CAST(strftime('%s', 'now') AS INTEGER)`;
  const runnerColumns = (r: Runner) => ({ runnerId: r.id, runnerHost: r.host, runnerPid: r.pid, runnerPidSpace: r.pidSpace, heartbeatAt: dbNow });
  return {
    /** Newest first. */
    list(f: TaskFilter, page: Page): Promise<TaskRow[]> {
      const like = f.q === undefined ? undefined : likePattern(f.q);
      return db.select().from(tasks).where(and(
        f.status === undefined ? undefined : eq(tasks.status, f.status),
        f.job === undefined ? undefined : eq(tasks.jobUuid, f.job),
        f.archive === undefined ? undefined : eq(tasks.archiveUuid, f.archive),
        // The names are looked up once in the small jobs and targets tables (an
        // uncorrelated IN list); each task row then costs two set probes and a LIKE
        // on its one-line error, never its log. The walk goes newest first and
        // stops when the page is full.
        like === undefined ? undefined : or(
          sql`${tasks.jobUuid} IN (SELECT j.uuid FROM ${jobs} j WHERE lower(j.name) LIKE ${like} ESCAPE '\\')`,
          sql`${tasks.targetUuid} IN (SELECT g.uuid FROM ${targets} g WHERE lower(g.name) LIKE ${like} ESCAPE '\\')`,
          sql`lower(${tasks.error}) LIKE ${like} ESCAPE '\\'`,
        ),
      )).orderBy(desc(tasks.requestedAt), desc(tasks.uuid)).limit(page.limit).offset(page.offset);
    },
    async get(uuid: string): Promise<TaskRow | undefined> {
      return (await db.select().from(tasks).where(eq(tasks.uuid, uuid)))[0];
    },
    async create(row: NewTask): Promise<void> {
      await db.insert(tasks).values({ log: "", ...row, status: "pending" });
    },
    /**
     * Files the backup of a job for one due time, unless a task for that job and
     * due time exists already (the unique index tasks_job_due): filing twice, from
     * a retried tick or another daemon, is a no-op. True when this call filed it.
     */
    async fileScheduled(row: NewTask & { dueAt: number }): Promise<boolean> {
      const rows = await db.insert(tasks).values({ log: "", ...row, status: "pending" })
        .onConflictDoNothing({ target: [tasks.jobUuid, tasks.dueAt] }).returning({ uuid: tasks.uuid });
      return rows.length > 0;
    },
    /**
     * fileScheduled for many jobs in one statement (a burst of jobs due at once):
     * the job uuids whose task this call filed.
     */
    async fileScheduledMany(rows: (NewTask & { dueAt: number })[]): Promise<Set<string>> {
      if (!rows.length) return new Set();
      const filed = await db.insert(tasks).values(rows.map((r) => ({ log: "", ...r, status: "pending" as const })))
        .onConflictDoNothing({ target: [tasks.jobUuid, tasks.dueAt] }).returning({ job: tasks.jobUuid });
      return new Set(filed.map((r) => r.job!));
    },
    /** unfinishedBackup for many jobs: job uuid → its unfinished backup. */
    async unfinishedBackups(jobUuids: string[]): Promise<Map<string, Pick<TaskRow, "uuid" | "status" | "dueAt">>> {
      const out = new Map<string, Pick<TaskRow, "uuid" | "status" | "dueAt">>();
      if (!jobUuids.length) return out;
      const rows = await db.select({ uuid: tasks.uuid, status: tasks.status, dueAt: tasks.dueAt, job: tasks.jobUuid }).from(tasks)
        .where(and(inArray(tasks.jobUuid, jobUuids), eq(tasks.op, "backup"), unfinished));
      for (const r of rows) out.set(r.job!, { uuid: r.uuid, status: r.status, dueAt: r.dueAt });
      return out;
    },
    /** The job's backup that is still pending or running, if any: a new due time is skipped while it lasts. */
    async unfinishedBackup(jobUuid: string): Promise<Pick<TaskRow, "uuid" | "status"> | undefined> {
      return (await db.select({ uuid: tasks.uuid, status: tasks.status }).from(tasks)
        .where(and(eq(tasks.jobUuid, jobUuid), eq(tasks.op, "backup"), unfinished)).limit(1))[0];
    },
    /** A purge task of this archive still pending or running. */
    async unfinishedPurge(archiveUuid: string): Promise<boolean> {
      return (await db.select({ uuid: tasks.uuid }).from(tasks)
        .where(and(eq(tasks.archiveUuid, archiveUuid), eq(tasks.op, "purge"), unfinished)).limit(1)).length > 0;
    },
    /**
     * Cancels a task that has not finished. The status check is part of the
     * UPDATE, so a task that finishes meanwhile is not overwritten.
     */
    async cancel(uuid: string, now: number): Promise<boolean> {
      const rows = await db.update(tasks).set({ status: "canceled", stoppedAt: now })
        .where(and(eq(tasks.uuid, uuid), inArray(tasks.status, ["pending", "running"])))
        .returning({ uuid: tasks.uuid });
      return rows.length > 0;
    },

    // ---- the queue (used by the supervisor) ----

    /**
     * Takes the next pending task and marks it running: the highest priority first
     * (its job's priority, 0 highest; JOBLESS_PRIORITY without a job), then the
     * oldest. A backup or restore whose target already has one running is left for
     * later. Both rules hold across workers and daemons sharing a PostgreSQL
     * catalog: the status check is part of the UPDATE, and the unique index
     * tasks_one_running_per_target refuses a second running task on a target
     * (the loser of that race just looks again).
     */
    async claim(now: number, runner?: Runner): Promise<TaskRow | undefined> {
      // A store's max_tasks (0: none): its running tasks, of any kind, stay below it.
      // Checked in the claiming UPDATE itself, which SQLite (one writer) makes exact;
      // on PostgreSQL two daemons claiming at the same instant may each see room for
      // one more (no index can count), so there the limit may be passed by one briefly.
      const storeHasRoom = () => sql`(${tasks.storeUuid} IS NULL OR coalesce((SELECT s.max_tasks FROM stores s WHERE s.uuid = ${tasks.storeUuid}), 0) = 0
        OR (SELECT count(*) FROM tasks r WHERE r.status = 'running' AND r.store_uuid = ${tasks.storeUuid})
           < (SELECT s.max_tasks FROM stores s WHERE s.uuid = ${tasks.storeUuid}))`;
      const lost = new Set<string>();
      for (let attempt = 0; attempt < 50; attempt++) {
        const candidates = await db.select({ uuid: tasks.uuid }).from(tasks)
          .leftJoin(jobs, eq(jobs.uuid, tasks.jobUuid))
          .where(and(
            eq(tasks.status, "pending"),
            sql`(${tasks.op} NOT IN ('backup', 'restore') OR ${tasks.targetUuid} IS NULL OR NOT EXISTS (
              SELECT 1 FROM tasks r WHERE r.status = 'running' AND r.op IN ('backup', 'restore') AND r.target_uuid = ${tasks.targetUuid}))`,
            storeHasRoom(),
          ))
          .orderBy(sql`coalesce(${jobs.priority}, ${sql.raw(String(JOBLESS_PRIORITY))})`, asc(tasks.requestedAt), asc(tasks.uuid))
          .limit(lost.size + 1);
        const next = candidates.find((c) => !lost.has(c.uuid));
        if (!next) return undefined;
        try {
          // Without a runner (tests acting as a dead daemon) the task has no heartbeat: it is stale at once.
          const claimed = await db.update(tasks).set({ status: "running", startedAt: now, ...(runner ? runnerColumns(runner) : {}) })
            .where(and(eq(tasks.uuid, next.uuid), eq(tasks.status, "pending"), storeHasRoom())).returning();
          if (claimed[0]) return claimed[0];
          // Another worker took it first: look again.
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // Another worker started a task on the same target meanwhile: try the next candidate.
          lost.add(next.uuid);
        }
      }
      return undefined;
    },
    /**
     * Ends a running task; a task canceled meanwhile stays canceled. With `runnerId`,
     * only while that runner holds it: a daemon taken for dead, whose task another
     * daemon took over, does not overwrite that daemon's outcome. `error`: a failed
     * task's one-line reason (the task JSON's `error`).
     */
    async finish(uuid: string, status: "done" | "failed", now: number, archiveUuid?: string, runnerId?: string, error?: string | null): Promise<boolean> {
      const rows = await db.update(tasks).set({ status, stoppedAt: now, ...(archiveUuid ? { archiveUuid } : {}), error: status === "failed" ? error ?? null : null })
        .where(and(eq(tasks.uuid, uuid), eq(tasks.status, "running"), runnerId === undefined ? undefined : eq(tasks.runnerId, runnerId)))
        .returning({ uuid: tasks.uuid });
      return rows.length > 0;
    },
    async appendLog(uuid: string, text: string): Promise<void> {
      await db.update(tasks).set({ log: sql`${tasks.log} || ${text}` }).where(eq(tasks.uuid, uuid));
    },
    async setStoreKey(uuid: string, storeKey: string | null): Promise<void> {
      await db.update(tasks).set({ storeKey }).where(eq(tasks.uuid, uuid));
    },
    async status(uuid: string): Promise<TaskRow["status"] | undefined> {
      return (await db.select({ status: tasks.status }).from(tasks).where(eq(tasks.uuid, uuid)))[0]?.status;
    },
    /** The status of a task and the runner that holds it: a runner whose task another daemon took over stops it. */
    async holder(uuid: string): Promise<{ status: TaskRow["status"]; runnerId: string | null } | undefined> {
      return (await db.select({ status: tasks.status, runnerId: tasks.runnerId }).from(tasks).where(eq(tasks.uuid, uuid)))[0];
    },

    // ---- heartbeats and recovery (daemons sharing a catalog) ----

    /** Says that this runner still runs its running tasks: one UPDATE for all of them. The count of them. */
    async heartbeat(runnerId: string): Promise<number> {
      const rows = await db.update(tasks).set({ heartbeatAt: dbNow })
        .where(and(eq(tasks.runnerId, runnerId), eq(tasks.status, "running"))).returning({ uuid: tasks.uuid });
      return rows.length;
    },
    /**
     * The running tasks of every runner but this one, each marked stale when its
     * heartbeat is older than `graceS` seconds or missing (a task claimed before
     * heartbeats existed, found when the catalog was upgraded).
     */
    async foreignRunning(runnerId: string, graceS: number): Promise<ForeignTask[]> {
      const rows = await db.select({
        uuid: tasks.uuid, runnerId: tasks.runnerId, runnerHost: tasks.runnerHost, runnerPid: tasks.runnerPid,
        runnerPidSpace: tasks.runnerPidSpace, heartbeatAt: tasks.heartbeatAt,
        stale: sql<unknown>`CASE WHEN ${tasks.heartbeatAt} IS NULL OR ${tasks.heartbeatAt} < ${dbNow} - ${Math.floor(graceS)} THEN 1 ELSE 0 END`,
      }).from(tasks).where(and(eq(tasks.status, "running"), or(isNull(tasks.runnerId), ne(tasks.runnerId, runnerId))));
      return rows.map((r) => ({ ...r, stale: Number(r.stale) === 1 }));
    },
    /**
     * Makes `runner` the holder of a task another runner left, if that task is
     * still running and still as `seen` (same runner, same heartbeat): of several
     * daemons recovering at once exactly one wins, and a runner that was only
     * slow and has just beaten again keeps its task. The task as taken, or undefined.
     */
    async takeOver(seen: Pick<TaskRow, "uuid" | "runnerId" | "heartbeatAt">, runner: Runner): Promise<TaskRow | undefined> {
      const rows = await db.update(tasks).set(runnerColumns(runner)).where(and(
        eq(tasks.uuid, seen.uuid), eq(tasks.status, "running"),
        seen.runnerId === null ? isNull(tasks.runnerId) : eq(tasks.runnerId, seen.runnerId),
        seen.heartbeatAt === null ? isNull(tasks.heartbeatAt) : eq(tasks.heartbeatAt, seen.heartbeatAt),
      )).returning();
      return rows[0];
    },

    // ---- the audit trail ----

    /**
     * Removes finished tasks (and their logs) that stopped before `cutoff`, except
     * the backup of an archive that is still held: its log is the archive's history.
     */
    async deleteFinishedBefore(cutoff: number): Promise<number> {
      const rows = await db.delete(tasks).where(and(
        inArray(tasks.status, ["done", "failed", "canceled"]),
        isNotNull(tasks.stoppedAt), lt(tasks.stoppedAt, cutoff),
        sql`NOT EXISTS (SELECT 1 FROM archives a WHERE a.uuid = ${tasks.archiveUuid} AND a.status <> 'purged')`,
      )).returning({ uuid: tasks.uuid });
      return rows.length;
    },
  };
}
