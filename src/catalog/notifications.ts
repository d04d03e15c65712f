// Notification channels and the deliveries owed to them (issue 16).
import { and, asc, desc, eq, lte, or, isNull, inArray } from "drizzle-orm";
import type { CatalogHandle, Tables } from "./open.ts";
import { isUniqueViolation, type Page } from "./rows.ts";

export type ChannelRow = Tables["notificationChannels"]["$inferSelect"];
export type DeliveryRow = Tables["notificationDeliveries"]["$inferSelect"];
export type NewDelivery = Omit<DeliveryRow, "status" | "attempts" | "lastError" | "deliveredAt">;
export interface DeliveryFilter { status?: DeliveryRow["status"]; channel?: string; task?: string }

export function notificationQueries({ db, t }: CatalogHandle) {
  const ch = t.notificationChannels;
  const dl = t.notificationDeliveries;
  return {
    channels: {
      list(): Promise<ChannelRow[]> {
        return db.select().from(ch).orderBy(asc(ch.name));
      },
      async get(uuid: string): Promise<ChannelRow | undefined> {
        return (await db.select().from(ch).where(eq(ch.uuid, uuid)))[0];
      },
      async create(row: ChannelRow): Promise<void> {
        await db.insert(ch).values(row);
      },
      async update(uuid: string, v: Partial<Omit<ChannelRow, "uuid" | "createdAt">>): Promise<boolean> {
        return (await db.update(ch).set(v).where(eq(ch.uuid, uuid)).returning({ uuid: ch.uuid })).length > 0;
      },
      /** Its deliveries go with it: nothing is owed to a channel that is gone. */
      async delete(uuid: string): Promise<boolean> {
        await db.delete(dl).where(eq(dl.channelUuid, uuid));
        return (await db.delete(ch).where(eq(ch.uuid, uuid)).returning({ uuid: ch.uuid })).length > 0;
      },
    },
    deliveries: {
      /**
       * Files a delivery; false when this channel was already told of this event of
       * this task (the unique index), so an outcome is told once whoever files it.
       */
      async file(row: NewDelivery): Promise<boolean> {
        try {
          await db.insert(dl).values({ ...row, status: "pending", attempts: 0 });
          return true;
        } catch (err) {
          if (isUniqueViolation(err)) return false;
          throw err;
        }
      },
      /** Pending deliveries due by `now`, oldest first. */
      due(now: number, limit: number): Promise<DeliveryRow[]> {
        return db.select().from(dl).where(and(eq(dl.status, "pending"), or(isNull(dl.nextAt), lte(dl.nextAt, now))))
          .orderBy(asc(dl.createdAt)).limit(limit);
      },
      /**
       * Takes a due delivery for one attempt: moves its next_at past the attempt
       * (a lease), only if nobody else did meanwhile. True when this caller has it.
       */
      async lease(d: DeliveryRow, until: number): Promise<boolean> {
        const sameNext = d.nextAt === null ? isNull(dl.nextAt) : eq(dl.nextAt, d.nextAt);
        return (await db.update(dl).set({ nextAt: until }).where(and(eq(dl.uuid, d.uuid), eq(dl.status, "pending"), sameNext))
          .returning({ uuid: dl.uuid })).length > 0;
      },
      async delivered(uuid: string, attempts: number, now: number): Promise<void> {
        await db.update(dl).set({ status: "delivered", attempts, deliveredAt: now, nextAt: null, lastError: null }).where(eq(dl.uuid, uuid));
      },
      /** An attempt failed: again at `nextAt`, or given up (`nextAt` null). */
      async attemptFailed(uuid: string, attempts: number, error: string, nextAt: number | null): Promise<void> {
        await db.update(dl).set({ status: nextAt === null ? "failed" : "pending", attempts, lastError: error.slice(0, 1000), nextAt })
          .where(eq(dl.uuid, uuid));
      },
      /** Newest first. */
      list(f: DeliveryFilter, page: Page): Promise<DeliveryRow[]> {
        return db.select().from(dl).where(and(
          f.status === undefined ? undefined : eq(dl.status, f.status),
          f.channel === undefined ? undefined : eq(dl.channelUuid, f.channel),
          f.task === undefined ? undefined : eq(dl.taskUuid, f.task),
        )).orderBy(desc(dl.createdAt), desc(dl.uuid)).limit(page.limit).offset(page.offset);
      },
      byChannels(uuids: string[]): Promise<DeliveryRow[]> {
        return uuids.length ? db.select().from(dl).where(inArray(dl.channelUuid, uuids)) : Promise.resolve([]);
      },
    },
  };
}
