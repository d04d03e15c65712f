// Rules for archives written by gpbackup's storage plugin (src/gpbackup/, Shield
// mode): an external producer. The plugin stores each file and data stream of a
// gpbackup backup through a Shield store itself, then records it here. One archive
// per backup timestamp, of a target whose plugin is `gpbackup` (created on first
// use, named by the plugin's target_name), expiring by the named retention policy.
// Shield never restores these archives (gprestore does, through the plugin); it
// shows them, annotates them, and purges every object when they expire or are deleted.
import { EXTERNAL_PRODUCER_PLUGIN, nowSeconds, type ArchiveObject, type ArchiveRow, type Catalog } from "../catalog/index.ts";
import { CIPHER_ID, newDataKey, unwrapKey, wrapKey } from "../pipeline/encryption.ts";
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

/** How a backup's objects are stored: every object of one backup alike, as its archive row records. */
export interface Sealing {
  compression: "none" | "zstd";
  cipher: "none" | typeof CIPHER_ID;
}
/** What the plugin needs to write or read a backup's objects: its sealing and, when encrypted, the data key. */
export interface BackupSealing extends Sealing { archiveUuid: string; dataKey?: Uint8Array }

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

/**
 * The plugin seals objects on the Greenplum host with the backup's data key, which
 * the core keeps wrapped by its master key on the archive row, as for every
 * archive; the key reaches the plugin only in answers to an operator's token.
 * Without a master key (API contract tests) only unencrypted backups are taken.
 */
export function gpbackupRules(catalog: Catalog, expired: () => void = () => {}, masterKey?: Uint8Array) {
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

  async function archiveOf(r: BackupRef & { retention: string }, sealing: Partial<Sealing>): Promise<ArchiveRow> {
    checkTimestamp(r.timestamp);
    const compression = sealing.compression ?? "none";
    const cipher = sealing.cipher ?? "none";
    if (compression !== "none" && compression !== "zstd") throw new InvalidInput(`compression: "${compression}" is not none or zstd`, { compression: "none or zstd" });
    if (cipher !== "none" && cipher !== CIPHER_ID) throw new InvalidInput(`cipher: "${cipher}" is not none or ${CIPHER_ID}`, { cipher: `none or ${CIPHER_ID}` });
    if (cipher !== "none" && !masterKey) throw new Conflict("this Shield core keeps no master key: it cannot take encrypted gpbackup backups");
    const store = await storeOf(r.store);
    const policy = UUID.test(r.retention) ? await catalog.retention.get(r.retention.toLowerCase()) : await catalog.retention.byName(r.retention);
    if (!policy) throw new InvalidInput(`retention: no retention policy ${UUID.test(r.retention) ? "with uuid" : "named"} ${r.retention}`, { retention: `no such policy: ${r.retention}` });
    const target = (await targetOf(r.targetName, true))!;
    const uuid = backupArchiveUuid(target.uuid, store.uuid, r.timestamp);
    const now = nowSeconds();
    await catalog.archiveObjects.createArchiveIfAbsent({
      uuid, targetUuid: target.uuid, storeUuid: store.uuid, jobUuid: null, storeKey: `gpbackup/${r.timestamp}`,
      takenAt: now, expiresAt: now + policy.expiry, notes: "", status: "valid", size: 0, rawSize: 0, sha256: null,
      compression, cipher, encryptionKey: cipher === "none" ? null : wrapKey(masterKey!, newDataKey()),
      purgedAt: null, pinned: false, pinReason: "",
    });
    const archive = (await catalog.archives.get(uuid))!;
    if (archive.status !== "valid") throw new Conflict(`gpbackup backup ${r.timestamp} was deleted (archive ${uuid} is ${archive.status.replace("_", " ")}); it takes no more files`);
    return archive;
  }

  function sealingOf(archive: ArchiveRow): BackupSealing {
    const compression = archive.compression === "zstd" ? "zstd" : "none";
    if (archive.cipher === "none" || !archive.encryptionKey) return { archiveUuid: archive.uuid, compression, cipher: "none" };
    if (!masterKey) throw new Conflict(`gpbackup backup archive ${archive.uuid} is encrypted and this Shield core keeps no master key`);
    return { archiveUuid: archive.uuid, compression, cipher: CIPHER_ID, dataKey: unwrapKey(masterKey, archive.encryptionKey) };
  }

  return {
    /**
     * The archive of a backup, created on first use (by whichever segment comes first)
     * with the sealing asked for; a later caller gets the sealing it was created with,
     * so that every object of one backup is stored alike.
     */
    async begin(r: BackupRef & { retention: string } & Partial<Sealing>): Promise<BackupSealing> {
      const archive = await archiveOf(r, r);
      return sealingOf(archive);
    },

    /** Records one stored object; resolves with its archive and the store key it replaced (to purge). */
    async record(r: ObjectRecord): Promise<{ archiveUuid: string; replaced?: string }> {
      checkTimestamp(r.timestamp);
      const m = NAME.exec(r.name);
      if (!m || m[2] !== r.timestamp) throw new InvalidInput(`name: "${r.name}" is not backups/<YYYYMMDD>/${r.timestamp}/<file>`, { name: "backups/<date>/<timestamp>/<file>" });
      // A plugin that never called begin (an older one) stores its objects as they come.
      const archive = await archiveOf(r, { compression: "none", cipher: "none" });
      const replaced = await catalog.archiveObjects.put({ archiveUuid: archive.uuid, name: r.name, storeKey: r.storeKey, size: r.size, storedAt: nowSeconds() });
      return { archiveUuid: archive.uuid, replaced };
    },

    /** Where one object of a valid backup is. */
    async find(ref: BackupRef, name: string): Promise<ArchiveObject & { storeUuid: string; sealing: BackupSealing }> {
      checkTimestamp(ref.timestamp);
      const store = await storeOf(ref.store);
      const target = await targetOf(ref.targetName, false);
      const archive = target && (await catalog.archives.get(backupArchiveUuid(target.uuid, store.uuid, ref.timestamp)));
      if (!archive || archive.status !== "valid") throw new NotFound("gpbackup backup", `${ref.timestamp} of target ${ref.targetName}`);
      const object = await catalog.archiveObjects.get(archive.uuid, name);
      if (!object) throw new NotFound("gpbackup file", `${name} in backup ${ref.timestamp}`);
      return { ...object, storeUuid: store.uuid, sealing: sealingOf(archive) };
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
