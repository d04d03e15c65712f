// The purge task: removes an expired archive's blob from its store and marks the
// archive purged. A failed attempt marks it purge_failed with the store's words and
// a next attempt time; the retention purger (src/scheduler/purger.ts) files the
// next attempt then. Running it as a task puts every purge in the task list.
import { EXTERNAL_PRODUCER_PLUGIN, nowSeconds, type Catalog, type TaskRow } from "../catalog/index.ts";
import { PipelineFailed, purge, type PipelineContext } from "../pipeline/run.ts";
import { formatUtc } from "./time.ts";
import type { TaskLog } from "./tasklog.ts";

/** Seconds before the next attempt after `attempts` failed ones: 1 min, 2, 4, … at most 6 h. */
export function purgeBackoff(attempts: number): number {
  return Math.min(60 * 2 ** Math.max(0, attempts - 1), 6 * 3600);
}

export class PurgeRefused extends PipelineFailed {}

/**
 * `open` gives an endpoint as its plugin needs it (sealed secrets opened) and has
 * the task log mask its secrets; `what` names it in a failure.
 */
export type OpenEndpoint = (endpoint: string, what: string) => string;

export async function purgeArchive(catalog: Catalog, task: TaskRow, ctx: PipelineContext, tlog: TaskLog, open: OpenEndpoint): Promise<void> {
  const archive = task.archiveUuid ? await catalog.archives.get(task.archiveUuid) : undefined;
  if (!archive) throw new PurgeRefused(`archive ${task.archiveUuid} no longer exists`);
  if (archive.status === "purged") {
    tlog.line(`archive ${archive.uuid} was purged already`);
    return;
  }
  if (archive.status === "valid") throw new PurgeRefused(`archive ${archive.uuid} is valid (expires ${formatUtc(archive.expiresAt)}); it is not purged`);
  const attempt = archive.purgeAttempts + 1;
  // The store's last words go with the failure onto the archive, where the API shows them.
  let said = "";
  const storeCtx: PipelineContext = { ...ctx, log: (line) => {
    if (line.startsWith("store purge: ")) said = line.slice("store purge: ".length);
    ctx.log(line);
  } };
  try {
    if (!archive.storePlugin || archive.storeEndpoint === null) throw new PipelineFailed(`store ${archive.storeUuid} no longer exists`);
    const endpoint = open(archive.storeEndpoint, `store "${archive.storeName}"`);
    tlog.line(`purging archive ${archive.uuid} (taken ${formatUtc(archive.takenAt)}, expired ${formatUtc(archive.expiresAt)}) from store "${archive.storeName}" (${archive.storePlugin}), key ${archive.storeKey}${attempt > 1 ? `; attempt ${attempt}` : ""}`);
    if (archive.targetPlugin === EXTERNAL_PRODUCER_PLUGIN) {
      // An external producer's archive (gpbackup): every object it recorded, each its own blob.
      // Purges are idempotent, so a retry after a partial failure purges the rest.
      const objects = await catalog.archiveObjects.list(archive.uuid);
      for (const o of objects) await purge(storeCtx, { plugin: archive.storePlugin, endpoint }, o.storeKey);
      tlog.line(`purged the ${objects.length} object${objects.length === 1 ? "" : "s"} of the gpbackup backup`);
    } else {
      await purge(storeCtx, { plugin: archive.storePlugin, endpoint }, archive.storeKey);
    }
  } catch (err) {
    const next = nowSeconds() + purgeBackoff(attempt);
    const message = (err as Error).message;
    // Masked as the task log masks it: the API shows this to every viewer.
    said = tlog.mask(said);
    await catalog.archives.markPurgeFailed(archive.uuid, said && !message.includes(said) ? `${message}: ${said}` : message, next);
    tlog.line(`purge attempt ${attempt} failed; the archive is purge_failed and the next attempt is at ${formatUtc(next)} UTC`);
    throw err;
  }
  await catalog.archives.markPurged(archive.uuid, nowSeconds());
  tlog.line(`archive ${archive.uuid} purged: its blob is gone from the store; the row stays for the audit trail`);
}
