import { and, desc, eq, inArray } from "drizzle-orm";
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
  };
}
