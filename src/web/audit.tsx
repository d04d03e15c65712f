// The Audit page (admins), over GET /v1/audit: other roles get the API's 403.
import type { Hono } from "hono";
import { AuditPage, type AuditEntry, type AuditFilter } from "../../views/audit.tsx";
import { qs } from "./client.ts";
import { apiWindow, pageHref, pageOf, trimPage } from "./paging.ts";
import { page, type WebEnv } from "./render.tsx";

/** The API's names for the form's fields, where they differ. */
const API_FIELD: Record<string, string> = { from: "since", to: "until" };

export function auditPages(app: Hono<WebEnv>): void {
  app.get("/audit", async (c) => {
    const s = c.get("session");
    const q = (k: string) => (c.req.query(k) ?? "").trim();
    const filter: AuditFilter = { user: q("user"), type: q("type"), object: q("object"), action: q("action"), from: q("from"), to: q("to") };
    const p = pageOf(c);
    const r = await s.api.send<AuditEntry[]>("GET", `/v1/audit${qs({
      user: filter.user, type: filter.type, object: filter.object, action: filter.action, since: filter.from, until: filter.to, ...apiWindow(p),
    })}`);
    // Not an admin: the API's refusal is the page's (ApiFailure → 403 page).
    if (!r.ok && r.status === 403) await s.api.get("/v1/audit");
    const back = Object.fromEntries(Object.entries(API_FIELD).map(([k, v]) => [v, k]));
    const errors: Record<string, string> = r.ok ? {} : Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [back[k] ?? k, v]));
    if (!r.ok && !Object.keys(errors).length) errors._ = r.error;
    const paged = trimPage(r.ok ? r.data : []);
    return page(c, { title: "Audit", section: "audit", status: r.ok ? 200 : 400 },
      <AuditPage entries={paged.rows} filter={filter} errors={errors} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} />);
  });
}
