import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { mapRows } from "./rows.ts";
import { ArchiveJson, ArchiveQuery, ArchiveUpdate, DEFAULT_LIMIT, Deleted, RestoreRequest, Scheduled, Updated, UuidParam } from "./schemas.ts";
import { archiveJson, copyJson } from "./json.ts";
import { REDACTION_NOTE } from "./redact.ts";
import { InvalidInput, OWNER_NOTE, taskOwnership } from "../core/index.ts";

export function archiveRoutes(router: Router): void {
  const { archives } = router.core;
  const tag = "archives";
  route(router, {
    method: "get", operationId: "listArchives", path: "/v1/archives", tag, permission: "read", query: ArchiveQuery,
    summary: "List and search archives, newest first",
    description: "?target=, ?store= and ?job= (UUIDs); ?after=YYYYMMDD (taken on or after that day, UTC) and ?before=YYYYMMDD (taken before that day); ?status=; " +
      "?q= matches the notes, the target's name or the job's name (any part, any case); ?min_size= and ?max_size= (bytes, inclusive); " +
      "?sort=taken_at (default) or size, ?order=desc (default: newest or largest first) or asc; ?limit= (default 100, at most 1000) and ?offset= to page. " +
      `target_endpoint and store_endpoint: ${REDACTION_NOTE}`,
    response: v.array(ArchiveJson),
  }, async ({ query }) => {
    const { limit = DEFAULT_LIMIT, offset = 0, sort = "taken_at", order = "desc", min_size: minSize, max_size: maxSize, ...filter } = query;
    if (minSize !== undefined && maxSize !== undefined && minSize > maxSize) {
      throw new InvalidInput(`invalid query parameter: min_size: must not be more than max_size (${maxSize})`, { min_size: `must not be more than max_size (${maxSize})` });
    }
    const rows = await router.core.catalog.archives.list({ ...filter, minSize, maxSize }, { limit, offset }, { by: sort, asc: order === "asc" });
    return mapRows(rows, archiveJson);
  });

  route(router, {
    method: "get", operationId: "showArchive", path: "/v1/archive/:uuid", tag, permission: "read", params: UuidParam,
    summary: "Show an archive", description: `With its copies in other stores (the job's copies) and each copy's status. target_endpoint and store_endpoint: ${REDACTION_NOTE}`,
    response: ArchiveJson, errors: [404],
  }, async ({ params }) => {
    const a = await archives.get(params.uuid);
    return { ...archiveJson(a), copies: (await router.core.catalog.copies.of(a.uuid)).map(copyJson) };
  });

  route(router, {
    audit: { type: "archive", action: "update" },
    method: "put", operationId: "updateArchive", path: "/v1/archive/:uuid", tag, permission: "operate", params: UuidParam, body: ArchiveUpdate,
    example: { notes: "Before the 2.4 schema migration", pinned: true, pin_reason: "Kept for the audit" },
    summary: "Annotate or pin an archive",
    description: "notes, and/or pinned (true needs a pin_reason): a pinned archive is never expired, by its expiry or by retention rules, and cannot be deleted until unpinned. Fields left out stay as they are.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    if (body.pinned !== undefined) await archives.pin(params.uuid, body.pinned, body.pin_reason);
    if (body.notes !== undefined) await archives.annotate(params.uuid, body.notes);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "archive", action: "delete" },
    method: "delete", operationId: "deleteArchive", path: "/v1/archive/:uuid", tag, permission: "operate", params: UuidParam,
    summary: "Delete an archive ahead of its expiry",
    description: "The archive is marked expired at once; the purger removes its blob from the store and marks it purged. A pinned archive is refused (409): unpin it first.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await archives.delete(params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    method: "get", operationId: "downloadArchive", path: "/v1/archive/:uuid/download", tag, permission: "operate", params: UuidParam,
    summary: "Download an archive, decrypted and decompressed",
    description: "Streams the archive's raw data (what the target's backup wrote: a dump, a tar...), application/octet-stream. "
      + "Verified first like a restore: the whole stored blob is read and checked (size; every chunk's authentication, or the SHA-256 when unencrypted) before a byte is sent; "
      + "an archive that fails answers 409. The second read is checked as it streams: should it fail, the transfer is cut off (no clean end), never completed.",
    response: v.any(), errors: [404, 409],
  }, async ({ c, params }) => {
    const d = await router.core.download(params.uuid, c.req.raw.signal);
    return new Response(d.stream, {
      headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${d.filename}"`, "cache-control": "no-store" },
    });
  });

  route(router, {
    audit: { type: "archive", action: "restore", unchanged: true, detail: ({ body, result }) => ({ task: result?.task_uuid, target: body.target, owner: body.owner }) },
    method: "post", operationId: "restoreArchive", path: "/v1/archive/:uuid/restore", tag, permission: "operate", params: UuidParam,
    body: RestoreRequest, bodyOptional: true,
    example: { target: "6b8398be-fdc0-424a-8532-e812e5dfc116" },
    summary: "Restore an archive",
    description: "Files a pending restore task to `target` (default: the archive's own target), owned by `owner` (default: the requesting user). " +
      `${OWNER_NOTE} The task's \`requested_by\` records who asked.`,
    response: Scheduled, errors: [404, 409],
  }, async ({ params, body, user }) => {
    const { owner, requestedBy } = taskOwnership(user, body.owner);
    return { ok: "scheduled", task_uuid: await archives.restore(params.uuid, owner, body.target, requestedBy) };
  });
}
