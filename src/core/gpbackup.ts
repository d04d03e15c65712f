// Rules for archives written by gpbackup's storage plugin (src/gpbackup/, Shield
// mode): an external producer. The plugin stores each file and data stream of a
// gpbackup backup through a Shield store itself, then records it here. One archive
// per backup timestamp, of a target whose plugin is `gpbackup` (created on first
// use, named by the plugin's target_name), expiring by the named retention policy.
// Shield never restores these archives (gprestore does, through the plugin); it
// shows them, annotates them, and purges every object when they expire or are deleted.
import { EXTERNAL_PRODUCER_PLUGIN, nowSeconds, type ArchiveObject, type Catalog } from "../catalog/index.ts";
import { Conflict, InvalidInput, NotFound } from "./errors.ts";

/** The plugin name of an external producer's targets: Shield runs no such plugin. */
export const GPBACKUP_PLUGIN = EXTERNAL_PRODUCER_PLUGIN;
export const GPBACKUP_RESTORE_NOTE = "a gpbackup backup is restored by gprestore (with Shield's gpbackup plugin), not by Shield";

const TIMESTAMP = /^[0-9]{14}$/;
/** gpbackup's relative key: backups/<YYYYMMDD>/<YYYYMMDDHHMMSS>/<file>. */
const NAME = /^backups\/([0-9]{8})\/([0-9]{14})\/([^/]+)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface BackupRef { targetName: string; store: string; timestamp: string }
export interface ObjectRecord extends BackupRef { /** A policy's name or UUID. */ retention: string; name: string; storeKey: string; size: number }

/**
 * The archive of one backup has a uuid derived from its target, store and
 * timestamp: the segments of a cluster record their objects at once, and they
 * must all land in one archive without a lock (insert-if-absent on the uuid).
 */
export function backupArchiveUuid(targetUuid: string, storeUuid: string, timestamp: string): string {
  const h = new Bun.CryptoHasher("sha256").update(`gpbackup\0${targetUuid}\0${storeUuid}\0${timestamp}`).digest("hex");
  // Shaped as an RFC 9562 version 8 (custom) UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function gpbackupRules(catalog: Catalog, expired: () => void = () => {}) {
  async function storeOf(ref: string) {
    const store = UUID.test(ref) ? await catalog.stores.get(ref.toLowerCase()) : await catalog.stores.byName(ref);
    if (!store) throw new InvalidInput(`store: no store ${UUID.test(ref) ? "with uuid" : "named"} ${ref}`, { store: `no such store: ${ref}` });
    return store;
  }

  function checkTimestamp(ts: string) {
    if (!TIMESTAMP.test(ts)) throw new InvalidInput(`timestamp: "${ts}" is not a gpbackup timestamp (YYYYMMDDHHMMSS)`, { timestamp: "YYYYMMDDHHMMSS" });
  }

  /** The cluster's target; created on first use. */
  async function targetOf(name: string, create: boolean) {
    let target = await catalog.targets.byName(name);
    if (!target && create) {
      try {
        await catalog.targets.create(crypto.randomUUID(), {
          name, summary: "Greenplum cluster: backups written by gpbackup's Shield plugin", plugin: GPBACKUP_PLUGIN, endpoint: "{}", agent: "",
        }, nowSeconds());
      } catch { /* another segment created it first */ }
      target = await catalog.targets.byName(name);
    }
    if (target && target.plugin !== GPBACKUP_PLUGIN) {
      throw new Conflict(`target "${name}" is a ${target.plugin} target, not a gpbackup one; give the plugin another target_name`);
    }
    return target;
  }

  return {
    /** Records one stored object; resolves with its archive and the store key it replaced (to purge). */
    async record(r: ObjectRecord): Promise<{ archiveUuid: string; replaced?: string }> {
      checkTimestamp(r.timestamp);
      const m = NAME.exec(r.name);
      if (!m || m[2] !== r.timestamp) throw new InvalidInput(`name: "${r.name}" is not backups/<YYYYMMDD>/${r.timestamp}/<file>`, { name: "backups/<date>/<timestamp>/<file>" });
      const store = await storeOf(r.store);
      const policy = UUID.test(r.retention) ? await catalog.retention.get(r.retention.toLowerCase()) : await catalog.retention.byName(r.retention);
      if (!policy) throw new InvalidInput(`retention: no retention policy ${UUID.test(r.retention) ? "with uuid" : "named"} ${r.retention}`, { retention: `no such policy: ${r.retention}` });
      const target = (await targetOf(r.targetName, true))!;
      const uuid = backupArchiveUuid(target.uuid, store.uuid, r.timestamp);
      const now = nowSeconds();
      await catalog.archiveObjects.createArchiveIfAbsent({
        uuid, targetUuid: target.uuid, storeUuid: store.uuid, jobUuid: null, storeKey: `gpbackup/${r.timestamp}`,
        takenAt: now, expiresAt: now + policy.expiry, notes: "", status: "valid", size: 0, rawSize: 0, sha256: null,
        compression: "none", cipher: "none", encryptionKey: null, purgedAt: null, pinned: false, pinReason: "",
      });
      const archive = (await catalog.archives.get(uuid))!;
      if (archive.status !== "valid") throw new Conflict(`gpbackup backup ${r.timestamp} was deleted (archive ${uuid} is ${archive.status.replace("_", " ")}); it takes no more files`);
      const replaced = await catalog.archiveObjects.put({ archiveUuid: uuid, name: r.name, storeKey: r.storeKey, size: r.size, storedAt: now });
      return { archiveUuid: uuid, replaced };
    },

    /** Where one object of a valid backup is. */
    async find(ref: BackupRef, name: string): Promise<ArchiveObject & { storeUuid: string }> {
      checkTimestamp(ref.timestamp);
      const store = await storeOf(ref.store);
      const target = await targetOf(ref.targetName, false);
      const archive = target && (await catalog.archives.get(backupArchiveUuid(target.uuid, store.uuid, ref.timestamp)));
      if (!archive || archive.status !== "valid") throw new NotFound("gpbackup backup", `${ref.timestamp} of target ${ref.targetName}`);
      const object = await catalog.archiveObjects.get(archive.uuid, name);
      if (!object) throw new NotFound("gpbackup file", `${name} in backup ${ref.timestamp}`);
      return { ...object, storeUuid: store.uuid };
    },

    /** delete_backup: the backup's archive expires now and the purger purges every object. Null when there is none. */
    async delete(ref: BackupRef): Promise<string | null> {
      checkTimestamp(ref.timestamp);
      const store = await storeOf(ref.store);
      const target = await targetOf(ref.targetName, false);
      const archive = target && (await catalog.archives.get(backupArchiveUuid(target.uuid, store.uuid, ref.timestamp)));
      if (!archive) return null;
      if (archive.status === "valid") await catalog.archives.expireNow(archive.uuid, nowSeconds());
      if (archive.status === "purge_failed") await catalog.archives.retryPurgeNow(archive.uuid, nowSeconds());
      if (archive.status !== "purged") expired();
      return archive.uuid;
    },
  };
}
