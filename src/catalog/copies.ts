// Copies of archives in other stores (archive_copies): one row per archive and
// store, filed pending with the copy task, made valid once the copy is verified
// on the destination, expired by its own policy's expiry, and purged like an
// archive (a `purge_copy` task), the row kept for the audit trail.
import { and, asc, count, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";

export type CopyStatus = "pending" | "valid" | "failed" | "expired" | "purged" | "purge_failed";

export interface CopyView {
  uuid: string;
  archiveUuid: string;
  storeUuid: string;
  retentionUuid: string | null;
  storeKey: string | null;
  status: CopyStatus;
  size: number | null;
  sha256: string | null;
  error: string | null;
  createdAt: number;
  copiedAt: number | null;
  expiresAt: number | null;
  purgedAt: number | null;
  /** null when the store was deleted since. */
  storeName: string | null;
  storePlugin: string | null;
  storeEndpoint: string | null;
  storeBandwidth: number | null;
}

export function copyQueries({ db, t }: CatalogHandle) {
  const { archiveCopies: c, stores } = t;
  const joined = () => db.select({
    uuid: c.uuid, archiveUuid: c.archiveUuid, storeUuid: c.storeUuid, retentionUuid: c.retentionUuid, storeKey: c.storeKey,
    status: c.status, size: c.size, sha256: c.sha256, error: c.error, createdAt: c.createdAt, copiedAt: c.copiedAt,
    expiresAt: c.expiresAt, purgedAt: c.purgedAt,
    storeName: stores.name, storePlugin: stores.plugin, storeEndpoint: stores.endpoint, storeBandwidth: stores.bandwidth,
  }).from(c).leftJoin(stores, eq(stores.uuid, c.storeUuid));

  return {
    /** An archive's copies, oldest first: the order a restore tries them in. */
    async of(archiveUuid: string): Promise<CopyView[]> {
      return (await joined().where(eq(c.archiveUuid, archiveUuid)).orderBy(asc(c.createdAt), asc(c.uuid))) as CopyView[];
    },
    async get(archiveUuid: string, storeUuid: string): Promise<CopyView | undefined> {
      return (await joined().where(and(eq(c.archiveUuid, archiveUuid), eq(c.storeUuid, storeUuid))))[0] as CopyView | undefined;
    },
    /** Files the copy (pending); false when the archive already has one in that store. */
    async create(row: { uuid: string; archiveUuid: string; storeUuid: string; retentionUuid: string | null; createdAt: number }): Promise<boolean> {
      const rows = await db.insert(c).values({ ...row, status: "pending" }).onConflictDoNothing().returning({ uuid: c.uuid });
      return rows.length > 0;
    },
    /** The destination store named its blob: recorded before the copy is verified, so a failure can purge it. */
    async setKey(uuid: string, storeKey: string | null): Promise<void> {
      await db.update(c).set({ storeKey }).where(eq(c.uuid, uuid));
    },
    async markValid(uuid: string, v: { storeKey: string; size: number; sha256: string; copiedAt: number; expiresAt: number }): Promise<void> {
      await db.update(c).set({ ...v, status: "valid", error: null }).where(eq(c.uuid, uuid));
    },
    async markFailed(uuid: string, error: string): Promise<void> {
      await db.update(c).set({ status: "failed", error, storeKey: null }).where(eq(c.uuid, uuid));
    },
    /** Valid copies past their own expiry, unless their archive is pinned: marked expired; how many. */
    async expireDue(now: number): Promise<number> {
      const rows = await db.update(c).set({ status: "expired" })
        .where(and(eq(c.status, "valid"), lte(c.expiresAt, now),
          sql`NOT EXISTS (SELECT 1 FROM archives a WHERE a.uuid = ${c.archiveUuid} AND a.pinned)`))
        .returning({ uuid: c.uuid });
      return rows.length;
    },
    /** Expired copies and failed purges due again, taken for one attempt each (a lease, as for archives). */
    async takePurges(now: number, lease: number, limit: number): Promise<{ uuid: string; archiveUuid: string; storeUuid: string }[]> {
      const due = await db.select({ uuid: c.uuid, archiveUuid: c.archiveUuid, storeUuid: c.storeUuid }).from(c)
        .where(and(inArray(c.status, ["expired", "purge_failed"]), or(isNull(c.purgeNextAt), lte(c.purgeNextAt, now))))
        .orderBy(asc(c.expiresAt)).limit(limit);
      const taken = [];
      for (const d of due) {
        const rows = await db.update(c).set({ purgeNextAt: now + lease })
          .where(and(eq(c.uuid, d.uuid), inArray(c.status, ["expired", "purge_failed"]), or(isNull(c.purgeNextAt), lte(c.purgeNextAt, now))))
          .returning({ uuid: c.uuid });
        if (rows.length) taken.push(d);
      }
      return taken;
    },
    /** Copies in a store whose blobs are (or may still be) there: the store cannot be deleted while any are. */
    async countHeld(storeUuid: string): Promise<number> {
      const rows = await db.select({ n: count() }).from(c).where(and(eq(c.storeUuid, storeUuid), inArray(c.status, ["pending", "valid", "expired", "purge_failed"])));
      return Number(rows[0]?.n ?? 0);
    },
    async markPurged(uuid: string, now: number): Promise<void> {
      await db.update(c).set({ status: "purged", purgedAt: now, error: null, purgeNextAt: null }).where(eq(c.uuid, uuid));
    },
    async markPurgeFailed(uuid: string, error: string, nextAt: number): Promise<void> {
      await db.update(c).set({ status: "purge_failed", error, purgeNextAt: nextAt, purgeAttempts: sql`${c.purgeAttempts} + 1` }).where(eq(c.uuid, uuid));
    },
  };
}
