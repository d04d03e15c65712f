// Restore drills (issue 16): which jobs have one, when it is next due, and what each drill found.
import { and, desc, eq, inArray, isNotNull, lte, max } from "drizzle-orm";
import type { CatalogHandle, Tables } from "./open.ts";
import type { Page } from "./rows.ts";

export type DrillRow = Tables["drills"]["$inferSelect"];
export type DrillResultRow = Tables["drillResults"]["$inferSelect"];

export function drillQueries({ db, t }: CatalogHandle) {
  const d = t.drills;
  const r = t.drillResults;
  return {
    async get(jobUuid: string): Promise<DrillRow | undefined> {
      return (await db.select().from(d).where(eq(d.jobUuid, jobUuid)))[0];
    },
    async byScratchTarget(targetUuid: string): Promise<DrillRow | undefined> {
      return (await db.select().from(d).where(eq(d.scratchTargetUuid, targetUuid)))[0];
    },
    list(): Promise<DrillRow[]> {
      return db.select().from(d);
    },
    /** Creates or replaces the drill of a job. */
    async set(row: DrillRow): Promise<void> {
      await db.delete(d).where(eq(d.jobUuid, row.jobUuid));
      await db.insert(d).values(row);
    },
    async delete(jobUuid: string): Promise<boolean> {
      return (await db.delete(d).where(eq(d.jobUuid, jobUuid)).returning({ j: d.jobUuid })).length > 0;
    },
    due(now: number): Promise<DrillRow[]> {
      return db.select().from(d).where(and(isNotNull(d.nextDueAt), lte(d.nextDueAt, now)));
    },
    /** Compare-and-set, so that daemons sharing the catalog file a due drill once. */
    async advance(jobUuid: string, from: number | null, to: number | null): Promise<boolean> {
      const same = from === null ? undefined : eq(d.nextDueAt, from);
      return (await db.update(d).set({ nextDueAt: to }).where(and(eq(d.jobUuid, jobUuid), same)).returning({ j: d.jobUuid })).length > 0;
    },
    /** The uuid of the job's newest valid archive, the one a drill restores. */
    async newestArchive(jobUuid: string): Promise<string | undefined> {
      const a = t.archives;
      return (await db.select({ uuid: a.uuid }).from(a).where(and(eq(a.jobUuid, jobUuid), eq(a.status, "valid")))
        .orderBy(desc(a.takenAt), desc(a.uuid)).limit(1))[0]?.uuid;
    },
    async record(row: DrillResultRow): Promise<void> {
      await db.insert(r).values(row);
    },
    async last(jobUuid: string): Promise<DrillResultRow | undefined> {
      return (await db.select().from(r).where(eq(r.jobUuid, jobUuid)).orderBy(desc(r.finishedMs), desc(r.taskUuid)).limit(1))[0];
    },
    /**
     * For a page of jobs at once (GET /v1/jobs): their drills and last results, by job uuid, in
     * two queries. Without `jobUuids`, every job's: what a whole list shows, read alongside it.
     */
    async forJobs(jobUuids?: string[]): Promise<{ drills: Map<string, DrillRow>; last: Map<string, DrillResultRow> }> {
      if (jobUuids && !jobUuids.length) return { drills: new Map(), last: new Map() };
      // A long list (a whole GET /v1/jobs) reads every drill and picks in memory: drills are
      // few, and an IN list of 1,000 parameters costs more to send and plan than they do to read.
      const few = jobUuids !== undefined && jobUuids.length <= 500;
      const wanted = few || !jobUuids ? undefined : new Set(jobUuids);
      const keep = (job: string) => !wanted || wanted.has(job);
      const drills = await db.select().from(d).where(few ? inArray(d.jobUuid, jobUuids) : undefined);
      const latest = db.select({ job: r.jobUuid, at: max(r.finishedMs).as("at") }).from(r).where(few ? inArray(r.jobUuid, jobUuids) : undefined)
        .groupBy(r.jobUuid).as("latest");
      const rows = await db.select({ row: r }).from(r).innerJoin(latest, and(eq(r.jobUuid, latest.job), eq(r.finishedMs, latest.at)));
      const last = new Map<string, DrillResultRow>();
      for (const { row } of rows) if (!last.has(row.jobUuid) && keep(row.jobUuid)) last.set(row.jobUuid, row);
      return { drills: new Map(drills.filter((x) => keep(x.jobUuid)).map((x) => [x.jobUuid, x])), last };
    },
    history(jobUuid: string, page: Page): Promise<DrillResultRow[]> {
      return db.select().from(r).where(eq(r.jobUuid, jobUuid)).orderBy(desc(r.finishedMs), desc(r.taskUuid)).limit(page.limit).offset(page.offset);
    },
  };
}
