// The Access page (admins): auth providers and every user's sessions, over
// /v1/auth/providers and /v1/auth/sessions. Other roles get the API's 403.
import type { Hono } from "hono";
import { AccessPage, LDAP_EXAMPLE, OIDC_EXAMPLE, ProviderForm, providerKind, type Provider, type SessionRow } from "../../views/access.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { errorsOf, param, readForm } from "./forms.ts";
import { me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";

/** `callbackBase(c)`: this site's address as browsers reach it, for the OIDC redirect URI shown on the form. */
export function accessPages(app: Hono<WebEnv>, callbackBase: (c: WebContext) => string): void {
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

  app.get("/access/providers/new", (c) => {
    const type = providerKind(c.req.query("type"));
    return form(c, { type, values: { config: type === "oidc" ? OIDC_EXAMPLE : LDAP_EXAMPLE }, errors: {} });
  });

  app.post("/access/providers", async (c) => {
    const f = await readForm(c);
    const type = providerKind(f.type);
    const config = parseConfig(f, type);
    if ("error" in config) return form(c, { type, values: f, errors: { config: config.error } }, 400);
    const r = await c.get("session").api.send("POST", "/v1/auth/providers", { name: f.name ?? "", type, config: config.value });
    if (!r.ok) return form(c, { type, values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, "/access", `Provider “${f.name}” added.`);
  });

  app.get("/access/providers/:name/edit", async (c) => {
    const row = await c.get("session").api.get<Provider>(`/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    return form(c, { row, type: providerKind(row.type), values: { config: JSON.stringify(row.config, null, 2) }, errors: {} });
  });

  app.post("/access/providers/:name", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Provider>(`/v1/auth/provider/${encodeURIComponent(param(c, "name"))}`);
    const f = await readForm(c);
    const type = providerKind(row.type);
    const config = parseConfig(f, type);
    if ("error" in config) return form(c, { row, type, values: f, errors: { config: config.error } }, 400);
    const r = await s.api.send("PUT", `/v1/auth/provider/${encodeURIComponent(row.name)}`, { config: config.value });
    if (!r.ok) return form(c, { row, type, values: f, errors: errorsOf(r) }, r.status);
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

  /** The settings as typed, with the secret (bind password, client secret) from its own field when one was typed. */
  function parseConfig(f: Record<string, string>, type: "ldap" | "oidc"): { value: Record<string, unknown> } | { error: string } {
    let value: unknown;
    try {
      value = JSON.parse(f.config ?? "");
    } catch (err) {
      return { error: `not valid JSON: ${(err as Error).message}` };
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "must be a JSON object of settings" };
    const secret = type === "oidc" ? "client_secret" : "bind_password";
    return { value: f[secret] ? { ...(value as object), [secret]: f[secret] } : (value as Record<string, unknown>) };
  }

  function form(c: WebContext, o: { row?: Provider; type: "ldap" | "oidc"; values: Record<string, string>; errors: Record<string, string> }, status = 200) {
    const callback = `${callbackBase(c)}/signin/sso/${o.row ? encodeURIComponent(o.row.name) : "NAME"}/callback`;
    return page(c, { title: o.row ? `Edit provider ${o.row.name}` : `Add ${o.type === "oidc" ? "OIDC" : "LDAP"} provider`, section: "access", status },
      <ProviderForm me={me(c.get("session"))} row={o.row} type={o.type} values={o.values} errors={o.errors} callback={callback} />);
  }
}
