import { and, count, desc, eq, gte, isNotNull, lt, ne } from "drizzle-orm";
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
}

/** An archive with the plugin and endpoint of its target and store, as the archive JSON shows them. */
export interface ArchiveView extends ArchiveRow {
  targetName: string | null; targetPlugin: string | null; targetEndpoint: string | null;
  storeName: string | null; storePlugin: string | null; storeEndpoint: string | null;
}

export function archiveQueries({ db, t }: CatalogHandle) {
  const { archives, targets, stores } = t;
  const joined = () => db.select({
    uuid: archives.uuid, targetUuid: archives.targetUuid, storeUuid: archives.storeUuid, jobUuid: archives.jobUuid,
    storeKey: archives.storeKey, takenAt: archives.takenAt, expiresAt: archives.expiresAt, notes: archives.notes,
    status: archives.status, size: archives.size, rawSize: archives.rawSize, sha256: archives.sha256,
    compression: archives.compression, cipher: archives.cipher, encryptionKey: archives.encryptionKey,
    purgedAt: archives.purgedAt,
    targetName: targets.name, targetPlugin: targets.plugin, targetEndpoint: targets.endpoint,
    storeName: stores.name, storePlugin: stores.plugin, storeEndpoint: stores.endpoint,
  }).from(archives)
    // Left joins: purged archives stay listed after their target or store is deleted.
    .leftJoin(targets, eq(targets.uuid, archives.targetUuid))
    .leftJoin(stores, eq(stores.uuid, archives.storeUuid));

  return {
    /** Newest first. */
    list(f: ArchiveFilter, page: Page): Promise<ArchiveView[]> {
      return joined().where(and(
        f.target === undefined ? undefined : eq(archives.targetUuid, f.target),
        f.store === undefined ? undefined : eq(archives.storeUuid, f.store),
        f.after === undefined ? undefined : gte(archives.takenAt, f.after),
        f.before === undefined ? undefined : lt(archives.takenAt, f.before),
        f.status === undefined ? undefined : eq(archives.status, f.status),
      )).orderBy(desc(archives.takenAt), desc(archives.uuid)).limit(page.limit).offset(page.offset);
    },
    async get(uuid: string): Promise<ArchiveView | undefined> {
      return (await joined().where(eq(archives.uuid, uuid)))[0];
    },
    async create(row: ArchiveRow): Promise<void> {
      await db.insert(archives).values(row);
    },
    async annotate(uuid: string, notes: string): Promise<boolean> {
      return (await db.update(archives).set({ notes }).where(eq(archives.uuid, uuid)).returning({ uuid: archives.uuid })).length > 0;
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
