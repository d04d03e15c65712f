// The audit trail's rows (issue 18): written once, read newest first, removed
// after the audit period. Nothing updates an entry.
import { and, desc, eq, gte, lt, lte, or } from "drizzle-orm";
import type { CatalogHandle, Tables } from "./open.ts";
import type { Page } from "./rows.ts";

export type AuditRow = Tables["auditEntries"]["$inferSelect"];

export interface AuditFilter {
  /** A user's name, or their uuid. */
  user?: string;
  type?: string;
  /** An object's uuid (or name, for the objects known by name: auth providers, agents). */
  object?: string;
  action?: string;
  /** Seconds since the epoch, both bounds included. */
  since?: number;
  until?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function auditQueries({ db, t }: CatalogHandle) {
  const a = t.auditEntries;
  return {
    async add(row: AuditRow): Promise<void> {
      await db.insert(a).values(row);
    },
    /** Newest first; entries of the same second in the order they were written is not promised, uuid breaks ties. */
    list(f: AuditFilter, page: Page): Promise<AuditRow[]> {
      return db.select().from(a).where(and(
        // user_uuid is a uuid column on PostgreSQL: a name compared with it would be an SQL error.
        f.user === undefined ? undefined : UUID.test(f.user) ? or(eq(a.userUuid, f.user.toLowerCase()), eq(a.userName, f.user)) : eq(a.userName, f.user),
        f.type === undefined ? undefined : eq(a.objectType, f.type),
        f.object === undefined ? undefined : eq(a.objectUuid, f.object),
        f.action === undefined ? undefined : eq(a.action, f.action),
        f.since === undefined ? undefined : gte(a.at, f.since),
        f.until === undefined ? undefined : lte(a.at, f.until),
      )).orderBy(desc(a.at), desc(a.uuid)).limit(page.limit).offset(page.offset);
    },
    /** Entries older than `cutoff` (seconds): the audit period is over for them. */
    async deleteBefore(cutoff: number): Promise<number> {
      return (await db.delete(a).where(lt(a.at, cutoff)).returning({ uuid: a.uuid })).length;
    },
  };
}
