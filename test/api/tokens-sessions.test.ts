// API tokens limited to a role below their owner's and ending at an expiry; admins
// listing and revoking any user's sessions; the `none` provider for a lab.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nowSeconds } from "../../src/catalog/index.ts";
import { sha256Hex } from "../../src/core/users.ts";
import { testApi, type TestApi } from "../helpers/app.ts";

describe("tokens: role limits and expiry", () => {
  let t: TestApi;
  beforeAll(async () => { t = await testApi(); });
  afterAll(() => t.cleanup());

  test("an admin's token limited to viewer reads but cannot change anything; whoami says viewer", async () => {
    const made = await t.req("POST", "/v1/auth/tokens", { body: { name: "read-only", role: "viewer" } });
    expect(made.status).toBe(200);
    expect(made.json.role).toBe("viewer");
    const as = { token: made.json.token };
    expect((await t.req("GET", "/v1/auth/whoami", { as })).json.role).toBe("viewer");
    expect((await t.req("GET", "/v1/jobs", { as })).status).toBe(200);
    expect((await t.req("POST", "/v1/users", { as, body: { name: "x", password: "long enough", role: "viewer" } })).status).toBe(403);
    expect((await t.req("GET", "/v1/auth/tokens")).json.find((x: any) => x.name === "read-only").role).toBe("viewer");
    // Nor can it make a stronger token for itself.
    expect((await t.req("POST", "/v1/auth/tokens", { as, body: { name: "escalate", role: "admin" } })).status).toBe(403);
    const child = await t.req("POST", "/v1/auth/tokens", { as, body: { name: "child" } });
    expect(child.json.role).toBe("viewer");
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: child.json.token } })).json.role).toBe("viewer");
  });

  test("a token cannot have a role above its owner's", async () => {
    const r = await t.req("POST", "/v1/auth/tokens", { as: "operator", body: { name: "up", role: "admin" } });
    expect(r.status).toBe(403);
    expect(r.json.error).toContain("cannot have the admin role");
  });

  test("expires_in and expires_at set the expiry; an expired token is a 401 saying so", async () => {
    const a = await t.req("POST", "/v1/auth/tokens", { body: { name: "hour", expires_in: 3600 } });
    expect(Date.parse(a.json.expires_at.replace(" ", "T") + "Z") / 1000 - nowSeconds()).toBeWithin(3590, 3601);
    const b = await t.req("POST", "/v1/auth/tokens", { body: { name: "new year", expires_at: "2099-01-01 00:00:00" } });
    expect(b.json.expires_at).toBe("2099-01-01 00:00:00");
    expect((await t.req("POST", "/v1/auth/tokens", { body: { name: "past", expires_at: "2001-01-01 00:00:00" } })).status).toBe(400);
    expect((await t.req("POST", "/v1/auth/tokens", { body: { name: "both", expires_in: 3600, expires_at: "2099-01-01 00:00:00" } })).status).toBe(400);
    // A token made with an expiring token expires no later than it.
    const child = await t.req("POST", "/v1/auth/tokens", { as: { token: a.json.token }, body: { name: "child of hour", expires_in: 86400 } });
    expect(child.json.expires_at).toBe(a.json.expires_at);

    const me = (await t.req("GET", "/v1/auth/whoami")).json;
    const token = "shield_expired-test-token";
    await t.catalog.tokens.create({ uuid: crypto.randomUUID(), userUuid: me.uuid, name: "old", tokenHash: sha256Hex(token), createdAt: nowSeconds() - 100, expiresAt: nowSeconds() - 1 });
    const r = await t.req("GET", "/v1/auth/whoami", { as: { token } });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatch(/^API token "old" expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });
});

describe("admins list and revoke any user's sessions", () => {
  let t: TestApi;
  beforeAll(async () => { t = await testApi(); });
  afterAll(() => t.cleanup());

  test("every user's tokens, with their owner; filtered by user; revoking one ends it", async () => {
    const v = await t.req("POST", "/v1/auth/tokens", { as: "viewer", body: { name: "web session 1" } });
    await t.req("POST", "/v1/auth/tokens", { as: "operator", body: { name: "ci" } });
    const all = await t.req("GET", "/v1/auth/sessions");
    expect(all.status).toBe(200);
    expect(all.json.map((s: any) => [s.user.name, s.name])).toEqual([["operator", "ci"], ["viewer", "web session 1"]]);
    expect(all.text).not.toContain(v.json.token);
    const viewer = all.json[1].user.uuid;
    expect((await t.req("GET", `/v1/auth/sessions?user=${viewer}`)).json.map((s: any) => s.name)).toEqual(["web session 1"]);
    expect((await t.req("GET", `/v1/auth/sessions?user=${crypto.randomUUID()}`)).status).toBe(404);
    expect((await t.req("GET", "/v1/auth/sessions", { as: "operator" })).status).toBe(403);
    expect((await t.req("DELETE", `/v1/auth/session/${v.json.uuid}`, { as: "operator" })).status).toBe(403);
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: v.json.token } })).status).toBe(200);
    expect((await t.req("DELETE", `/v1/auth/session/${v.json.uuid}`)).json).toEqual({ ok: "deleted" });
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: v.json.token } })).status).toBe(401);
    expect((await t.req("DELETE", `/v1/auth/session/${v.json.uuid}`)).status).toBe(404);
  });
});

describe("the none provider", () => {
  test("a daemon that does not listen on loopback ignores a none provider another daemon on the catalog added", async () => {
    const t = await testApi("sqlite", { core: { loopbackOnly: false } });
    try {
      await t.core.catalog.authProviders.create({ uuid: crypto.randomUUID(), name: "lab", type: "none", config: "{}", createdAt: nowSeconds() });
      const r = await t.req("GET", "/v1/auth/whoami", { as: "anonymous" });
      expect(r.status).toBe(401);
      expect(r.json.error).toContain("does not listen on loopback only");
    } finally {
      await t.cleanup();
    }
  });

  test("refused unless the daemon listens on loopback only", async () => {
    const t = await testApi("sqlite", { core: { loopbackOnly: false } });
    try {
      const r = await t.req("POST", "/v1/auth/providers", { body: { name: "lab", type: "none" } });
      expect(r.status).toBe(409);
      expect(r.json.error).toContain("loopback");
      expect((await t.req("GET", "/v1/auth/whoami", { as: "anonymous" })).status).toBe(401);
    } finally {
      await t.cleanup();
    }
  });

  test("on loopback: a request without credentials is the admin 'lab'; credentials still count; removing it ends that", async () => {
    const t = await testApi("sqlite", { core: { loopbackOnly: true } });
    try {
      expect((await t.req("POST", "/v1/auth/providers", { body: { name: "lab", type: "none", config: { x: 1 } } })).status).toBe(400);
      expect((await t.req("POST", "/v1/auth/providers", { body: { name: "lab", type: "none" } })).status).toBe(200);
      const who = await t.req("GET", "/v1/auth/whoami", { as: "anonymous" });
      expect(who.json).toMatchObject({ name: "lab", role: "admin", provider: "none" });
      expect((await t.req("GET", "/v1/auth/whoami", { as: "viewer" })).json.role).toBe("viewer");
      expect((await t.req("GET", "/v1/auth/whoami", { as: { basic: "viewer:wrong password" } })).status).toBe(401);
      // The lab's user has no password to sign in with.
      expect((await t.req("GET", "/v1/auth/whoami", { as: { basic: "lab:" } })).status).toBe(401);
      expect((await t.req("DELETE", "/v1/auth/provider/lab")).status).toBe(200);
      expect((await t.req("GET", "/v1/auth/whoami", { as: "anonymous" })).status).toBe(401);
    } finally {
      await t.cleanup();
    }
  });
});
