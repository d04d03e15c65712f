// Job health and statistics: how each job's backups went, and what the stores
// hold. Every read here is one aggregate query for however many jobs, stores or
// targets there are (never one per row): each job's last run and last success from
// job_last_runs (0016_job_last_runs, kept by triggers on tasks), over the indexes of migration
// 0010_job_health (tasks_job_op_stopped for a job's runs) and 0012_archive_totals: the
// totals per store, status and target kept by triggers in archive_totals, and the
// bytes taken and purged over a window read from archives_taken and
// archives_status_purged alone (store and size are in them).
import { and, count, desc, eq, gte, inArray, isNotNull, min, sql, type SQL } from "drizzle-orm";
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
}

// A run is a backup that ended on its own: done or failed. Canceled ones are in the history only.
const FINISHED = ["done", "failed", "canceled"] as const;
// Past this many jobs a list's runs are read for every job and picked in memory:
// one plain scan costs less than a huge IN list.
const MAX_IN = 500;

/** What a store took in and lost to the purger on one UTC day (bytes). */
/** One store's day: archives taken (and their bytes: added), and bytes purged. */
export interface StoreDay { store: string; day: number; archives: number; added: number; purged: number }

/** Backups (of every job) that ended on one UTC day: how many, and how many failed. */
export interface RunDay { day: number; runs: number; failures: number }

const DAY = sql.raw("86400");

/** The figures of a job's runs in a window, as the catalog totals them. */
export interface WindowStats {
  runs: number;
  failures: number;
  /** Of the successful runs: seconds, and bytes stored (the mean of the middle two for an even count). */
  medianDurationS: number | null;
  medianSize: number | null;
  /** Least-squares slope of the successful runs' sizes over their end times: bytes per day. */
  sizeTrendPerDay: number | null;
  /** When the earliest of these runs ended (epoch seconds): the figures hold until the window's start passes it. */
  firstStoppedAt: number;
}

export function healthQueries({ db, t, dialect }: CatalogHandle) {
  const { tasks, archives, jobs } = t;
  // A query the builder cannot write (window functions over a CTE), in each dialect's driver.
  const all = async <R>(query: SQL): Promise<R[]> => (dialect === "pg"
    ? [...(await db.execute(query))] as R[]
    : (db as unknown as { all(q: SQL): R[] }).all(query));
  const num = (x: unknown) => (x === null || x === undefined ? 0 : Number(x));
  const runColumns = {
    task: tasks.uuid, job: tasks.jobUuid, status: tasks.status, requestedAt: tasks.requestedAt, startedAt: tasks.startedAt,
    stoppedAt: tasks.stoppedAt, error: tasks.error, archive: tasks.archiveUuid, size: archives.size,
  };
  const keep = (uuids?: string[]) => {
    const wanted = uuids && uuids.length > MAX_IN ? new Set(uuids) : undefined;
    return (r: { job: string | null }) => r.job !== null && (!wanted || wanted.has(r.job));
  };

  // job_last_runs, by kind (or both), of some jobs (or all), optionally of one status.
  const readLastRuns = async (kind?: "last" | "success", jobUuids?: string[], status?: TaskStatus): Promise<Map<string, Map<string, Run>>> => {
    const out = new Map<string, Map<string, Run>>([["last", new Map()], ["success", new Map()]]);
    if (jobUuids && !jobUuids.length) return out;
    const { jobLastRuns: r } = t;
    const rows = await db.select({
      kind: r.kind, task: r.taskUuid, job: r.jobUuid, status: r.status, requestedAt: r.requestedAt, startedAt: r.startedAt,
      stoppedAt: r.stoppedAt, error: r.error, archive: r.archiveUuid, size: r.size,
    }).from(r).where(and(
      kind ? eq(r.kind, kind) : undefined,
      status ? eq(r.status, status) : undefined,
      jobUuids && jobUuids.length <= MAX_IN ? inArray(r.jobUuid, jobUuids) : undefined,
    ));
    const wanted = keep(jobUuids);
    for (const { kind: k, ...run } of rows) {
      if (!wanted(run)) continue;
      out.get(k)!.set(run.job, { ...run, size: run.size === null ? null : Number(run.size) });
    }
    return out;
  };

  return {
    /**
     * The last run of each job (of `jobs`, or of all): job uuid → run. Jobs that
     * never ran are absent. `succeeded`: the last successful run instead. Rows of
     * job_last_runs (migration 0016), which triggers on tasks keep as runs end, are
     * pruned or their jobs deleted: one row per job, no seek into tasks.
     */
    async lastRuns(jobUuids?: string[], succeeded = false): Promise<Map<string, Run>> {
      return (await readLastRuns(succeeded ? "success" : "last", jobUuids)).get(succeeded ? "success" : "last")!;
    },

    /** Both at once (what /metrics shows): each job's last run and last successful run, in one read. */
    async lastAndSucceeded(): Promise<{ last: Map<string, Run>; succeeded: Map<string, Run> }> {
      const both = await readLastRuns(undefined, undefined);
      return { last: both.get("last")!, succeeded: both.get("success")! };
    },

    /** The jobs whose last run failed (what statistics lists as failing): job uuid → run. */
    async failedLastRuns(): Promise<Map<string, Run>> {
      return (await readLastRuns("last", undefined, "failed")).get("last")!;
    },

    /**
     * The figures of each job's runs that ended at or after `since` (of `jobs`, or
     * of all): job uuid → figures; jobs without runs are absent. Aggregated by the
     * catalog, medians too (window functions, in both dialects): a list of jobs
     * never moves its runs into memory.
     */
    async windowStats(since: number, jobUuids?: string[]): Promise<Map<string, WindowStats>> {
      const out = new Map<string, WindowStats>();
      if (jobUuids && !jobUuids.length) return out;
      const only = jobUuids && jobUuids.length <= MAX_IN ? sql`AND t.job_uuid IN (${sql.join(jobUuids.map((u) => sql`${u}`), sql`, `)})` : sql``;
      const from = sql`CAST(${since} AS BIGINT)`;
      // x: days since the window's start, for the least-squares slope of the sizes.
      const x = sql`(CAST(w.stopped - ${from} AS DOUBLE PRECISION) / 86400)`;
      const sized = sql`w.status = 'done' AND w.size IS NOT NULL`;
      const query = sql`WITH w AS (
          SELECT t.job_uuid AS job, t.status AS status, t.started_at AS started, t.stopped_at AS stopped, a.size AS size
          FROM tasks t LEFT JOIN archives a ON a.uuid = t.archive_uuid
          WHERE t.op = 'backup' AND t.status IN ('done', 'failed') AND t.stopped_at >= ${from} AND t.job_uuid IS NOT NULL ${only}
        ), agg AS (
          SELECT w.job AS job, count(*) AS runs, min(w.stopped) AS first_stopped, sum(CASE WHEN w.status = 'failed' THEN 1 ELSE 0 END) AS failures,
            sum(CASE WHEN ${sized} THEN 1 ELSE 0 END) AS n,
            sum(CASE WHEN ${sized} THEN ${x} ELSE 0 END) AS sx,
            sum(CASE WHEN ${sized} THEN CAST(w.size AS DOUBLE PRECISION) ELSE 0 END) AS sy,
            sum(CASE WHEN ${sized} THEN ${x} * CAST(w.size AS DOUBLE PRECISION) ELSE 0 END) AS sxy,
            sum(CASE WHEN ${sized} THEN ${x} * ${x} ELSE 0 END) AS sxx
          FROM w GROUP BY w.job
        ), d AS (
          SELECT w.job AS job, w.stopped - w.started AS v,
            row_number() OVER (PARTITION BY w.job ORDER BY w.stopped - w.started) AS rn, count(*) OVER (PARTITION BY w.job) AS c
          FROM w WHERE w.status = 'done' AND w.started IS NOT NULL
        ), s AS (
          SELECT w.job AS job, w.size AS v, row_number() OVER (PARTITION BY w.job ORDER BY w.size) AS rn, count(*) OVER (PARTITION BY w.job) AS c
          FROM w WHERE ${sized}
        ), md AS (
          SELECT d.job AS job, avg(d.v) AS m FROM d WHERE d.rn IN ((d.c + 1) / 2, (d.c + 2) / 2) GROUP BY d.job
        ), ms AS (
          SELECT s.job AS job, avg(s.v) AS m FROM s WHERE s.rn IN ((s.c + 1) / 2, (s.c + 2) / 2) GROUP BY s.job
        )
        SELECT agg.job AS job, agg.runs AS runs, agg.first_stopped AS first_stopped, agg.failures AS failures, agg.n AS n, agg.sx AS sx, agg.sy AS sy, agg.sxy AS sxy, agg.sxx AS sxx,
          md.m AS median_duration, ms.m AS median_size
        FROM agg LEFT JOIN md ON md.job = agg.job LEFT JOIN ms ON ms.job = agg.job`;
      const wanted = jobUuids && jobUuids.length > MAX_IN ? new Set(jobUuids) : undefined;
      for (const r of await all<Record<string, unknown>>(query)) {
        const job = String(r.job);
        if (wanted && !wanted.has(job)) continue;
        const n = num(r.n), sx = num(r.sx), sy = num(r.sy), sxy = num(r.sxy), sxx = num(r.sxx);
        const den = n * sxx - sx * sx;
        out.set(job, {
          runs: num(r.runs), failures: num(r.failures), firstStoppedAt: num(r.first_stopped),
          medianDurationS: r.median_duration === null ? null : Number(r.median_duration),
          medianSize: r.median_size === null ? null : Number(r.median_size),
          // Bytes per day; none under two sized runs, or when they all ended at once.
          sizeTrendPerDay: n < 2 || Math.abs(den) < 1e-9 ? null : Math.round((n * sxy - sx * sy) / den),
        });
      }
      return out;
    },

    /** A job's finished backups (canceled ones too), newest first. */
    async history(jobUuid: string, page: Page): Promise<Run[]> {
      const rows = await db.select(runColumns).from(tasks).leftJoin(archives, eq(archives.uuid, tasks.archiveUuid))
        .where(and(eq(tasks.jobUuid, jobUuid), eq(tasks.op, "backup"), inArray(tasks.status, [...FINISHED]), isNotNull(tasks.stoppedAt)))
        .orderBy(desc(tasks.stoppedAt), desc(tasks.uuid)).limit(page.limit).offset(page.offset);
      return (rows as Run[]).map((r) => ({ ...r, size: r.size === null ? null : Number(r.size) }));
    },

    /**
     * Every archive row, totalled by store, status and target: the rows of
     * archive_totals, which triggers on archives keep (migration 0012), so a few
     * dozen rows rather than every archive ever taken.
     */
    async archiveTotals(): Promise<ArchiveTotal[]> {
      const { archiveTotals: at } = t;
      const rows = await db.select({ store: at.storeUuid, status: at.status, target: at.targetUuid, archives: at.archives, bytes: at.bytes })
        .from(at).where(sql`${at.archives} <> 0`);
      return rows.map((r) => ({ ...r, archives: num(r.archives), bytes: num(r.bytes) }));
    },

    /** Archives taken at or after `since`, whatever became of them since, per store: store uuid → count and bytes (archives_taken alone). */
    /** When each target's newest held (not purged) archive was taken: target uuid → epoch seconds. One backward seek of archives_target_taken per target. */
    async lastTaken(): Promise<Map<string, number>> {
      const rows = await all<{ target: string; at: unknown }>(sql`SELECT g.target_uuid AS target,
          (SELECT a.taken_at FROM archives a WHERE a.target_uuid = g.target_uuid AND a.status <> 'purged' ORDER BY a.taken_at DESC LIMIT 1) AS at
        FROM (SELECT DISTINCT target_uuid FROM archive_totals WHERE status <> 'purged' AND archives > 0) g`);
      return new Map(rows.flatMap((r) => (r.at === null || r.at === undefined ? [] : [[String(r.target), Number(r.at)] as [string, number]])));
    },

    /** Bytes purged from each store at or after `since`: store uuid → bytes. */
    /**
     * Bytes each store took in (archives taken, whatever became of them) and
     * bytes purged from it, per UTC day (days since the epoch) from `since` on: what
     * a store's used space over time is rebuilt from, backwards from its total now.
     * Two grouped range scans: archives_taken and archives_status_purged.
     */
    async storeDays(since: number): Promise<StoreDay[]> {
      // Grouped by day first: SQLite (Shield never runs ANALYZE) would rather walk
      // archives_store_taken in the GROUP BY's order and read every archive row. Told which index.
      const taken = dialect === "pg" ? sql`archives` : sql`archives INDEXED BY archives_taken`;
      const [added, purged] = await Promise.all([
        all<{ store: string; day: unknown; archives: unknown; bytes: unknown }>(sql`SELECT taken_at / ${DAY} AS day, store_uuid AS store,
            count(*) AS archives, sum(coalesce(size, 0)) AS bytes FROM ${taken} WHERE taken_at >= ${since} GROUP BY 1, 2`),
        all<{ store: string; day: unknown; bytes: unknown }>(sql`SELECT purged_at / ${DAY} AS day, store_uuid AS store,
            sum(coalesce(size, 0)) AS bytes FROM archives WHERE status = 'purged' AND purged_at >= ${since} GROUP BY 1, 2`),
      ]);
      const out = new Map<string, StoreDay>();
      const at = (store: string, day: number) => {
        const key = `${store} ${day}`;
        let d = out.get(key);
        if (!d) out.set(key, (d = { store, day, archives: 0, added: 0, purged: 0 }));
        return d;
      };
      for (const r of added) {
        const d = at(String(r.store), num(r.day));
        d.archives += num(r.archives);
        d.added += num(r.bytes);
      }
      for (const r of purged) at(String(r.store), num(r.day)).purged += num(r.bytes);
      return [...out.values()];
    },

    /** Backups that ended (done or failed) per UTC day from `since` on; one range scan of tasks_op_stopped. */
    async runDays(since: number): Promise<RunDay[]> {
      const day = sql<number>`${tasks.stoppedAt} / ${DAY}`;
      const rows = await db.select({ day, runs: count(), failures: sql<number>`sum(CASE WHEN ${tasks.status} = 'failed' THEN 1 ELSE 0 END)` })
        .from(tasks).where(and(eq(tasks.op, "backup"), gte(tasks.stoppedAt, since), inArray(tasks.status, ["done", "failed"])))
        .groupBy(day);
      return rows.map((r) => ({ day: num(r.day), runs: num(r.runs), failures: num(r.failures) })).sort((a, b) => a.day - b.day);
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
