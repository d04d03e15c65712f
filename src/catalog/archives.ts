import { and, asc, count, desc, eq, gte, inArray, isNotNull, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { ArchiveRow, ArchiveStatus, Page } from "./rows.ts";

export interface ArchiveFilter {
  target?: string;
  store?: string;
  /** Taken at or after this time (epoch seconds). */
  after?: number;
  /** Taken strictly before this time (epoch seconds). */
  before?: number;
  status?: ArchiveStatus;
  job?: string;
  /** Matches (case-insensitively, anywhere) the notes, the target's name or the job's name. */
  q?: string;
  /** Size bounds in bytes, both inclusive. */
  minSize?: number;
  maxSize?: number;
}

/** taken_at (the default) or size, newest or largest first unless `asc`. */
export interface ArchiveSort { by: "taken_at" | "size"; asc?: boolean }

/** q as a LIKE pattern: its own % and _ match themselves. */
function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** An archive with the plugin and endpoint of its target and store, as the archive JSON shows them. */
export interface ArchiveView extends ArchiveRow {
  targetName: string | null; targetPlugin: string | null; targetEndpoint: string | null;
  storeName: string | null; storePlugin: string | null; storeEndpoint: string | null; storeBandwidth: number | null;
}

/** SQL: the policy aliased `r` has some GFS rule (see scheduler/retention.ts hasRules). */
export const HAS_RULES = sql.raw("(r.keep_last > 0 OR r.keep_hourly > 0 OR r.keep_daily > 0 OR r.keep_weekly > 0 OR r.keep_monthly > 0 OR r.keep_yearly > 0 OR r.keep_within > 0)");

export function archiveQueries({ db, t }: CatalogHandle) {
  const { archives, targets, stores, jobs } = t;
  const joined = () => db.select({
    uuid: archives.uuid, targetUuid: archives.targetUuid, storeUuid: archives.storeUuid, jobUuid: archives.jobUuid,
    storeKey: archives.storeKey, takenAt: archives.takenAt, expiresAt: archives.expiresAt, notes: archives.notes,
    status: archives.status, size: archives.size, rawSize: archives.rawSize, sha256: archives.sha256,
    compression: archives.compression, cipher: archives.cipher, encryptionKey: archives.encryptionKey,
    purgedAt: archives.purgedAt, purgeAttempts: archives.purgeAttempts, purgeError: archives.purgeError, purgeNextAt: archives.purgeNextAt,
    pinned: archives.pinned, pinReason: archives.pinReason,
    targetName: targets.name, targetPlugin: targets.plugin, targetEndpoint: targets.endpoint,
    storeName: stores.name, storePlugin: stores.plugin, storeEndpoint: stores.endpoint, storeBandwidth: stores.bandwidth,
  }).from(archives)
    // Left joins: purged archives stay listed after their target or store is deleted.
    .leftJoin(targets, eq(targets.uuid, archives.targetUuid))
    .leftJoin(stores, eq(stores.uuid, archives.storeUuid));

  return {
    /** Newest first. */
    list(f: ArchiveFilter, page: Page, sort: ArchiveSort = { by: "taken_at" }): Promise<ArchiveView[]> {
      const like = f.q === undefined ? undefined : likePattern(f.q);
      const dir = sort.asc ? asc : desc;
      // Ties (same size, same second) in uuid order, so that pages never overlap.
      const order = sort.by === "size"
        ? [dir(sql`coalesce(${archives.size}, -1)`), dir(archives.takenAt), dir(archives.uuid)]
        : [dir(archives.takenAt), dir(archives.uuid)];
      return joined().where(and(
        f.target === undefined ? undefined : eq(archives.targetUuid, f.target),
        f.store === undefined ? undefined : eq(archives.storeUuid, f.store),
        f.job === undefined ? undefined : eq(archives.jobUuid, f.job),
        f.after === undefined ? undefined : gte(archives.takenAt, f.after),
        f.before === undefined ? undefined : lt(archives.takenAt, f.before),
        f.status === undefined ? undefined : eq(archives.status, f.status),
        f.minSize === undefined ? undefined : gte(archives.size, f.minSize),
        f.maxSize === undefined ? undefined : lte(archives.size, f.maxSize),
        // The job by a subquery, not a join: the archive JSON has no job columns to read.
        like === undefined ? undefined : or(
          sql`lower(${archives.notes}) LIKE ${like} ESCAPE '\\'`,
          sql`lower(${targets.name}) LIKE ${like} ESCAPE '\\'`,
          sql`EXISTS (SELECT 1 FROM ${jobs} j WHERE j.uuid = ${archives.jobUuid} AND lower(j.name) LIKE ${like} ESCAPE '\\')`,
        ),
      )).orderBy(...order).limit(page.limit).offset(page.offset);
    },
    async get(uuid: string): Promise<ArchiveView | undefined> {
      return (await joined().where(eq(archives.uuid, uuid)))[0];
    },
    async create(row: Omit<ArchiveRow, "purgeAttempts" | "purgeError" | "purgeNextAt" | "pinned" | "pinReason"> & Partial<ArchiveRow>): Promise<void> {
      await db.insert(archives).values(row);
    },
    async annotate(uuid: string, notes: string): Promise<boolean> {
      return (await db.update(archives).set({ notes }).where(eq(archives.uuid, uuid)).returning({ uuid: archives.uuid })).length > 0;
    },
    /** Pins (never expired) or unpins an archive; the reason is kept for people. */
    async pin(uuid: string, pinned: boolean, pinReason: string): Promise<boolean> {
      return (await db.update(archives).set({ pinned, pinReason }).where(eq(archives.uuid, uuid)).returning({ uuid: archives.uuid })).length > 0;
    },
    /** Ends an archive's life early: the purger removes the blob of an expired archive. */
    async expireNow(uuid: string, now: number): Promise<boolean> {
      const rows = await db.update(archives).set({ status: "expired", expiresAt: now })
        .where(and(eq(archives.uuid, uuid), eq(archives.status, "valid"))).returning({ uuid: archives.uuid });
      return rows.length > 0;
    },
    /** The archive (its uuid) whose blob is under this key in this store, if any. */
    async findByStoreKey(storeUuid: string, storeKey: string): Promise<string | undefined> {
      const rows = await db.select({ uuid: archives.uuid }).from(archives)
        .where(and(eq(archives.storeUuid, storeUuid), eq(archives.storeKey, storeKey))).limit(1);
      return rows[0]?.uuid;
    },

    // ---- retention (the purger, and the supervisor's purge tasks) ----

    /**
     * Marks valid archives whose time is up as expired; returns how many. Pinned
     * archives stay, and so do the archives of jobs whose policy has GFS rules:
     * those are decided per job (retainedOf, expireChosen).
     */
    async expireDue(now: number): Promise<number> {
      const rows = await db.update(archives).set({ status: "expired" })
        .where(and(eq(archives.status, "valid"), lte(archives.expiresAt, now), eq(archives.pinned, false),
          sql`NOT EXISTS (SELECT 1 FROM jobs j JOIN retention r ON r.uuid = j.retention_uuid WHERE j.uuid = ${archives.jobUuid} AND ${HAS_RULES})`,
        )).returning({ uuid: archives.uuid });
      return rows.length;
    },
    /** The valid archives of a job, as the retention rules see them: newest first. */
    async retainedOf(jobUuid: string): Promise<Pick<ArchiveRow, "uuid" | "takenAt" | "expiresAt" | "pinned">[]> {
      return db.select({ uuid: archives.uuid, takenAt: archives.takenAt, expiresAt: archives.expiresAt, pinned: archives.pinned })
        .from(archives).where(and(eq(archives.jobUuid, jobUuid), eq(archives.status, "valid")))
        .orderBy(desc(archives.takenAt), desc(archives.uuid));
    },
    /**
     * Expires the archives the rules chose, if they are still valid, unpinned and
     * past their expiry (an operator may have pinned one since); returns how many.
     */
    async expireChosen(uuids: string[], now: number): Promise<number> {
      let n = 0;
      // Both dialects cap the parameters of one statement: a few hundred at a time.
      for (let i = 0; i < uuids.length; i += 500) {
        const rows = await db.update(archives).set({ status: "expired" })
          .where(and(inArray(archives.uuid, uuids.slice(i, i + 500)), eq(archives.status, "valid"), eq(archives.pinned, false), lte(archives.expiresAt, now)))
          .returning({ uuid: archives.uuid });
        n += rows.length;
      }
      return n;
    },
    /** Expired archives, and failed purges whose next attempt is due: oldest expiry first. */
    async purgeDue(now: number, limit: number): Promise<Pick<ArchiveRow, "uuid" | "targetUuid" | "storeUuid" | "jobUuid">[]> {
      return db.select({ uuid: archives.uuid, targetUuid: archives.targetUuid, storeUuid: archives.storeUuid, jobUuid: archives.jobUuid }).from(archives)
        .where(and(inArray(archives.status, ["expired", "purge_failed"]), or(isNull(archives.purgeNextAt), lte(archives.purgeNextAt, now))))
        .orderBy(asc(archives.expiresAt)).limit(limit);
    },
    /**
     * Takes an archive's purge for one attempt: its next attempt moves `lease`
     * seconds ahead (so nobody else files one meanwhile), unless another daemon
     * took it first or a purge task of it is still on its way. True when taken.
     */
    async takePurge(uuid: string, now: number, lease: number): Promise<boolean> {
      const rows = await db.update(archives).set({ purgeNextAt: now + lease })
        .where(and(
          eq(archives.uuid, uuid), inArray(archives.status, ["expired", "purge_failed"]),
          or(isNull(archives.purgeNextAt), lte(archives.purgeNextAt, now)),
          sql`NOT EXISTS (SELECT 1 FROM tasks p WHERE p.archive_uuid = ${archives.uuid} AND p.op = 'purge' AND p.status IN ('pending', 'running'))`,
        )).returning({ uuid: archives.uuid });
      return rows.length > 0;
    },
    async markPurged(uuid: string, now: number): Promise<boolean> {
      const rows = await db.update(archives).set({ status: "purged", purgedAt: now, purgeError: null, purgeNextAt: null })
        .where(and(eq(archives.uuid, uuid), inArray(archives.status, ["expired", "purge_failed"]))).returning({ uuid: archives.uuid });
      return rows.length > 0;
    },
    /** Records a failed purge attempt: the error, and when the next attempt may start. */
    async markPurgeFailed(uuid: string, error: string, nextAt: number): Promise<void> {
      await db.update(archives).set({ status: "purge_failed", purgeError: error, purgeNextAt: nextAt, purgeAttempts: sql`${archives.purgeAttempts} + 1` })
        .where(and(eq(archives.uuid, uuid), inArray(archives.status, ["expired", "purge_failed"])));
    },
    /** An operator asked again (DELETE of an archive whose purge failed): the next attempt is now. */
    async retryPurgeNow(uuid: string, now: number): Promise<void> {
      await db.update(archives).set({ purgeNextAt: now })
        .where(and(eq(archives.uuid, uuid), eq(archives.status, "purge_failed")));
    },
    /** Removes the rows of archives purged before `cutoff`: the audit trail is kept that long. */
    async deletePurgedBefore(cutoff: number): Promise<number> {
      const rows = await db.delete(archives)
        .where(and(eq(archives.status, "purged"), isNotNull(archives.purgedAt), lt(archives.purgedAt, cutoff))).returning({ uuid: archives.uuid });
      return rows.length;
    },

    /** Archives whose blobs are still (or may still be) in a store. */
    async countHeld(by: { target?: string; store?: string }): Promise<number> {
      const rows = await db.select({ n: count() }).from(archives).where(and(
        by.target === undefined ? undefined : eq(archives.targetUuid, by.target),
        by.store === undefined ? undefined : eq(archives.storeUuid, by.store),
        ne(archives.status, "purged"),
      ));
      return rows[0]!.n;
    },
    /** Every wrapped data key, for rotating the master key. */
    async wrappedKeys(): Promise<{ uuid: string; encryptionKey: string }[]> {
      const rows = await db.select({ uuid: archives.uuid, encryptionKey: archives.encryptionKey }).from(archives)
        .where(isNotNull(archives.encryptionKey));
      return rows as { uuid: string; encryptionKey: string }[];
    },
    async setEncryptionKey(uuid: string, encryptionKey: string): Promise<void> {
      await db.update(archives).set({ encryptionKey }).where(eq(archives.uuid, uuid));
    },
  };
}
