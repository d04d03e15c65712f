// Archive pages: list with filters by target, store, job, date range and search; show;
// annotate; restore (to the original target or another, after a confirmation that
// says what will be overwritten); delete.
import type { Hono } from "hono";
import type { Archive, Store, Target } from "../../views/types.ts";
import { ArchiveDetail, ArchiveList, RestoreChoose, RestoreConfirm, type ArchiveFilter, type ArchiveObject } from "../../views/archives.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { Time } from "../../views/components.tsx";
import { qs } from "./client.ts";
import { errorsOf, param, readForm } from "./forms.ts";
import { apiWindow, pageHref, pageOf, trimPage } from "./paging.ts";
import { me, page, refusedFilterStatus, seeOther, type WebContext, type WebEnv } from "./render.tsx";
import { endpointView, findPlugin } from "./endpoints.ts";

/** A date input (YYYY-MM-DD) as the API's YYYYMMDD; `plusDays` makes an inclusive "to" the API's exclusive "before". */
function apiDay(date: string, plusDays = 0): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return date ? date : undefined;
  const d = new Date(`${date}T00:00:00Z`);
  if (isNaN(d.getTime())) return date;
  d.setUTCDate(d.getUTCDate() + plusDays);
  return d.toISOString().slice(0, 10).replaceAll("-", "");
}

export function archivePages(app: Hono<WebEnv>): void {
  app.get("/archives", async (c) => {
    const s = c.get("session");
    const q = (k: string) => c.req.query(k) ?? "";
    const filter: ArchiveFilter = {
      target: q("target"), store: q("store"), from: q("from"), to: q("to"), status: q("status"), q: q("q"), job: q("job"), sort: q("sort"),
    };
    const p = pageOf(c);
    const [targets, stores] = await Promise.all([s.api.get<Target[]>("/v1/targets"), s.api.get<Store[]>("/v1/stores")]);
    const r = await s.api.send<Archive[]>("GET", `/v1/archives${qs({
      target: filter.target, store: filter.store, after: apiDay(filter.from), before: apiDay(filter.to, 1), status: filter.status,
      q: filter.q, job: filter.job, sort: filter.sort, ...apiWindow(p),
    })}`);
    // A bad filter is shown next to its input, as a form error would be.
    const errors: Record<string, string> = r.ok ? {} : Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k === "after" ? "from" : k === "before" ? "to" : k, v]));
    if (!r.ok && !Object.keys(errors).length) errors._ = r.error;
    const paged = trimPage(r.ok ? r.data : []);
    return page(c, { title: "Archives", section: "archives", status: r.ok ? 200 : refusedFilterStatus(c) },
      <ArchiveList me={me(s)} archives={paged.rows} filter={filter} errors={errors} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)}
        targets={targets.map((t) => ({ value: t.uuid, label: t.name }))} stores={stores.map((x) => ({ value: x.uuid, label: x.name }))} />);
  });

  /** The targets an archive may be restored into: only one of the same plugin can read it back. */
  const restoreTargets = async (c: WebContext, archive: Archive) =>
    (await c.get("session").api.get<Target[]>("/v1/targets")).filter((t) => t.plugin === archive.target_plugin)
      .map((t) => ({ value: t.uuid, label: `${t.name}${t.uuid === archive.target_uuid ? " (original)" : ""}` }));

  const show = async (c: WebContext, errors: Record<string, string> = {}, status = 200) => {
    const s = c.get("session");
    const archive = await s.api.get<Archive>(`/v1/archive/${param(c, "uuid")}`);
    const targets = await restoreTargets(c, archive);
    // An external producer's archive (gpbackup) is many objects: listed, never restored from here.
    const objects = await s.api.get<ArchiveObject[]>(`/v1/archive/${archive.uuid}/objects`);
    return page(c, { title: "Archive", section: "archives", status },
      <ArchiveDetail me={me(s)} archive={archive} restoreTargets={targets} objects={objects} errors={errors} />);
  };

  app.get("/archives/:uuid", (c) => show(c));

  app.post("/archives/:uuid/notes", async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const uuid = param(c, "uuid");
    const r = await s.api.send("PUT", `/v1/archive/${uuid}`, { notes: f.notes ?? "" });
    if (!r.ok) return show(c, errorsOf(r), r.status);
    return seeOther(c, `/archives/${uuid}`, "Notes saved.");
  });

  app.post("/archives/:uuid/pin", async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const uuid = param(c, "uuid");
    const pinned = f.pinned === "t";
    const r = await s.api.send("PUT", `/v1/archive/${uuid}`, pinned ? { pinned, pin_reason: f.pin_reason ?? "" } : { pinned });
    if (!r.ok) return show(c, errorsOf(r), r.status);
    return seeOther(c, `/archives/${uuid}`, pinned ? "Archive pinned: it is never expired until unpinned." : "Archive unpinned.");
  });

  app.get("/archives/:uuid/restore", async (c) => {
    const s = c.get("session");
    const archive = await s.api.get<Archive>(`/v1/archive/${param(c, "uuid")}`);
    // From the archive list's Restore: which target first (the confirmation names what it overwrites).
    if (c.req.query("target") === undefined) {
      return page(c, { title: "Restore", section: "archives" }, <RestoreChoose archive={archive} restoreTargets={await restoreTargets(c, archive)} />);
    }
    const target = await s.api.get<Target>(`/v1/target/${encodeURIComponent(c.req.query("target") || archive.target_uuid)}`);
    const plugin = await findPlugin(s.api, target.plugin);
    return page(c, { title: `Restore into ${target.name}`, section: "archives" },
      <RestoreConfirm me={me(s)} archive={archive} target={target} endpoint={endpointView(plugin, target.plugin, target.endpoint)} />);
  });

  app.post("/archives/:uuid/restore", async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const uuid = param(c, "uuid");
    const r = await s.api.send<{ task_uuid: string }>("POST", `/v1/archive/${uuid}/restore`, { target: f.target || undefined, owner: s.user.name });
    if (!r.ok) return seeOther(c, `/archives/${uuid}`, `Not restored: ${r.error}`, "error");
    // No flash: the task page says how the restore stands, and follows it to its outcome.
    return seeOther(c, `/tasks/${r.data.task_uuid}?started=1`);
  });

  app.get("/archives/:uuid/delete", async (c) => {
    const s = c.get("session");
    const a = await s.api.get<Archive>(`/v1/archive/${param(c, "uuid")}`);
    return page(c, { title: "Delete archive", section: "archives" },
      <Confirm me={me(s)} title="Delete this archive?" action={`/archives/${a.uuid}/delete`} button="Delete archive" cancel={`/archives/${a.uuid}`}>
        <p>The archive of {a.target_name ?? "a deleted target"} taken <Time at={a.taken_at} /> is expired now and its data removed
          from store {a.store_name ?? ""} by the purger. It cannot be restored afterwards.</p>
      </Confirm>);
  });

  app.post("/archives/:uuid/delete", async (c) => {
    const uuid = param(c, "uuid");
    const r = await c.get("session").api.send("DELETE", `/v1/archive/${uuid}`);
    if (!r.ok) return seeOther(c, `/archives/${uuid}`, `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/archives", "Archive deleted: the purger removes its data from the store.");
  });
}
