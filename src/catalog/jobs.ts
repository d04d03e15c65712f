import { and, asc, count, eq, inArray, isNull } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import { NO_LIMIT, type JobRow, type OptionalPage } from "./rows.ts";

export type JobInput = Pick<JobRow, "name" | "summary" | "targetUuid" | "storeUuid" | "scheduleUuid" | "retentionUuid" | "priority">
  // The columns' defaults (zstd, no copies, any time) apply when left out.
  & Partial<Pick<JobRow, "compression" | "copies" | "runWindow">>;

export interface JobFilter {
  target?: string;
  store?: string;
  schedule?: string;
  retention?: string;
  paused?: boolean;
}

/** A job with the names and endpoints of what it joins, as the job JSON shows them. */
export interface JobView extends Omit<JobRow, "nextDueAt" | "nextDueSpec"> {
  targetName: string; targetPlugin: string; targetEndpoint: string; targetAgent: string;
  storeName: string; storePlugin: string; storeEndpoint: string;
  /** The limits (README "Limits") of the store and target, for the backup's pipeline. */
  storeBandwidth: number; targetBandwidth: number;
  /** Null for a job without a schedule (run by hand only). */
  scheduleName: string | null; timespec: string | null;
  retentionName: string; expiry: number;
}

/** What the scheduler needs of a job: little, so that reading 10,000 of them stays cheap. */
export interface JobScheduling {
  uuid: string;
  paused: boolean;
  timespec: string;
  nextDueAt: number | null;
  nextDueSpec: string | null;
  /** "HH:MM-HH:MM" or "" (scheduler/window.ts). */
  runWindow: string;
}

export function jobQueries({ db, t }: CatalogHandle) {
  const { jobs, targets, stores, schedules, retention } = t;
  const joined = () => db.select({
    uuid: jobs.uuid, name: jobs.name, summary: jobs.summary, priority: jobs.priority, paused: jobs.paused, compression: jobs.compression,
    copies: jobs.copies, runWindow: jobs.runWindow,
    createdAt: jobs.createdAt, targetUuid: jobs.targetUuid, storeUuid: jobs.storeUuid,
    scheduleUuid: jobs.scheduleUuid, retentionUuid: jobs.retentionUuid,
    targetName: targets.name, targetPlugin: targets.plugin, targetEndpoint: targets.endpoint, targetAgent: targets.agent,
    storeName: stores.name, storePlugin: stores.plugin, storeEndpoint: stores.endpoint,
    storeBandwidth: stores.bandwidth, targetBandwidth: targets.bandwidth,
    scheduleName: schedules.name, timespec: schedules.timespec,
    retentionName: retention.name, expiry: retention.expiry,
  }).from(jobs)
    .innerJoin(targets, eq(targets.uuid, jobs.targetUuid))
    .innerJoin(stores, eq(stores.uuid, jobs.storeUuid))
    // Left: a job may have no schedule (run by hand only).
    .leftJoin(schedules, eq(schedules.uuid, jobs.scheduleUuid))
    .innerJoin(retention, eq(retention.uuid, jobs.retentionUuid));

  return {
    /** By name (unique, so pages are stable); all jobs unless `page` bounds them. */
    async list(f: JobFilter = {}, page: OptionalPage = {}): Promise<JobView[]> {
      const q = joined().where(and(
        f.target === undefined ? undefined : eq(jobs.targetUuid, f.target),
        f.store === undefined ? undefined : eq(jobs.storeUuid, f.store),
        f.schedule === undefined ? undefined : eq(jobs.scheduleUuid, f.schedule),
        f.retention === undefined ? undefined : eq(jobs.retentionUuid, f.retention),
        f.paused === undefined ? undefined : eq(jobs.paused, f.paused),
      )).orderBy(asc(jobs.name));
      return page.limit === undefined && !page.offset ? q : q.limit(page.limit ?? NO_LIMIT).offset(page.offset ?? 0);
    },
    async get(uuid: string): Promise<JobView | undefined> {
      return (await joined().where(eq(jobs.uuid, uuid)))[0];
    },
    /** How many jobs there are. */
    async count(): Promise<number> {
      return Number((await db.select({ n: count() }).from(jobs))[0]?.n ?? 0);
    },
    /** Several jobs at once (the scheduler's burst of jobs due together). */
    getMany(uuids: string[]): Promise<JobView[]> {
      return uuids.length ? joined().where(inArray(jobs.uuid, uuids)) : Promise.resolve([]);
    },
    async byName(name: string): Promise<JobRow | undefined> {
      return (await db.select().from(jobs).where(eq(jobs.name, name)))[0];
    },
    async create(uuid: string, v: JobInput & { paused: boolean }, createdAt: number): Promise<void> {
      await db.insert(jobs).values({ ...v, uuid, createdAt });
    },
    async update(uuid: string, v: JobInput): Promise<boolean> {
      return (await db.update(jobs).set(v).where(eq(jobs.uuid, uuid)).returning({ uuid: jobs.uuid })).length > 0;
    },
    /**
     * Pausing forgets the next due time: a job unpaused later runs at its next due
     * time from then on, not once more for what it missed while paused.
     */
    async setPaused(uuid: string, paused: boolean): Promise<boolean> {
      return (await db.update(jobs).set({ paused, nextDueAt: null, nextDueSpec: null }).where(eq(jobs.uuid, uuid)).returning({ uuid: jobs.uuid })).length > 0;
    },

    // ---- the scheduler ----
    // Inner joins on purpose: a job without a schedule is never the scheduler's.

    scheduling(): Promise<JobScheduling[]> {
      return db.select({ uuid: jobs.uuid, paused: jobs.paused, timespec: schedules.timespec, nextDueAt: jobs.nextDueAt, nextDueSpec: jobs.nextDueSpec, runWindow: jobs.runWindow })
        .from(jobs).innerJoin(schedules, eq(schedules.uuid, jobs.scheduleUuid));
    },
    async schedulingOf(uuid: string): Promise<JobScheduling | undefined> {
      return (await db.select({ uuid: jobs.uuid, paused: jobs.paused, timespec: schedules.timespec, nextDueAt: jobs.nextDueAt, nextDueSpec: jobs.nextDueSpec, runWindow: jobs.runWindow })
        .from(jobs).innerJoin(schedules, eq(schedules.uuid, jobs.scheduleUuid)).where(eq(jobs.uuid, uuid)))[0];
    },
    /**
     * Compare-and-set of the job's next due time: it moves only if it still is
     * what the caller saw, so that of several daemons (or a retried tick) exactly
     * one advances it past a due time. True when this call moved it.
     */
    async advanceDue(uuid: string, from: { at: number | null; spec: string | null }, to: { at: number | null; spec: string | null }): Promise<boolean> {
      const rows = await db.update(jobs).set({ nextDueAt: to.at, nextDueSpec: to.spec })
        .where(and(
          eq(jobs.uuid, uuid),
          from.at === null ? isNull(jobs.nextDueAt) : eq(jobs.nextDueAt, from.at),
          from.spec === null ? isNull(jobs.nextDueSpec) : eq(jobs.nextDueSpec, from.spec),
        )).returning({ uuid: jobs.uuid });
      return rows.length > 0;
    },
    async delete(uuid: string): Promise<boolean> {
      return (await db.delete(jobs).where(eq(jobs.uuid, uuid)).returning({ uuid: jobs.uuid })).length > 0;
    },
    /** advanceDue for several jobs due at the same time on the same schedule: the uuids it moved. */
    async advanceDueMany(uuids: string[], from: { at: number; spec: string }, to: { at: number | null; spec: string | null }): Promise<Set<string>> {
      if (!uuids.length) return new Set();
      const rows = await db.update(jobs).set({ nextDueAt: to.at, nextDueSpec: to.spec })
        .where(and(inArray(jobs.uuid, uuids), eq(jobs.nextDueAt, from.at), eq(jobs.nextDueSpec, from.spec)))
        .returning({ uuid: jobs.uuid });
      return new Set(rows.map((r) => r.uuid));
    },
  };
}
