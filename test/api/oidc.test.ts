// The oidc provider against a real OpenID provider (oidc-provider, run by
// test/helpers/oidc-provider.ts on its own port). The code flow is driven over
// HTTP as the web UI drives it: start (the API), the OP's login and consent
// forms, the callback's query handed to finish (the API). Tokens rewritten on
// their way from the OP's token endpoint show each ID token check refusing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EndpointSecrets, SEALED_PREFIX } from "../../src/pipeline/endpoint-secrets.ts";
import { roleFromClaims } from "../../src/core/providers/oidc.ts";
import { freePort } from "../helpers/services.ts";
import { testApi, type TestApi } from "../helpers/app.ts";
import { breakSignature, driveSignIn, OIDC_CLIENT_SECRET, startOidcProvider, type TestOp } from "../helpers/oidc-provider.ts";

const CALLBACK = "http://shield.test/signin/sso/idp/callback";

describe("the oidc provider", () => {
  let op: TestOp;
  let t: TestApi;

  /** The whole code flow for `login`: the API's finish answer. */
  async function signIn(login: string, o: { provider?: string } = {}) {
    const provider = o.provider ?? "idp";
    const started = await t.req("POST", `/v1/auth/sso/${provider}/start`, { as: "anonymous", body: { redirect_uri: CALLBACK } });
    expect(started.status).toBe(200);
    const landed = await driveSignIn(started.json.url, login, CALLBACK);
    const query = Object.fromEntries(new URL(landed.url).searchParams);
    return t.req("POST", `/v1/auth/sso/${provider}/finish`, { as: "anonymous", body: { state: started.json.state, query } });
  }

  beforeAll(async () => {
    op = await startOidcProvider({ redirectUris: [CALLBACK] });
    t = await testApi("sqlite", { core: { secrets: new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32))), recheckSeconds: 1 } });
    const r = await t.req("POST", "/v1/auth/providers", { body: { name: "idp", type: "oidc", config: op.shieldConfig() } });
    expect(r.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    await op?.stop();
  });

  test("admins manage the provider; the client secret is sealed at rest and never answered", async () => {
    const shown = await t.req("GET", "/v1/auth/provider/idp");
    expect(shown.json).toMatchObject({ name: "idp", type: "oidc", config: { client_secret: "********", issuer: op.issuer } });
    expect(shown.text).not.toContain(OIDC_CLIENT_SECRET);
    const row = await t.catalog.authProviders.byName("idp");
    expect(row!.config).not.toContain(OIDC_CLIENT_SECRET);
    expect(row!.config).toContain(SEALED_PREFIX);
    // Sent back as shown: the stored secret stays (the sign-in below still works).
    expect((await t.req("PUT", "/v1/auth/provider/idp", { body: { config: shown.json.config } })).status).toBe(200);
    const list = await t.req("GET", "/v1/auth/sso", { as: "anonymous" });
    expect(list.json).toEqual([{ name: "idp", type: "oidc", label: "Test IdP" }]);
  });

  test("bad settings are a 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ issuer: "http://idp.example.com" }, "config.issuer", "https"],
      [{ client_id: undefined }, "config.client_id", "is required"],
      [{ scopes: ["profile"] }, "config.scopes", "openid"],
      [{ roles: { admins: ["x"] } }, "config.roles.admins", "not a setting"],
      [{ role_claim: "groups here" }, "config.role_claim", "claim name"],
    ];
    for (const [change, field, words] of cases) {
      const r = await t.req("POST", "/v1/auth/providers", { body: { name: "bad", type: "oidc", config: op.shieldConfig(change) } });
      expect(r.status).toBe(400);
      expect(r.json.fields[field]).toContain(words);
    }
  });

  test("the code flow signs a user in with the role of their groups; the user appears with the provider", async () => {
    const r = await signIn("alice");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: "created", user: "alice", role: "admin" });
    const who = await t.req("GET", "/v1/auth/whoami", { as: { token: r.json.token } });
    expect(who.json).toMatchObject({ name: "alice", role: "admin", provider: "idp" });
    const users = (await t.req("GET", "/v1/users")).json;
    expect(users.find((u: any) => u.name === "alice")).toMatchObject({ role: "admin", provider: "idp" });
    // The refresh token kept for re-checks is sealed.
    const row = await t.catalog.users.byName("alice");
    expect(row!.providerData).toContain(SEALED_PREFIX);
    expect((await signIn("olga")).json).toMatchObject({ user: "olga", role: "operator" });
    expect((await signIn("vera")).json).toMatchObject({ user: "vera", role: "viewer" });
  });

  test("a user whose claim maps to no role is refused, unless a default role is set", async () => {
    const r = await signIn("nora");
    expect(r.status).toBe(401);
    expect(r.json.error).toContain(`user "nora" has no value of the idp provider's role claim that maps to a Shield role`);
    expect(roleFromClaims({ roles: { viewer: ["staff"] } }, { groups: ["staff"] })).toEqual({ ok: true, role: "viewer" });
    expect(roleFromClaims({ role_claim: "realm_access.roles", roles: { operator: ["dba"] } }, { realm_access: { roles: ["dba"] } })).toEqual({ ok: true, role: "operator" });
    expect(roleFromClaims({ default_role: "viewer" }, {})).toEqual({ ok: true, role: "viewer" });
  });

  test("a name held by a local user is refused: an outside identity never takes over a local account", async () => {
    const r = await signIn("admin");
    expect(r.status).toBe(401);
    expect(r.json.error).toContain(`a user named "admin" exists already and signs in through the local provider`);
  });

  test("an OIDC user has no password here: Basic is refused, saying how to sign in", async () => {
    const r = await t.req("GET", "/v1/auth/whoami", { as: { basic: "alice:anything" } });
    expect(r.status).toBe(401);
    expect(r.json.error).toContain("shield login --sso");
  });

  test("a changed claim gives the new role at the next sign-in, and at the next re-check of a session", async () => {
    op.users.set("olga", ["shield-viewers"]);
    const again = await signIn("olga");
    expect(again.json).toMatchObject({ user: "olga", role: "viewer" });
    expect((await t.req("GET", "/v1/users")).json.find((u: any) => u.name === "olga").role).toBe("viewer");
    // Promoted at the provider: the session follows at its next re-check (every second here).
    op.users.set("olga", ["shield-admins"]);
    await Bun.sleep(1100);
    const who = await t.req("GET", "/v1/auth/whoami", { as: { token: again.json.token } });
    expect(who.json).toMatchObject({ name: "olga", role: "admin" });
    // Out of every mapped group: the re-check ends the session.
    op.users.set("olga", ["staff"]);
    await Bun.sleep(1100);
    const out = await t.req("GET", "/v1/auth/whoami", { as: { token: again.json.token } });
    expect(out.status).toBe(401);
    expect(out.json.error).toContain("olga");
    // Removed from the provider: the refresh token is refused, every session ends.
    op.users.set("olga", ["shield-operators"]);
    const third = await signIn("olga");
    expect(third.json.role).toBe("operator");
    op.users.delete("olga");
    await Bun.sleep(1100);
    const gone = await t.req("GET", "/v1/auth/whoami", { as: { token: third.json.token } });
    expect(gone.status).toBe(401);
    expect(gone.json.error).toContain(`user "olga" is no longer known to the idp provider`);
    expect((await t.req("GET", "/v1/auth/sessions")).json.some((s: any) => s.user.name === "olga")).toBe(false);
    op.users.set("olga", ["shield-operators"]);
  });

  describe("ID tokens that fail a check are refused with a clear error", () => {
    const cases: [string, (idToken: string) => Promise<string>, RegExp][] = [
      ["a tampered signature", async (tk) => breakSignature(tk), /signature/i],
      ["an expired token", (tk) => op.resign(tk, (c) => { c.exp = Math.floor(Date.now() / 1000) - 3600; c.iat = (c.exp as number) - 600; }), /exp/i],
      ["a wrong audience", (tk) => op.resign(tk, (c) => { c.aud = "another-client"; }), /aud/i],
      ["a wrong nonce", (tk) => op.resign(tk, (c) => { c.nonce = "not-the-nonce-we-sent"; }), /nonce/i],
      ["a wrong issuer", (tk) => op.resign(tk, (c) => { c.iss = "https://evil.example"; }), /iss/i],
    ];
    for (const [what, tamper, words] of cases) {
      test(what, async () => {
        op.tamper = tamper;
        try {
          const r = await signIn("vera");
          expect(r.status).toBe(401);
          expect(r.json.error).toMatch(words);
          expect(r.json.error).toContain(`OIDC provider "idp"`);
          expect(r.text).not.toContain("    at ");
        } finally {
          op.tamper = undefined;
        }
      });
    }

    test("a callback whose state is not the one sent, and a state not made by this daemon", async () => {
      const started = await t.req("POST", "/v1/auth/sso/idp/start", { as: "anonymous", body: { redirect_uri: CALLBACK } });
      const landed = await driveSignIn(started.json.url, "vera", CALLBACK);
      const query = Object.fromEntries(new URL(landed.url).searchParams);
      const wrong = await t.req("POST", "/v1/auth/sso/idp/finish", { as: "anonymous", body: { state: started.json.state, query: { ...query, state: "forged" } } });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toMatch(/state/i);
      const forged = await t.req("POST", "/v1/auth/sso/idp/finish", { as: "anonymous", body: { state: "shield-sealed:v1:AAAA", query } });
      expect(forged.status).toBe(401);
      expect(forged.json.error).toContain("not one this daemon made");
      const denied = await t.req("POST", "/v1/auth/sso/idp/finish", { as: "anonymous", body: { state: started.json.state, query: { error: "access_denied", error_description: "the user said no" } } });
      expect(denied.status).toBe(401);
      expect(denied.json.error).toContain("the user said no");
    });
  });

  test("the device authorization grant (shield login --sso) signs in once the user approves", async () => {
    const d = await t.req("POST", "/v1/auth/sso/idp/device", { as: "anonymous" });
    expect(d.status).toBe(200);
    expect(d.json.user_code).toBeString();
    const pending = await t.req("POST", "/v1/auth/sso/idp/device/poll", { as: "anonymous", body: { state: d.json.state } });
    expect(pending.json).toEqual({ pending: true, interval: 5 });
    const done = await driveSignIn(d.json.verification_uri_complete, "vera");
    expect(done.html).toContain("Sign-in Success");
    const r = await t.req("POST", "/v1/auth/sso/idp/device/poll", { as: "anonymous", body: { state: d.json.state } });
    expect(r.json).toMatchObject({ ok: "created", user: "vera", role: "viewer" });
  });

  test("the audit trail: a sign-in under the user the provider vouched for, a refusal under the provider, a pending poll nothing", async () => {
    const seen = new Set(((await t.req("GET", "/v1/audit?limit=1000")).json as any[]).map((e) => e.uuid));
    const ok = await signIn("alice");
    expect(ok.status).toBe(200);
    const d = await t.req("POST", "/v1/auth/sso/idp/device", { as: "anonymous" });
    expect((await t.req("POST", "/v1/auth/sso/idp/device/poll", { as: "anonymous", body: { state: d.json.state } })).json.pending).toBe(true);
    const forged = await t.req("POST", "/v1/auth/sso/idp/finish", { as: "anonymous", body: { state: "shield-sealed:v1:AAAA", query: { code: "x", state: "y" } } });
    expect(forged.status).toBe(401);
    const fresh = ((await t.req("GET", "/v1/audit?limit=1000")).json as any[]).filter((e) => !seen.has(e.uuid));
    const alice = await t.catalog.users.byName("alice");
    expect(fresh).toHaveLength(2);
    expect(fresh[1]).toMatchObject({
      action: "sign-in", object_type: "token", object_uuid: ok.json.uuid, user: "alice", user_uuid: alice!.uuid, provider: "idp",
      changes: { provider: { to: "idp" }, name: { to: expect.stringContaining("idp sign-in") } },
    });
    expect(fresh[0]).toMatchObject({ action: "sign-in-failed", user: "(idp sign-in)", changes: { reason: { to: expect.stringContaining("not one this daemon made") } } });
    expect(JSON.stringify(fresh)).not.toContain(ok.json.token);
  });

  test("unknown providers are 404; an unreachable issuer is 503 and local users still sign in", async () => {
    expect((await t.req("POST", "/v1/auth/sso/nope/start", { as: "anonymous", body: { redirect_uri: CALLBACK } })).status).toBe(404);
    const port = await freePort();
    await t.req("POST", "/v1/auth/providers", { body: { name: "down", type: "oidc", config: op.shieldConfig({ issuer: `http://127.0.0.1:${port}` }) } });
    const r = await t.req("POST", "/v1/auth/sso/down/start", { as: "anonymous", body: { redirect_uri: CALLBACK } });
    expect(r.status).toBe(503);
    expect(r.json.error).toContain(`OIDC provider "down"`);
    expect((await t.req("GET", "/v1/auth/whoami")).status).toBe(200);
    const bad = await t.req("POST", "/v1/auth/sso/idp/start", { as: "anonymous", body: { redirect_uri: "javascript:alert(1)" } });
    expect(bad.status).toBe(400);
  });
});

describe("an OP without the device grant", () => {
  test("device sign-in says so clearly", async () => {
    const op = await startOidcProvider({ redirectUris: [CALLBACK], deviceFlow: false });
    const t = await testApi("sqlite");
    try {
      await t.req("POST", "/v1/auth/providers", { body: { name: "idp", type: "oidc", config: op.shieldConfig() } });
      const r = await t.req("POST", "/v1/auth/sso/idp/device", { as: "anonymous" });
      expect(r.status).toBe(409);
      expect(r.json.error).toContain("does not offer the device authorization grant");
    } finally {
      await t.cleanup();
      await op.stop();
    }
  });
});
