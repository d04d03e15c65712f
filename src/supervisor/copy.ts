// Copies to a second store: after a backup succeeds, each store the job names in
// `copies` gets a `copy` task (archive_uuid: the archive, store_uuid: the
// destination). The task streams the stored blob, as it is, from the archive's
// store to the destination (pipeline/run.ts copy), verifies it there, and marks
// the copy valid with its own expiry. An expired copy is purged by a `purge_copy`
// task, as an archive is by `purge`.
import { nowSeconds, type Catalog, type JobView, type TaskRow } from "../catalog/index.ts";
import { copy, PipelineFailed, purge, type PipelineContext } from "../pipeline/run.ts";
import { parseCopies } from "../core/copies.ts";
import { purgeBackoff, type OpenEndpoint } from "./purge.ts";
import { formatUtc } from "./time.ts";
import type { TaskLog } from "./tasklog.ts";

/** Files a pending copy and its task for each extra store of the job; how many. */
export async function fileCopies(catalog: Catalog, job: JobView, archiveUuid: string, tlog: TaskLog): Promise<number> {
  let n = 0;
  for (const c of parseCopies(job.copies)) {
    const uuid = crypto.randomUUID();
    const now = nowSeconds();
    if (!(await catalog.copies.create({ uuid, archiveUuid, storeUuid: c.store, retentionUuid: c.retention, createdAt: now }))) continue;
    const task = crypto.randomUUID();
    await catalog.tasks.create({
      uuid: task, owner: "system", requestedBy: "copies", op: "copy", jobUuid: job.uuid, archiveUuid,
      targetUuid: null, storeUuid: c.store, requestedAt: now,
    });
    tlog.line(`filed copy task ${task} to store ${c.store}`);
    n++;
  }
  return n;
}

/** The bandwidth limit that applies to a task touching these stores and targets: the lowest set, 0 for none. */
export function rateOf(...rows: ({ bandwidth: number } | undefined)[]): number {
  const set = rows.map((r) => r?.bandwidth ?? 0).filter((b) => b > 0);
  return set.length ? Math.min(...set) : 0;
}

export async function copyArchive(catalog: Catalog, task: TaskRow, ctx: PipelineContext, tlog: TaskLog, open: OpenEndpoint): Promise<void> {
  const archive = task.archiveUuid ? await catalog.archives.get(task.archiveUuid) : undefined;
  if (!archive) throw new PipelineFailed(`archive ${task.archiveUuid} no longer exists`);
  const row = await catalog.copies.get(archive.uuid, task.storeUuid!);
  if (!row) throw new PipelineFailed(`no copy of archive ${archive.uuid} to store ${task.storeUuid} was filed`);
  try {
    if (archive.status !== "valid") throw new PipelineFailed(`archive ${archive.uuid} is ${archive.status}: there is nothing to copy`);
    if (!archive.storePlugin || archive.storeEndpoint === null) throw new PipelineFailed(`the archive's store ${archive.storeUuid} no longer exists`);
    if (!row.storePlugin || row.storeEndpoint === null) throw new PipelineFailed(`the destination store ${row.storeUuid} no longer exists`);
    const policy = row.retentionUuid ? await catalog.retention.get(row.retentionUuid) : undefined;
    if (!policy) throw new PipelineFailed(`the copy's retention policy ${row.retentionUuid} no longer exists`);
    const from = open(archive.storeEndpoint, `store "${archive.storeName}"`);
    const to = open(row.storeEndpoint, `store "${row.storeName}"`);
    const rate = rateOf({ bandwidth: archive.storeBandwidth ?? 0 }, { bandwidth: row.storeBandwidth ?? 0 });
    tlog.line(`copying archive ${archive.uuid} (${archive.size ?? "?"} bytes) from store "${archive.storeName}" (${archive.storePlugin}) to store "${row.storeName}" (${row.storePlugin}), as stored: compressed${archive.cipher !== "none" ? " and encrypted" : ""}, not re-encrypted${rate ? `; at most ${rate} bytes/s` : ""}`);
    const r = await copy(ctx, { plugin: archive.storePlugin, endpoint: from }, archive.storeKey, { plugin: row.storePlugin, endpoint: to },
      { size: archive.size, sha256: archive.sha256 },
      { rate, partialId: task.uuid, onStored: async (key) => { await catalog.copies.setKey(row.uuid, key); await catalog.tasks.setStoreKey(task.uuid, key); } });
    const now = nowSeconds();
    // The copy lives by its own policy, from when the archive was taken (as the archive does by its own).
    const expiresAt = archive.takenAt + policy.expiry;
    // The task's key goes first: should the daemon die between the two writes, recovery
    // (which purges a dead task's recorded key) must never purge a valid copy's blob; the
    // worst is a blob left behind, under the key the copy row already holds (setKey).
    await catalog.tasks.setStoreKey(task.uuid, null);
    await catalog.copies.markValid(row.uuid, { storeKey: r.storeKey, size: r.size, sha256: r.sha256, copiedAt: now, expiresAt });
    tlog.line(`copy of archive ${archive.uuid} in store "${row.storeName}": key ${r.storeKey}, ${r.size} bytes, sha256 ${r.sha256} (equal to the archive's); expires ${formatUtc(expiresAt)} UTC by policy "${policy.name}"`);
  } catch (err) {
    await catalog.copies.markFailed(row.uuid, tlog.mask((err as Error).message));
    throw err;
  }
}

/** Purges an expired copy's blob from its store; a failure backs off as an archive's purge does. */
export async function purgeCopy(catalog: Catalog, task: TaskRow, ctx: PipelineContext, tlog: TaskLog, open: OpenEndpoint): Promise<void> {
  const row = task.archiveUuid && task.storeUuid ? await catalog.copies.get(task.archiveUuid, task.storeUuid) : undefined;
  if (!row) throw new PipelineFailed(`no copy of archive ${task.archiveUuid} in store ${task.storeUuid}`);
  if (row.status === "purged") {
    tlog.line("the copy was purged already");
    return;
  }
  try {
    if (!row.storePlugin || row.storeEndpoint === null) throw new PipelineFailed(`store ${row.storeUuid} no longer exists`);
    if (!row.storeKey) throw new PipelineFailed("the copy has no key");
    tlog.line(`purging the copy of archive ${row.archiveUuid} from store "${row.storeName}" (expired ${formatUtc(row.expiresAt ?? 0)} UTC), key ${row.storeKey}`);
    await purge(ctx, { plugin: row.storePlugin, endpoint: open(row.storeEndpoint, `store "${row.storeName}"`) }, row.storeKey);
  } catch (err) {
    const next = nowSeconds() + purgeBackoff(1);
    await catalog.copies.markPurgeFailed(row.uuid, tlog.mask((err as Error).message), next);
    throw err;
  }
  await catalog.copies.markPurged(row.uuid, nowSeconds());
  tlog.line(`the copy of archive ${row.archiveUuid} in store "${row.storeName}" is purged`);
}
