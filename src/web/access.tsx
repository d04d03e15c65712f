// The Access page (admins): auth providers and every user's sessions, over
// /v1/auth/providers and /v1/auth/sessions. Other roles get the API's 403.
import type { Hono } from "hono";
import { AccessPage, LDAP_EXAMPLE, ProviderForm, type Provider, type SessionRow } from "../../views/access.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { errorsOf, param, readForm } from "./forms.ts";
import { me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";

export function accessPages(app: Hono<WebEnv>): void {
  app.get("/access", async (c) => {
    const s = c.get("session");
    const [providers, sessions] = await Promise.all([
      s.api.get<Provider[]>("/v1/auth/providers"), s.api.get<SessionRow[]>("/v1/auth/sessions"),
    ]);
    return page(c, { title: "Access", section: "access" }, <AccessPage me={me(s)} providers={providers} sessions={sessions} />);
  });

  app.post("/access/sessions/:uuid/revoke", async (c) => {
    const s = c.get("session");
    const uuid = param(c, "uuid");
    const r = await s.api.send("DELETE", `/v1/auth/session/${uuid}`);
    if (!r.ok) return seeOther(c, "/access", `Not revoked: ${r.error}`, "error");
    // Revoking one's own session is signing out.
    if (uuid === s.tokenUuid) return seeOther(c, "/signin");
    return seeOther(c, "/access", "Session revoked.");
  });

  app.get("/access/providers/new", (c) => form(c, { values: { config: LDAP_EXAMPLE }, errors: {} }));

  app.post("/access/providers", async (c) => {
    const f = await readForm(c);
    const config = parseConfig(f);
    if ("error" in config) return form(c, { values: f, errors: { config: config.error } }, 400);
    const r = await c.get("session").api.send("POST", "/v1/auth/providers", { name: f.name ?? "", type: "ldap", config: config.value });
    if (!r.ok) return form(c, { values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, "/access", `Provider “${f.name}” added.`);
  });

  app.get("/access/providers/:name/edit", async (c) => {
    const row = await c.get("session").api.get<Provider>(`/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    return form(c, { row, values: { config: JSON.stringify(row.config, null, 2) }, errors: {} });
  });

  app.post("/access/providers/:name", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Provider>(`/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    const f = await readForm(c);
    const config = parseConfig(f);
    if ("error" in config) return form(c, { row, values: f, errors: { config: config.error } }, 400);
    const r = await s.api.send("PUT", `/v1/auth/provider/${encodeURIComponent(row.name)}`, { config: config.value });
    if (!r.ok) return form(c, { row, values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, "/access", `Provider “${row.name}” saved.`);
  });

  app.get("/access/providers/:name/delete", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Provider>(`/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    return page(c, { title: `Remove provider ${row.name}`, section: "access" },
      <Confirm me={me(s)} title={`Remove provider ${row.name}?`} action={`/access/providers/${encodeURIComponent(row.name)}/delete`} button="Remove provider" cancel="/access">
        <p>Its users can no longer sign in; their sessions end at their next re-check (15 minutes at most). Local users are not affected.</p>
      </Confirm>);
  });

  app.post("/access/providers/:name/delete", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    if (!r.ok) return seeOther(c, "/access", `Not removed: ${r.error}`, "error");
    return seeOther(c, "/access", "Provider removed.");
  });

  /** The settings as typed, with the bind password from its own field when one was typed. */
  function parseConfig(f: Record<string, string>): { value: Record<string, unknown> } | { error: string } {
    let value: unknown;
    try {
      value = JSON.parse(f.config ?? "");
    } catch (err) {
      return { error: `not valid JSON: ${(err as Error).message}` };
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "must be a JSON object of settings" };
    return { value: f.bind_password ? { ...(value as object), bind_password: f.bind_password } : (value as Record<string, unknown>) };
  }

  function form(c: WebContext, o: { row?: Provider; values: Record<string, string>; errors: Record<string, string> }, status = 200) {
    return page(c, { title: o.row ? `Edit provider ${o.row.name}` : "Add LDAP provider", section: "access", status },
      <ProviderForm me={me(c.get("session"))} row={o.row} values={o.values} errors={o.errors} />);
  }
}
