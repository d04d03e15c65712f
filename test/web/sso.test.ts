// The web UI's OIDC sign-in in-process (the browser's journey is test/web/sso-browser.test.ts):
// the button, the flow cookie, the callback trading the code for a session, and
// the refusals a browser meets (a callback not started here, a replayed or forged
// code), against a real OP (test/helpers/oidc-provider.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { webApp, WebClient } from "./session-client.ts";
import type { TestApi } from "../helpers/app.ts";
import { driveSignIn, OIDC_CLIENT_SECRET, startOidcProvider, type TestOp } from "../helpers/oidc-provider.ts";

const CALLBACK = "http://shield.test/signin/sso/idp/callback";

describe("OIDC sign-in in the web UI", () => {
  let t: TestApi;
  let web: Awaited<ReturnType<typeof webApp>>["web"];
  let op: TestOp;

  beforeAll(async () => {
    op = await startOidcProvider({ redirectUris: [CALLBACK] });
    ({ t, web } = await webApp());
    expect((await t.req("POST", "/v1/auth/providers", { body: { name: "idp", type: "oidc", config: op.shieldConfig() } })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    await op?.stop();
  });

  /** Button → OP → back at the callback (not yet requested): the callback's path and query. */
  async function toCallback(b: WebClient, login: string, next = "/jobs"): Promise<string> {
    const start = await b.get(`/signin/sso/idp?next=${encodeURIComponent(next)}`);
    expect(start.status).toBe(303);
    expect(start.location!.startsWith(`${op.issuer}/auth?`)).toBe(true);
    expect(start.headers.getSetCookie().find((c) => c.startsWith("shield_sso="))).toMatch(/HttpOnly.*SameSite=Lax|SameSite=Lax.*HttpOnly/i);
    const landed = await driveSignIn(start.location!, login, CALLBACK);
    return landed.url.slice("http://shield.test".length);
  }

  test("the sign-in page offers the button; the callback signs in and continues to the page asked for", async () => {
    const b = new WebClient(web);
    const signin = await b.get("/signin?next=/jobs");
    expect(signin.html).toContain("Sign in with Test IdP");
    expect(signin.html).toContain('href="/signin/sso/idp?next=%2Fjobs"');
    const callback = await toCallback(b, "olga");
    const landing = await b.get(callback);
    expect(landing.status).toBe(200);
    expect(landing.html).toContain('http-equiv="refresh" content="0;url=/jobs"');
    expect(b.cookies.has("shield_session")).toBe(true);
    expect(b.cookies.has("shield_sso")).toBe(false);
    const jobs = await b.get("/jobs");
    expect(jobs.status).toBe(200);
    expect(jobs.html).toContain("olga");
    // The session is a token named like a password sign-in's, listed for admins.
    const sessions = (await t.req("GET", "/v1/auth/sessions")).json;
    expect(sessions.find((s: any) => s.user.name === "olga").name).toStartWith("web session ");
    // The same callback again: its flow cookie is gone, and its code used.
    const again = await b.get(callback);
    expect(again.status).toBe(400);
    expect(again.html).toContain("This sign-in was not started here, or took too long");
  });

  test("a forged code is refused on the sign-in page, saying so", async () => {
    const b = new WebClient(web);
    const callback = await toCallback(b, "vera");
    const forged = callback.replace(/code=[^&]+/, "code=forged-code");
    const r = await b.get(forged);
    expect(r.status).toBe(401);
    expect(r.html).toContain("Single sign-on refused");
    expect(r.html).toContain("invalid_grant");
    expect(b.cookies.has("shield_session")).toBe(false);
  });

  test("an unknown provider's button leads back to the sign-in page", async () => {
    const r = await new WebClient(web).get("/signin/sso/nope");
    expect(r.status).toBe(404);
    expect(r.html).toContain("Single sign-on is not available: no single sign-on provider named &quot;nope&quot;");
  });

  test("an admin adds an OIDC provider; the client secret is never rendered", async () => {
    const b = new WebClient(web);
    await b.signIn("admin");
    const form = await b.get("/access/providers/new?type=oidc");
    expect(form.html).toContain("Add OIDC provider");
    expect(form.html).toContain("http://shield.test/signin/sso/NAME/callback");
    const ok = await b.post("/access/providers", { type: "oidc", name: "corp", config: JSON.stringify({ issuer: op.issuer, client_id: "shield-test" }), client_secret: OIDC_CLIENT_SECRET });
    expect(ok.status).toBe(303);
    expect((await t.req("GET", "/v1/auth/provider/corp")).json.config.client_secret).toBe("********");
    const edit = await b.get("/access/providers/corp/edit");
    expect(edit.html).toContain("http://shield.test/signin/sso/corp/callback");
    expect(edit.html).not.toContain(OIDC_CLIENT_SECRET);
    expect((await b.get("/access")).html).not.toContain(OIDC_CLIENT_SECRET);
    const bad = await b.post("/access/providers", { type: "oidc", name: "bad", config: JSON.stringify({ issuer: "http://idp.example.com", client_id: "x" }) });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("issuer: must be an https:// URL");
  });
});
