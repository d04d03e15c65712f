// Rules for archives: annotating, restoring (to the original target or another), deleting.
import { nowSeconds, type ArchiveView, type Catalog } from "../catalog/index.ts";
import { Conflict, InvalidInput, NotFound } from "./errors.ts";
import type { TaskFiler } from "./tasks.ts";
import { GPBACKUP_PLUGIN, GPBACKUP_RESTORE_NOTE } from "./gpbackup.ts";

export function archiveRules(catalog: Catalog, fileTask: TaskFiler, expired: () => void = () => {}) {
  return {
    async get(uuid: string): Promise<ArchiveView> {
      const archive = await catalog.archives.get(uuid);
      if (!archive) throw new NotFound("archive", uuid);
      return archive;
    },
    async annotate(uuid: string, notes: string): Promise<void> {
      if (!(await catalog.archives.annotate(uuid, notes))) throw new NotFound("archive", uuid);
    },
    /** A pinned archive is never expired (docs/retention.md); pinning takes a reason, for the next operator. */
    async pin(uuid: string, pinned: boolean, reason = ""): Promise<void> {
      if (pinned && !reason.trim()) throw new InvalidInput("pin_reason: give a reason to pin an archive", { pin_reason: "is required when pinned is true" });
      const archive = await this.get(uuid);
      if (pinned && archive.status !== "valid") throw new Conflict(`archive ${uuid} is ${archive.status.replace("_", " ")}; only valid archives can be pinned`);
      if (!(await catalog.archives.pin(uuid, pinned, pinned ? reason.trim() : ""))) throw new NotFound("archive", uuid);
    },
    async restore(uuid: string, owner: string, targetUuid?: string, requestedBy: string | null = null): Promise<string> {
      const archive = await this.get(uuid);
      // An archive whose own blob expired may live on in a copy that keeps it longer (its own policy).
      const copied = archive.status !== "valid" && (await catalog.copies.of(uuid)).some((c) => c.status === "valid");
      if (archive.status !== "valid" && !copied) throw new Conflict(`archive ${uuid} is ${archive.status.replace("_", " ")}; only valid archives (or those with a valid copy) can be restored`);
      if (archive.targetPlugin === GPBACKUP_PLUGIN) throw new Conflict(`archive ${uuid}: ${GPBACKUP_RESTORE_NOTE}`);
      const target = targetUuid ?? archive.targetUuid;
      if (!(await catalog.targets.get(target))) {
        if (targetUuid) throw new InvalidInput(`target: no target with uuid ${targetUuid}`, { target: `no target with uuid ${targetUuid}` });
        throw new Conflict(`the archive's target ${target} no longer exists; give another target to restore to`);
      }
      return fileTask({ op: "restore", owner, requestedBy, archiveUuid: uuid, targetUuid: target, storeUuid: archive.storeUuid, jobUuid: archive.jobUuid });
    },
    /**
     * Expires the archive now and wakes the retention purger, which files a purge
     * task at once: it removes the blob from the store and marks the archive purged.
     * The row stays until then, so no blob is orphaned. Deleting an archive whose
     * purge failed retries the purge now instead of at its next attempt time.
     */
    async delete(uuid: string): Promise<void> {
      const archive = await this.get(uuid);
      if (archive.status === "purged") throw new Conflict(`archive ${uuid} is already purged`);
      if (archive.pinned) throw new Conflict(`archive ${uuid} is pinned (${archive.pinReason}); unpin it first`);
      if (archive.status === "valid") await catalog.archives.expireNow(uuid, nowSeconds());
      if (archive.status === "purge_failed") await catalog.archives.retryPurgeNow(uuid, nowSeconds());
      expired();
    },
  };
}
