// Notification channel pages (admins only; the API refuses others with its 403).
import type { Hono } from "hono";
import { ChannelForm, ChannelList, EVENTS, type Channel, type Delivery } from "../../views/notifications.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { errorsOf, param, readForm, type Form } from "./forms.ts";
import { me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";

const DEFAULT_EVENTS = ["backup.failed", "purge.failed", "drill.failed"];

/** The form's ticked events and jobs (one checkbox each: a form posts a name once). */
function ticked(f: Form, prefix: string): string[] {
  return Object.keys(f).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}

export function notificationPages(app: Hono<WebEnv>): void {
  const jobsOf = (c: WebContext) => c.get("session").api.get<{ uuid: string; name: string }[]>("/v1/jobs");

  app.get("/notifications", async (c) => {
    const s = c.get("session");
    const [rows, deliveries, jobs] = await Promise.all([
      s.api.get<Channel[]>("/v1/notifications"), s.api.get<Delivery[]>("/v1/notifications/deliveries?limit=50"), jobsOf(c),
    ]);
    const names = Object.fromEntries(jobs.map((j) => [j.uuid, j.name]));
    return page(c, { title: "Notifications", section: "notifications" }, <ChannelList me={me(s)} rows={rows} deliveries={deliveries} names={names} />);
  });

  app.get("/notifications/new", async (c) => form(c, { values: { kind: "email", settings: "{\n  \n}" }, events: DEFAULT_EVENTS, jobs: [], errors: {} }));

  const save = async (c: WebContext, row?: Channel) => {
    const s = c.get("session");
    const f = await readForm(c);
    const events = ticked(f, "event:").filter((e) => EVENTS.some((x) => x.value === e));
    const jobs = ticked(f, "job:");
    let settings: unknown;
    try {
      settings = JSON.parse(f.settings ?? "");
    } catch {
      return form(c, { row, values: f, events, jobs, errors: { settings: "must be a JSON object, like {\"url\": \"https://…\"}" } }, 400);
    }
    const body = row ? { name: f.name ?? "", settings, events, jobs } : { name: f.name ?? "", kind: f.kind ?? "", settings, events, jobs };
    const r = row ? await s.api.send("PUT", `/v1/notification/${row.uuid}`, body) : await s.api.send<{ uuid: string }>("POST", "/v1/notifications", body);
    if (!r.ok) {
      // The API names settings.KEY; the form has one settings field.
      const errors = errorsOf(r);
      for (const k of Object.keys(errors)) if (k.startsWith("settings.")) errors.settings = `${k.slice(9)}: ${errors[k]}`;
      return form(c, { row, values: f, events, jobs, errors }, r.status);
    }
    return seeOther(c, "/notifications", `Notification channel “${body.name}” ${row ? "saved" : "created"}. Try it with “Send a test”.`);
  };

  app.post("/notifications", (c) => save(c));

  app.get("/notifications/:uuid/edit", async (c) => {
    const row = await c.get("session").api.get<Channel>(`/v1/notification/${param(c, "uuid")}`);
    return form(c, { row, values: { name: row.name, settings: JSON.stringify(row.settings, null, 2) }, events: row.events, jobs: row.jobs, errors: {} });
  });

  app.post("/notifications/:uuid", async (c) => save(c, await c.get("session").api.get<Channel>(`/v1/notification/${param(c, "uuid")}`)));

  app.post("/notifications/:uuid/test", async (c) => {
    const r = await c.get("session").api.send<{ sent: boolean; error?: string }>("POST", `/v1/notification/${param(c, "uuid")}/test`);
    if (!r.ok) return seeOther(c, "/notifications", `Not sent: ${r.error}`, "error");
    return r.data.sent ? seeOther(c, "/notifications", "Test message sent.") : seeOther(c, "/notifications", `The test message was not delivered: ${r.data.error}`, "error");
  });

  app.get("/notifications/:uuid/delete", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Channel>(`/v1/notification/${param(c, "uuid")}`);
    return page(c, { title: `Delete notification channel ${row.name}`, section: "notifications" },
      <Confirm me={me(s)} title={`Delete notification channel ${row.name}?`} action={`/notifications/${row.uuid}/delete`} button="Delete channel" cancel="/notifications">
        <p>Messages still owed to it are dropped.</p>
      </Confirm>);
  });

  app.post("/notifications/:uuid/delete", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/notification/${param(c, "uuid")}`);
    if (!r.ok) return seeOther(c, "/notifications", `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/notifications", "Notification channel deleted.");
  });

  async function form(c: WebContext, o: { row?: Channel; values: Record<string, string>; events: string[]; jobs: string[]; errors: Record<string, string> }, status = 200) {
    const allJobs = await jobsOf(c);
    return page(c, { title: o.row ? `Edit notification channel ${o.row.name}` : "New notification channel", section: "notifications", status },
      <ChannelForm me={me(c.get("session"))} row={o.row} values={o.values} events={o.events} jobs={o.jobs} allJobs={allJobs} errors={o.errors} />);
  }
}
