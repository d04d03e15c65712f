// /v1/gpbackup: what gpbackup's storage plugin (src/gpbackup/shield.ts) tells the
// core in Shield mode: each object it stored through a Shield store, where an
// object is (for restore), and delete_backup. Operators' tokens: the plugin reads
// the store's endpoint too (GET /v1/store/:uuid), which viewers never get whole.
// And /v1/archive/:uuid/objects: the objects of any archive, for the CLI and web UI.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { UuidParam } from "./schemas.ts";

const Text = (max: number) => v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(max, `must be at most ${max} characters`), v.check((s) => !s.includes("\0"), "must not contain NUL"));
const Size = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must not be negative"), v.maxValue(Number.MAX_SAFE_INTEGER, "is too large"));
/** target_name, store and retention are names (or UUIDs) as everywhere in the API: at most 200 characters. */
const Ref = { target_name: Text(200), store: Text(200), timestamp: Text(14) };

const ObjectRecord = v.strictObject({ ...Ref, retention: Text(200), name: Text(1000), store_key: Text(1000), size: Size });
const ObjectQuery = v.strictObject({ ...Ref, name: Text(1000) });
const DeleteRequest = v.strictObject(Ref);
const ObjectJson = v.object({ name: v.string(), store_key: v.string(), size: v.number(), stored_at: v.number() });

export function gpbackupRoutes(router: Router): void {
  const { gpbackup } = router.core;
  const tag = "gpbackup";
  route(router, {
    audit: { type: "gpbackup object", action: "create", id: ({ result }) => result?.archive_uuid, name: ({ body }) => body.name,
    detail: ({ body }) => ({ target_name: body.target_name, timestamp: body.timestamp, store_key: body.store_key, size: body.size }) },
    method: "post", path: "/v1/gpbackup/objects", tag, permission: "operate", body: ObjectRecord,
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
    method: "get", path: "/v1/gpbackup/object", tag, permission: "operate", query: ObjectQuery,
    summary: "Find an object of a gpbackup backup", description: "404 when the backup or the object is not there, or the backup was deleted.",
    response: ObjectJson, errors: [404],
  }, async ({ query }) => {
    const o = await gpbackup.find({ targetName: query.target_name, store: query.store, timestamp: query.timestamp }, query.name);
    return { name: o.name, store_key: o.storeKey, size: o.size, stored_at: o.storedAt };
  });

  route(router, {
    audit: { type: "archive", action: "delete", id: ({ result }) => result?.archive_uuid },
    method: "post", path: "/v1/gpbackup/delete", tag, permission: "operate", body: DeleteRequest,
    summary: "Delete a gpbackup backup (delete_backup)",
    description: "Its archive expires now; the purger purges every object and marks it purged. archive_uuid is null when there was no such backup.",
    response: v.object({ ok: v.literal("deleted"), archive_uuid: v.nullable(v.string()) }),
  }, async ({ body }) => {
    const uuid = await gpbackup.delete({ targetName: body.target_name, store: body.store, timestamp: body.timestamp });
    return { ok: "deleted" as const, archive_uuid: uuid };
  });

  route(router, {
    method: "get", path: "/v1/archive/:uuid/objects", tag: "archives", permission: "read", params: UuidParam,
    summary: "List an archive's objects",
    description: "The files and data streams of an archive written by an external producer (gpbackup); empty for an archive Shield took itself (one blob, at store_key).",
    response: v.array(ObjectJson), errors: [404],
  }, async ({ params }) => {
    await router.core.archives.get(params.uuid);
    return (await router.core.catalog.archiveObjects.list(params.uuid)).map((o) => ({ name: o.name, store_key: o.storeKey, size: o.size, stored_at: o.storedAt }));
  });
}
