// The Access page: admins see and manage auth providers and revoke anyone's
// session; the bind password is never rendered; other roles are not offered it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { webApp, WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";

const BIND_PW = "bind-secret-never-rendered-91c";

describe("the Access page", () => {
  let t: TestApi;
  let web: Awaited<ReturnType<typeof webApp>>["web"];
  beforeAll(async () => ({ t, web } = await webApp()));
  afterAll(() => t.cleanup());

  test("only admins have it in the menu; an operator asking by URL gets the API's refusal", async () => {
    const op = new WebClient(web);
    await op.signIn("operator");
    expect((await op.get("/")).html).not.toContain('href="/access"');
    expect((await op.get("/access")).status).toBe(403);
    const admin = new WebClient(web);
    await admin.signIn("admin");
    const home = await admin.get("/");
    expect(home.html).toContain('href="/access"');
  });

  test("an admin adds an LDAP provider with a bind password that is never shown; bad settings are named", async () => {
    const b = new WebClient(web);
    await b.signIn("admin");
    await b.get("/access/providers/new");
    const bad = await b.post("/access/providers", { name: "corp", config: JSON.stringify({ url: "ldap://127.0.0.1:1", base_dn: "dc=x", user_filter: "(uid=*)" }), bind_password: "" });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("user_filter: must contain the {username} placeholder");
    const config = { url: "ldap://127.0.0.1:1", base_dn: "dc=x", bind_dn: "cn=svc,dc=x" };
    const ok = await b.post("/access/providers", { name: "corp", config: JSON.stringify(config), bind_password: BIND_PW });
    expect(ok.status).toBe(303);
    const page = await b.get("/access");
    expect(page.html).toContain('id="provider-corp"');
    expect(page.html).not.toContain(BIND_PW);
    const edit = await b.get("/access/providers/corp/edit");
    expect(edit.html).not.toContain(BIND_PW);
    // Saved back as shown (the password as ********, the field empty): the stored one stays.
    const textarea = edit.html.match(/<textarea[^>]*>([^<]*)<\/textarea>/)![1]!;
    const shown = JSON.parse(textarea.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&amp;", "&"));
    expect(shown.bind_password).toBe("********");
    expect((await b.post("/access/providers/corp", { config: JSON.stringify({ ...shown, timeout_ms: 2000 }), bind_password: "" })).status).toBe(303);
    const stored = JSON.parse((await t.catalog.authProviders.byName("corp"))!.config);
    expect(stored.bind_password).toBe(BIND_PW);
    expect(stored.timeout_ms).toBe(2000);
  });

  test("an admin revokes another user's web session; that browser is signed out", async () => {
    const viewer = new WebClient(web);
    await viewer.signIn("viewer");
    expect((await viewer.get("/")).status).toBe(200);
    const admin = new WebClient(web);
    await admin.signIn("admin");
    const page = await admin.get("/access");
    const session = (await t.req("GET", "/v1/auth/sessions")).json.find((s: any) => s.user.name === "viewer");
    const uuid = session.uuid;
    // A web session's token expires with the session (12 hours), whether or not it is used again.
    expect(Date.parse(session.expires_at.replace(" ", "T") + "Z") - Date.now()).toBeWithin(12 * 3600_000 - 120_000, 12 * 3600_000 + 1000);
    expect(page.html).toContain(`id="session-${uuid}"`);
    const r = await admin.post(`/access/sessions/${uuid}/revoke`);
    expect(r.status).toBe(303);
    expect((await viewer.get("/")).status).toBe(303);
  });
});

describe("the web UI with the none provider", () => {
  test("a browser without a session is the lab admin, and its forms still need the CSRF token", async () => {
    const { createWeb } = await import("../../src/web/index.tsx");
    const { testApi } = await import("../helpers/app.ts");
    const t = await testApi("sqlite", { core: { loopbackOnly: true } });
    try {
      const web = createWeb({ api: t.app });
      const b = new WebClient(web);
      expect((await b.get("/jobs")).status).toBe(303);
      expect((await t.req("POST", "/v1/auth/providers", { body: { name: "lab", type: "none" } })).status).toBe(200);
      const home = await b.get("/");
      expect(home.status).toBe(200);
      expect(home.html).toContain("lab");
      expect((await b.request("POST", "/schedules", { form: { name: "s", summary: "", when: "daily at 4am" } })).status).toBe(403);
      expect((await b.post("/schedules", { name: "s", summary: "", when: "daily at 4am" })).status).toBe(303);
    } finally {
      await t.cleanup();
    }
  });
});
