import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { Page, TaskRow, TaskStatus } from "./rows.ts";

export interface TaskFilter { status?: TaskStatus; job?: string; archive?: string }

export function taskQueries({ db, t }: CatalogHandle) {
  const { tasks } = t;
  return {
    /** Newest first. */
    list(f: TaskFilter, page: Page): Promise<TaskRow[]> {
      return db.select().from(tasks).where(and(
        f.status === undefined ? undefined : eq(tasks.status, f.status),
        f.job === undefined ? undefined : eq(tasks.jobUuid, f.job),
        f.archive === undefined ? undefined : eq(tasks.archiveUuid, f.archive),
      )).orderBy(desc(tasks.requestedAt), desc(tasks.uuid)).limit(page.limit).offset(page.offset);
    },
    async get(uuid: string): Promise<TaskRow | undefined> {
      return (await db.select().from(tasks).where(eq(tasks.uuid, uuid)))[0];
    },
    async create(row: Pick<TaskRow, "uuid" | "owner" | "op" | "jobUuid" | "archiveUuid" | "targetUuid" | "storeUuid" | "requestedAt">): Promise<void> {
      await db.insert(tasks).values({ ...row, status: "pending", log: "" });
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
     * Takes the oldest pending task and marks it running, atomically: the status
     * check is part of the UPDATE, so two workers (or two daemons sharing a
     * PostgreSQL catalog) never both get the same task.
     */
    async claim(now: number): Promise<TaskRow | undefined> {
      for (;;) {
        const next = (await db.select({ uuid: tasks.uuid }).from(tasks).where(eq(tasks.status, "pending"))
          .orderBy(asc(tasks.requestedAt), asc(tasks.uuid)).limit(1))[0];
        if (!next) return undefined;
        const claimed = await db.update(tasks).set({ status: "running", startedAt: now })
          .where(and(eq(tasks.uuid, next.uuid), eq(tasks.status, "pending"))).returning();
        if (claimed[0]) return claimed[0];
        // Another worker took it first: look again.
      }
    },
    /** Ends a running task; a task canceled meanwhile stays canceled. */
    async finish(uuid: string, status: "done" | "failed", now: number, archiveUuid?: string): Promise<boolean> {
      const rows = await db.update(tasks).set({ status, stoppedAt: now, ...(archiveUuid ? { archiveUuid } : {}) })
        .where(and(eq(tasks.uuid, uuid), eq(tasks.status, "running"))).returning({ uuid: tasks.uuid });
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
    /** Tasks left running by a daemon that died: they are failed at the next start. */
    listRunning(): Promise<TaskRow[]> {
      return db.select().from(tasks).where(eq(tasks.status, "running"));
    },
  };
}
