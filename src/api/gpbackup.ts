// /v1/gpbackup: what gpbackup's storage plugin (src/gpbackup/shield.ts) tells the
// core in Shield mode: each object it stored through a Shield store, where an
// object is (for restore), and delete_backup. Operators' tokens: the plugin reads
// the store's endpoint too (GET /v1/store/:uuid), which viewers never get whole.
// And /v1/archive/:uuid/objects: the objects of any archive, for the CLI and web UI.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { UuidParam } from "./schemas.ts";
import { CIPHER_ID } from "../pipeline/encryption.ts";
import type { BackupSealing } from "../core/gpbackup.ts";

const Text = (max: number) => v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(max, `must be at most ${max} characters`), v.check((s) => !s.includes("\0"), "must not contain NUL"));
const Size = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must not be negative"), v.maxValue(Number.MAX_SAFE_INTEGER, "is too large"));
/** target_name, store and retention are names (or UUIDs) as everywhere in the API: at most 200 characters. */
const Ref = { target_name: Text(200), store: Text(200), timestamp: Text(14) };

const ObjectRecord = v.strictObject({ ...Ref, retention: Text(200), name: Text(1000), store_key: Text(1000), size: Size });
const ObjectQuery = v.strictObject({ ...Ref, name: Text(1000) });
const DeleteRequest = v.strictObject(Ref);
export const GpbackupObjectJson = v.object({ name: v.string(), store_key: v.string(), size: v.number(), stored_at: v.number() });
const Compression = v.picklist(["none", "zstd"], "must be none or zstd");
const Cipher = v.picklist(["none", CIPHER_ID], `must be none or ${CIPHER_ID}`);
const BackupRequest = v.strictObject({ ...Ref, retention: Text(200), compression: v.optional(Compression), cipher: v.optional(Cipher) });
/** How a backup's objects are sealed; `key` (base64) is the backup's data key, only when encrypted. */
const SealingJson = { archive_uuid: v.string(), compression: v.string(), cipher: v.string(), key: v.optional(v.string()) };

function sealingJson(s: BackupSealing) {
  return {
    archive_uuid: s.archiveUuid, compression: s.compression, cipher: s.cipher,
    ...(s.dataKey ? { key: Buffer.from(s.dataKey).toString("base64") } : {}),
  };
}

export function gpbackupRoutes(router: Router): void {
  const { gpbackup } = router.core;
  const tag = "gpbackup";
  route(router, {
    audit: { type: "archive", action: "gpbackup-begin", id: ({ result }) => result?.archive_uuid,
    detail: ({ body }) => ({ target_name: body.target_name, compression: body.compression ?? "none", cipher: body.cipher ?? "none" }) },
    method: "post", operationId: "beginGpbackupBackup", path: "/v1/gpbackup/backups", tag, permission: "operate", body: BackupRequest,
    example: { target_name: "gp-prod", store: "s3-backups", timestamp: "20261205040000", retention: "monthly", compression: "none", cipher: CIPHER_ID },
    summary: "Begin (or join) a gpbackup backup",
    description: "Creates the backup's archive on first use (one per target_name, store and timestamp) with the compression and cipher asked for " +
      "(default none); a later call, from another segment, gets what the archive was created with, so every object of a backup is sealed alike. " +
      "When encrypted, `key` is the backup's data key (base64): the plugin seals objects on the Greenplum host, and the core keeps the key wrapped by its master key.",
    response: v.object(SealingJson), errors: [409],
  }, async ({ body }) => sealingJson(await gpbackup.begin({
    targetName: body.target_name, store: body.store, timestamp: body.timestamp, retention: body.retention,
    compression: body.compression, cipher: body.cipher,
  })));

  route(router, {
    audit: { type: "gpbackup object", action: "create", id: ({ result }) => result?.archive_uuid, name: ({ body }) => body.name,
    detail: ({ body }) => ({ target_name: body.target_name, timestamp: body.timestamp, store_key: body.store_key, size: body.size }) },
    method: "post", operationId: "recordGpbackupObject", path: "/v1/gpbackup/objects", tag, permission: "operate", body: ObjectRecord,
    example: { target_name: "gp-prod", store: "s3-backups", timestamp: "20261205040000", retention: "monthly", name: "backups/20261205/20261205040000/gpbackup_0_20261205040000_16385.gz", store_key: "gp-prod/20261205040000/gpbackup_0_16385.gz", size: 1048576 },
    summary: "Record an object gpbackup's plugin stored",
    description: "Adds the object to the archive of its backup (one per target_name, store and timestamp), created on first use with the retention policy's expiry; " +
      "the target (plugin `gpbackup`) is created on first use too. `replaced` is the store key of an object of the same name it replaced, for the plugin to purge.",
    response: v.object({ ok: v.literal("recorded"), archive_uuid: v.string(), replaced: v.optional(v.string()) }), errors: [409],
  }, async ({ body }) => {
    const r = await gpbackup.record({
      targetName: body.target_name, store: body.store, timestamp: body.timestamp, retention: body.retention,
      name: body.name, storeKey: body.store_key, size: body.size,
    });
    return { ok: "recorded" as const, archive_uuid: r.archiveUuid, ...(r.replaced ? { replaced: r.replaced } : {}) };
  });

  route(router, {
    method: "get", operationId: "findGpbackupObject", path: "/v1/gpbackup/object", tag, permission: "operate", query: ObjectQuery,
    summary: "Find an object of a gpbackup backup",
    description: "404 when the backup or the object is not there, or the backup was deleted. With how its backup is sealed (and its data key when encrypted), to read it back.",
    response: v.object({ ...GpbackupObjectJson.entries, ...SealingJson }), errors: [404],
  }, async ({ query }) => {
    const o = await gpbackup.find({ targetName: query.target_name, store: query.store, timestamp: query.timestamp }, query.name);
    return { name: o.name, store_key: o.storeKey, size: o.size, stored_at: o.storedAt, ...sealingJson(o.sealing) };
  });

  route(router, {
    audit: { type: "archive", action: "delete", id: ({ result }) => result?.archive_uuid },
    method: "post", operationId: "deleteGpbackupBackup", path: "/v1/gpbackup/delete", tag, permission: "operate", body: DeleteRequest,
    example: { target_name: "gp-prod", store: "s3-backups", timestamp: "20261205040000" },
    summary: "Delete a gpbackup backup (delete_backup)",
    description: "Its archive expires now; the purger purges every object and marks it purged. archive_uuid is null when there was no such backup.",
    response: v.object({ ok: v.literal("deleted"), archive_uuid: v.nullable(v.string()) }),
  }, async ({ body }) => {
    const uuid = await gpbackup.delete({ targetName: body.target_name, store: body.store, timestamp: body.timestamp });
    return { ok: "deleted" as const, archive_uuid: uuid };
  });

  route(router, {
    method: "get", operationId: "listArchiveObjects", path: "/v1/archive/:uuid/objects", tag: "archives", permission: "read", params: UuidParam,
    summary: "List an archive's objects",
    description: "The files and data streams of an archive written by an external producer (gpbackup); empty for an archive Shield took itself (one blob, at store_key).",
    response: v.array(GpbackupObjectJson), errors: [404],
  }, async ({ params }) => {
    await router.core.archives.get(params.uuid);
    return (await router.core.catalog.archiveObjects.list(params.uuid)).map((o) => ({ name: o.name, store_key: o.storeKey, size: o.size, stored_at: o.storedAt }));
  });
}
