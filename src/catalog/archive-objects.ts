// The objects of archives written by external producers (gpbackup's storage
// plugin): one archive per gpbackup backup, one row per file or data stream.
import { and, asc, eq, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { ArchiveRow } from "./rows.ts";

/**
 * The target plugin of external producers' archives: Shield runs no such plugin;
 * their archives hold objects (this table), never a blob at store_key.
 */
export const EXTERNAL_PRODUCER_PLUGIN = "gpbackup";

export interface ArchiveObject { archiveUuid: string; name: string; storeKey: string; size: number; storedAt: number }

export function archiveObjectQueries({ db, t }: CatalogHandle) {
  const { archiveObjects: o, archives } = t;
  return {
    /** Creates the archive unless a row of that uuid exists (producers derive the uuid: segments race to create it). */
    async createArchiveIfAbsent(row: Omit<ArchiveRow, "purgeAttempts" | "purgeError" | "purgeNextAt"> & Partial<ArchiveRow>): Promise<void> {
      await db.insert(archives).values(row).onConflictDoNothing();
    },
    async list(archiveUuid: string): Promise<ArchiveObject[]> {
      return db.select().from(o).where(eq(o.archiveUuid, archiveUuid)).orderBy(asc(o.name));
    },
    async get(archiveUuid: string, name: string): Promise<ArchiveObject | undefined> {
      return (await db.select().from(o).where(and(eq(o.archiveUuid, archiveUuid), eq(o.name, name))))[0];
    },
    /**
     * Records an object; an object of the same name is replaced (gpbackup's setup
     * writes an empty report that the real one replaces). Resolves with the store
     * key it replaced, whose blob the caller purges.
     */
    async put(row: ArchiveObject): Promise<string | undefined> {
      const before = await this.get(row.archiveUuid, row.name);
      await db.insert(o).values(row).onConflictDoUpdate({
        target: [o.archiveUuid, o.name], set: { storeKey: row.storeKey, size: row.size, storedAt: row.storedAt },
      });
      // The archive's size is its objects' total, summed in the UPDATE itself: segments record at once,
      // and a total read first and written after could be overtaken by another segment's.
      const total = sql`(SELECT COALESCE(SUM(x.size), 0) FROM archive_objects x WHERE x.archive_uuid = ${row.archiveUuid})`;
      await db.update(archives).set({ size: total, rawSize: total }).where(eq(archives.uuid, row.archiveUuid));
      return before && before.storeKey !== row.storeKey ? before.storeKey : undefined;
    },
    /** Rows of archives that are gone (removed after the audit period). */
    async deleteOrphaned(): Promise<number> {
      const rows = await db.delete(o).where(sql`NOT EXISTS (SELECT 1 FROM archives a WHERE a.uuid = ${o.archiveUuid})`).returning({ name: o.name });
      return rows.length;
    },
  };
}
