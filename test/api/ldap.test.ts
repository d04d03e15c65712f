// Auth providers against a real directory: the private slapd of test/helpers/slapd.ts,
// loaded from test/fixtures/ldap-users.ldif (alice: admins+operators, olga: operators,
// vera: viewers, nora: no group, admin: a namesake of the local admin). Sign-in goes
// through the API's HTTP Basic, as the web UI's and the CLI's do.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Attribute, Change } from "ldapts";
import { EndpointSecrets, SEALED_PREFIX } from "../../src/pipeline/endpoint-secrets.ts";
import { nowSeconds } from "../../src/catalog/index.ts";
import { escapeFilterValue, ldapProvider, userFilter } from "../../src/core/providers/ldap.ts";
import { freePort } from "../helpers/services.ts";
import { PASSWORD, testApi, type TestApi } from "../helpers/app.ts";
import { BASE_DN, GROUPS, READER_DN, READER_PASSWORD, slapdAvailable, startSlapd, userDn, type SlapdServer } from "../helpers/slapd.ts";

const ldapConfig = (s: SlapdServer, extra: Record<string, unknown> = {}) => ({
  url: s.url, bind_dn: READER_DN, bind_password: READER_PASSWORD, base_dn: `ou=people,${BASE_DN}`,
  user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))", group_base_dn: `ou=groups,${BASE_DN}`,
  groups: { admin: [GROUPS.admin], operator: [GROUPS.operator], viewer: [GROUPS.viewer] }, timeout_ms: 3000, ...extra,
});

const member = (s: SlapdServer, group: string, uid: string, op: "add" | "delete") =>
  s.asRoot((c) => c.modify(group, new Change({ operation: op, modification: new Attribute({ type: "member", values: [userDn(uid)] }) })));

describe.skipIf(!slapdAvailable)("the ldap provider", () => {
  let s: SlapdServer;
  let t: TestApi;
  const as = (user: string, password: string) => ({ basic: `${user}:${password}` });

  beforeAll(async () => {
    s = await startSlapd();
    t = await testApi("sqlite", { core: { secrets: new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32))) } });
    const r = await t.req("POST", "/v1/auth/providers", { body: { name: "corp", type: "ldap", config: ldapConfig(s) } });
    expect(r.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    await s?.stop();
  });

  test("admins manage providers; the bind password is sealed at rest and never answered", async () => {
    const list = await t.req("GET", "/v1/auth/providers");
    expect(list.json.map((p: any) => [p.name, p.type, p.builtin])).toEqual([["local", "local", true], ["corp", "ldap", false]]);
    expect(list.json[1].config.bind_password).toBe("********");
    expect(list.text).not.toContain(READER_PASSWORD);
    const row = await t.catalog.authProviders.byName("corp");
    expect(row!.config).not.toContain(READER_PASSWORD);
    expect(row!.config).toContain(SEALED_PREFIX);
    expect((await t.req("GET", "/v1/auth/providers", { as: "operator" })).status).toBe(403);
    // A change that sends the password back as shown keeps the stored one.
    const shown = (await t.req("GET", "/v1/auth/provider/corp")).json.config;
    expect((await t.req("PUT", "/v1/auth/provider/corp", { body: { config: shown } })).status).toBe(200);
    expect((await t.req("GET", "/v1/auth/whoami", { as: as("olga", "olga-password") })).status).toBe(200);
  });

  test("bad provider settings are a 400 naming the field; local cannot be removed", async () => {
    const bad = await t.req("POST", "/v1/auth/providers", { body: { name: "x", type: "ldap", config: { ...ldapConfig(s), user_filter: "(uid=*)", grops: {} } } });
    expect(bad.status).toBe(400);
    expect(bad.json.fields).toMatchObject({ "config.user_filter": expect.stringContaining("{username}") });
    const noUrl = await t.req("POST", "/v1/auth/providers", { body: { name: "x", type: "ldap", config: { base_dn: BASE_DN } } });
    expect(noUrl.status).toBe(400);
    expect(noUrl.json.fields["config.url"]).toBe("is required");
    expect((await t.req("POST", "/v1/auth/providers", { body: { name: "local", type: "ldap", config: ldapConfig(s) } })).status).toBe(400);
    expect((await t.req("DELETE", "/v1/auth/provider/local")).status).toBe(409);
    expect((await t.req("POST", "/v1/auth/providers", { body: { name: "corp", type: "ldap", config: ldapConfig(s) } })).status).toBe(409);
  });

  test("the right password signs in with the role of the highest group; the user appears with the provider", async () => {
    const who = await t.req("GET", "/v1/auth/whoami", { as: as("alice", "alice-password") });
    expect(who.status).toBe(200);
    expect(who.json).toMatchObject({ name: "alice", role: "admin", provider: "corp" });
    const users = (await t.req("GET", "/v1/users")).json;
    expect(users.find((u: any) => u.name === "alice")).toMatchObject({ role: "admin", provider: "corp" });
    expect(users.find((u: any) => u.name === "admin")).toMatchObject({ provider: "local" });
  });

  test("a wrong password, an unknown name and an empty password are refused", async () => {
    for (const [u, p] of [["alice", "wrong-password"], ["nobody-here", "alice-password"], ["vera", ""]] as const) {
      const r = await t.req("GET", "/v1/auth/whoami", { as: as(u, p) });
      expect(r.status).toBe(401);
      expect(r.json.error).toBe("wrong user name or password");
    }
  });

  test("LDAP injection in the user name finds no one", async () => {
    for (const name of ["*)(uid=*", "*", "alice)(uid=*", "al*", "*)(|(uid=*", "alice\\2a"]) {
      const r = await t.req("GET", "/v1/auth/whoami", { as: as(name, "alice-password") });
      expect(r.status).toBe(401);
    }
    expect((await t.catalog.users.list()).map((u) => u.name)).not.toContain("*)(uid=*");
  });

  test("a user in no mapped group is refused, or given the default role when one is set", async () => {
    const r = await t.req("GET", "/v1/auth/whoami", { as: as("nora", "nora-password") });
    expect(r.status).toBe(401);
    expect(r.json.error).toContain("no group of the corp provider");
    const config = (await t.req("GET", "/v1/auth/provider/corp")).json.config;
    expect((await t.req("PUT", "/v1/auth/provider/corp", { body: { config: { ...config, default_role: "viewer" } } })).status).toBe(200);
    try {
      expect((await t.req("GET", "/v1/auth/whoami", { as: as("nora", "nora-password") })).json).toMatchObject({ role: "viewer" });
    } finally {
      await t.req("PUT", "/v1/auth/provider/corp", { body: { config } });
    }
  });

  test("a local user wins over a directory namesake: the local admin keeps signing in with the local password", async () => {
    expect((await t.req("GET", "/v1/auth/whoami", { as: as("admin", PASSWORD) })).json).toMatchObject({ role: "admin", provider: "local" });
    expect((await t.req("GET", "/v1/auth/whoami", { as: as("admin", "ldap-admin-password") })).status).toBe(401);
  });

  test("group changes take effect at the next sign-in: the role is refreshed", async () => {
    expect((await t.req("GET", "/v1/auth/whoami", { as: as("olga", "olga-password") })).json.role).toBe("operator");
    await member(s, GROUPS.operator, "olga", "delete");
    await member(s, GROUPS.viewer, "olga", "add");
    try {
      expect((await t.req("GET", "/v1/auth/whoami", { as: as("olga", "olga-password") })).json.role).toBe("viewer");
      expect((await t.req("POST", "/v1/jobs", { as: as("olga", "olga-password"), body: {} })).status).toBe(403);
      const users = (await t.req("GET", "/v1/users")).json;
      expect(users.find((u: any) => u.name === "olga").role).toBe("viewer");
    } finally {
      await member(s, GROUPS.viewer, "olga", "delete");
      await member(s, GROUPS.operator, "olga", "add");
    }
  });

  test("a session re-checks its provider after 15 minutes: a demoted user is demoted, a removed one loses every token", async () => {
    const made = await t.req("POST", "/v1/auth/tokens", { as: as("vera", "vera-password"), body: { name: "web session" } });
    expect(made.status).toBe(200);
    const token = { token: made.json.token };
    const age = async (seconds: number) => t.catalog.tokens.checked(made.json.uuid, nowSeconds() - seconds);
    await member(s, GROUPS.viewer, "vera", "delete");
    try {
      // Checked less than 15 minutes ago: the provider is not asked yet.
      await age(14 * 60);
      expect((await t.req("GET", "/v1/auth/whoami", { as: token })).status).toBe(200);
      await age(15 * 60);
      const r = await t.req("GET", "/v1/auth/whoami", { as: token });
      expect(r.status).toBe(401);
      expect(r.json.error).toContain("no group of the corp provider");
      // Every token of the user is gone, so re-adding the group does not bring the session back.
      await member(s, GROUPS.viewer, "vera", "add");
      expect((await t.req("GET", "/v1/auth/whoami", { as: token })).status).toBe(401);
    } finally {
      await member(s, GROUPS.viewer, "vera", "add").catch(() => {});
    }
    // Promoted in the directory: the next re-check raises the session's role too.
    const again = await t.req("POST", "/v1/auth/tokens", { as: as("vera", "vera-password"), body: { name: "web session 2" } });
    await member(s, GROUPS.admin, "vera", "add");
    try {
      await t.catalog.tokens.checked(again.json.uuid, nowSeconds() - 16 * 60);
      expect((await t.req("GET", "/v1/auth/whoami", { as: { token: again.json.token } })).json.role).toBe("admin");
    } finally {
      await member(s, GROUPS.admin, "vera", "delete");
    }
  });

  test("Basic re-checks at every request: a user deleted from the directory is refused at once", async () => {
    await s.asRoot(async (c) => {
      await c.add(userDn("temp"), { objectClass: "inetOrgPerson", uid: "temp", cn: "Temp", sn: "Temp", userPassword: "temp-password" });
      await c.modify(GROUPS.operator, new Change({ operation: "add", modification: new Attribute({ type: "member", values: [userDn("temp")] }) }));
    });
    expect((await t.req("GET", "/v1/auth/whoami", { as: as("temp", "temp-password") })).json.role).toBe("operator");
    await s.asRoot(async (c) => {
      await c.modify(GROUPS.operator, new Change({ operation: "delete", modification: new Attribute({ type: "member", values: [userDn("temp")] }) }));
      await c.del(userDn("temp"));
    });
    const r = await t.req("GET", "/v1/auth/whoami", { as: as("temp", "temp-password") });
    expect(r.status).toBe(401);
  });

  test("StartTLS and LDAPS with a CA file; a certificate from an unknown CA is refused", async () => {
    const base = { bind_dn: READER_DN, bind_password: READER_PASSWORD, base_dn: BASE_DN, group_base_dn: `ou=groups,${BASE_DN}`, groups: { viewer: [GROUPS.viewer] } };
    const startTls = ldapProvider("tls", { ...base, url: s.url.replace("127.0.0.1", "localhost"), start_tls: true, ca_file: s.caFile });
    expect(await startTls.authenticate("vera", "vera-password")).toEqual({ ok: true, role: "viewer" });
    const ldaps = ldapProvider("tls", { ...base, url: s.ldapsUrl, ca_file: s.caFile });
    expect(await ldaps.authenticate("vera", "vera-password")).toEqual({ ok: true, role: "viewer" });
    const noCa = ldapProvider("tls", { ...base, url: s.ldapsUrl });
    expect(noCa.authenticate("vera", "vera-password")).rejects.toThrow(/certificate/);
  });
});

describe("escapeFilterValue (RFC 4515)", () => {
  test("the five special characters become backslash-hex; everything else stays", () => {
    expect(escapeFilterValue("*)(uid=*")).toBe("\\2a\\29\\28uid=\\2a");
    expect(escapeFilterValue("a\\b\0c")).toBe("a\\5cb\\00c");
    expect(escapeFilterValue("José O'Brien")).toBe("José O'Brien");
    expect(userFilter({ user_filter: "(&(objectClass=person)(uid={username}))" }, "*")).toBe("(&(objectClass=person)(uid=\\2a))");
  });
});

describe.skipIf(!slapdAvailable)("the sign-in throttle applies to directory users too", () => {
  let s: SlapdServer;
  let t: TestApi;
  beforeAll(async () => {
    s = await startSlapd();
    t = await testApi("sqlite", { throttle: { freePerUser: 2, freePerAddress: 100, firstWaitMs: 60_000, maxWaitMs: 60_000 } });
    expect((await t.req("POST", "/v1/auth/providers", { body: { name: "corp", type: "ldap", config: ldapConfig(s) } })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    await s?.stop();
  });

  test("past the free failures an LDAP user waits (429) even with the right password; an LDAP user's password cannot be set here", async () => {
    const from = (password: string) => t.app.request("/v1/auth/whoami", { headers: { authorization: `Basic ${Buffer.from(`olga:${password}`).toString("base64")}` } }, { clientAddress: "198.51.100.9" });
    expect((await from("olga-password")).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await from(`guess-${i}`)).status).toBe(401);
    const held = await from("olga-password");
    expect(held.status).toBe(429);
    expect(held.headers.get("retry-after")).toBeTruthy();
    const olga = (await t.req("GET", "/v1/users")).json.find((u: any) => u.name === "olga");
    const r = await t.req("PUT", `/v1/user/${olga.uuid}`, { body: { password: "a new password" } });
    expect(r.status).toBe(409);
    expect(r.json.error).toContain("corp provider");
  });
});

describe("an unreachable directory", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await testApi("sqlite");
    const port = await freePort();
    const r = await t.req("POST", "/v1/auth/providers", { body: { name: "down", type: "ldap", config: { url: `ldap://127.0.0.1:${port}`, base_dn: BASE_DN, timeout_ms: 500 } } });
    expect(r.status).toBe(200);
  });
  afterAll(() => t.cleanup());

  test("local admins still sign in; a name only the directory could know is a 503 saying why", async () => {
    expect((await t.req("GET", "/v1/auth/whoami", { as: "admin" })).json).toMatchObject({ name: "admin", role: "admin" });
    const r = await t.req("GET", "/v1/auth/whoami", { as: { basic: "alice:alice-password" } });
    expect(r.status).toBe(503);
    expect(r.json.error).toContain('LDAP provider "down"');
    expect(r.json.error).toContain("sign in as a local user");
  });
});
