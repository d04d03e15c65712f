// Schedule pages: list (unused filter), create and edit with a live preview of the
// next runs (GET /v1/timespec, as the user types), delete.
import type { Hono } from "hono";
import type { Schedule } from "../../views/types.ts";
import { ScheduleForm, ScheduleList, TimespecPreview } from "../../views/schedules.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { qs } from "./client.ts";
import { errorsOf, flagQuery, param, readForm } from "./forms.ts";
import { pageHref, pageOf, slicePage } from "./paging.ts";
import { fragment, me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";
import { backWith, returnTo } from "./return-to.ts";

export function schedulePages(app: Hono<WebEnv>): void {
  app.get("/schedules", async (c) => {
    const s = c.get("session");
    const unused = flagQuery(c, "unused");
    const rows = await s.api.get<Schedule[]>(`/v1/schedules${qs({ unused })}`);
    const p = pageOf(c);
    const paged = slicePage(rows, p);
    return page(c, { title: "Schedules", section: "schedules" },
      <ScheduleList me={me(s)} rows={paged.rows} unused={unused} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} />);
  });

  app.get("/schedules/preview", async (c) => {
    const s = c.get("session");
    const when = (c.req.query("when") ?? "").trim();
    if (!when) return fragment(c, <TimespecPreview />);
    const r = await s.api.send<{ canonical: string; zone: string; next: string[] }>("GET", `/v1/timespec${qs({ when, count: 5 })}`);
    if (r.ok) return fragment(c, <TimespecPreview canonical={r.data.canonical} zone={r.data.zone} next={r.data.next} />);
    if (r.status === 400) return fragment(c, <TimespecPreview error={r.fields.when ?? r.error} />);
    return fragment(c, <TimespecPreview error={`No preview: ${r.error}`} />);
  });

  app.get("/schedules/new", (c) => form(c, { values: { return: returnTo(c.req.query("return")) ?? "" }, errors: {} }));

  app.post("/schedules", async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const back = returnTo(f.return);
    const r = await s.api.send<{ uuid: string }>("POST", "/v1/schedules", { name: f.name ?? "", summary: f.summary ?? "", when: f.when ?? "" });
    if (!r.ok) return form(c, { values: { ...f, return: back ?? "" }, errors: errorsOf(r) }, r.status);
    if (back) return seeOther(c, backWith(back, "schedule", r.data.uuid), `Schedule “${f.name?.trim()}” created and chosen for the job.`);
    return seeOther(c, "/schedules", `Schedule “${f.name}” created.`);
  });

  app.get("/schedules/:uuid/edit", async (c) => {
    const row = await c.get("session").api.get<Schedule>(`/v1/schedule/${param(c, "uuid")}`);
    return form(c, { row, values: { name: row.name, summary: row.summary, when: row.when }, errors: {} });
  });

  app.post("/schedules/:uuid", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Schedule>(`/v1/schedule/${param(c, "uuid")}`);
    const f = await readForm(c);
    const r = await s.api.send("PUT", `/v1/schedule/${row.uuid}`, { name: f.name ?? "", summary: f.summary ?? "", when: f.when ?? "" });
    if (!r.ok) return form(c, { row, values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, "/schedules", `Schedule “${f.name}” saved.`);
  });

  app.get("/schedules/:uuid/delete", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Schedule>(`/v1/schedule/${param(c, "uuid")}`);
    return page(c, { title: `Delete schedule ${row.name}`, section: "schedules" },
      <Confirm me={me(s)} title={`Delete schedule ${row.name}?`} action={`/schedules/${row.uuid}/delete`} button="Delete schedule" cancel="/schedules">
        <p>The schedule “{row.when}” is removed. A schedule that a job uses cannot be deleted.</p>
      </Confirm>);
  });

  app.post("/schedules/:uuid/delete", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/schedule/${param(c, "uuid")}`);
    if (!r.ok) return seeOther(c, "/schedules", `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/schedules", "Schedule deleted.");
  });

  function form(c: WebContext, o: { row?: Schedule; values: Record<string, string>; errors: Record<string, string> }, status = 200) {
    return page(c, { title: o.row ? `Edit schedule ${o.row.name}` : "New schedule", section: "schedules", status },
      <ScheduleForm me={me(c.get("session"))} row={o.row} values={o.values} errors={o.errors} />);
  }
}
