// /v1 contract of authentication: who am I, each user's API tokens, and users
// (admins only). Also how credentials are checked: Basic, Bearer, and refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PASSWORD, testApi, type TestApi } from "../helpers/app.ts";
import {
  NOBODY, TIME_RE, UUID_RE, call, expectAuthRequired, expectErrorBody, expectForbidden, expectInvalid,
} from "./fixtures.ts";

describe("authentication", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  const raw = async (authorization: string | undefined) => {
    const res = await api.app.request("/v1/auth/whoami", { headers: authorization === undefined ? {} : { authorization } });
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text, headers: res.headers };
  };
  const basic = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;

  test("401 for every kind of missing or wrong credentials, with a WWW-Authenticate challenge", async () => {
    const cases: [string | undefined, string][] = [
      [undefined, "authentication required"],
      ["", "authentication required"],
      [basic(`admin:${PASSWORD}x`), "wrong user name or password"],
      [basic(`Admin:${PASSWORD}`), "wrong user name or password"],
      [basic(`nobody:${PASSWORD}`), "wrong user name or password"],
      [basic("admin"), "malformed Basic credentials"],
      [basic(`a\u0000dmin:${PASSWORD}`), "wrong user name or password"],
      ["Basic !!!not-base64!!!", "Basic"],
      ["Basic", "malformed Basic credentials"],
      ["Bearer shield_made-up", "invalid or revoked API token"],
      ["Bearer", "invalid or revoked API token"],
      ["Digest username=admin", 'unsupported authorization scheme "Digest"'],
      ["admin:" + PASSWORD, "unsupported authorization scheme"],
    ];
    for (const [header, words] of cases) {
      const res = await raw(header);
      if (res.status !== 401) throw new Error(`${JSON.stringify(header)}: expected 401, got ${res.status}: ${res.text}`);
      expectErrorBody(res);
      expect(res.json.error).toContain(words);
      expect(res.headers.get("www-authenticate")).toBe('Basic realm="shield"');
      // The refusal never echoes the password.
      expect(res.text).not.toContain(PASSWORD);
    }
  });

  test("Basic credentials of each user work; the scheme is case-insensitive", async () => {
    for (const role of ["admin", "operator", "viewer"] as const) {
      expect((await call(api, "GET", "/v1/auth/whoami", 200, { as: role })).json.role).toBe(role);
    }
    expect((await raw(`basic ${Buffer.from(`viewer:${PASSWORD}`).toString("base64")}`)).status).toBe(200);
    // A password may contain a colon: only the first one separates.
    const uuid = (await call(api, "POST", "/v1/users", 200, { body: { name: "colon", password: "pass:word:1", role: "viewer" } })).json.uuid;
    expect((await call(api, "GET", "/v1/auth/whoami", 200, { as: { basic: "colon:pass:word:1" } })).json.uuid).toBe(uuid);
  });
});

describe("GET /v1/auth/whoami", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  test("answers the caller's uuid, name and role, and nothing else", async () => {
    const users = (await call(api, "GET", "/v1/users", 200)).json;
    for (const role of ["admin", "operator", "viewer"] as const) {
      const me = users.find((u: any) => u.name === role);
      expect((await call(api, "GET", "/v1/auth/whoami", 200, { as: role })).json).toEqual({ uuid: me.uuid, name: role, role, provider: "local" });
    }
  });

  test("401 without credentials", async () => {
    await expectAuthRequired(api, "GET", "/v1/auth/whoami");
  });
});

describe("/v1/auth/tokens", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  const createToken = async (name: string, as: "admin" | "operator" | "viewer" = "operator") =>
    (await call(api, "POST", "/v1/auth/tokens", 200, { body: { name }, as })).json as { ok: string; uuid: string; token: string };

  test("create answers the token once; the list shows only its name and times", async () => {
    const res = await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "laptop" }, as: "operator" });
    expect(Object.keys(res.json).sort()).toEqual(["expires_at", "ok", "role", "token", "uuid"]);
    expect(res.json.ok).toBe("created");
    expect(res.json.uuid).toMatch(UUID_RE);
    expect(res.json.token).toMatch(/^shield_[A-Za-z0-9_-]{40,}$/);
    const list = await call(api, "GET", "/v1/auth/tokens", 200, { as: "operator" });
    expect(list.json).toEqual([{ uuid: res.json.uuid, name: "laptop", created_at: expect.stringMatching(TIME_RE), last_used_at: null, role: null, expires_at: null }]);
    expect(list.text).not.toContain(res.json.token);
    expect(list.text).not.toContain(res.json.token.slice("shield_".length));
  });

  test("a token authenticates as its user, with that user's role, and records its use", async () => {
    const { uuid, token } = await createToken("ci", "viewer");
    const me = (await call(api, "GET", "/v1/auth/whoami", 200, { as: "viewer" })).json;
    expect((await call(api, "GET", "/v1/auth/whoami", 200, { as: { token } })).json).toEqual(me);
    await expectForbidden(api, "POST", "/v1/schedules", "viewer", { name: "x", when: "daily at 4am" });
    await call(api, "POST", "/v1/schedules", 403, { body: { name: "x", when: "daily at 4am" }, as: { token } });
    // Recording use does not hold up the request: give it a moment.
    await Bun.sleep(50);
    const listed = (await call(api, "GET", "/v1/auth/tokens", 200, { as: "viewer" })).json.find((t: any) => t.uuid === uuid);
    expect(listed.last_used_at).toMatch(TIME_RE);
  });

  test("each user sees only their own tokens, sorted by name", async () => {
    await createToken("zeta", "admin");
    await createToken("alpha", "admin");
    expect((await call(api, "GET", "/v1/auth/tokens", 200, { as: "admin" })).json.map((t: any) => t.name)).toEqual(["alpha", "zeta"]);
    expect((await call(api, "GET", "/v1/auth/tokens", 200, { as: "operator" })).json.map((t: any) => t.name)).not.toContain("zeta");
  });

  test("409 for a second token of the same name; another user may use the name", async () => {
    await createToken("dup");
    expect((await call(api, "POST", "/v1/auth/tokens", 409, { body: { name: "dup" }, as: "operator" })).json.error).toContain('"dup"');
    await createToken("dup", "viewer");
  });

  test("400 naming the field: name missing, empty, not a string, too long; unknown fields", async () => {
    await expectInvalid(api, "POST", "/v1/auth/tokens", {}, "name", "is required");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "  " }, "name", "must not be empty");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: 1 }, "name", "must be a string");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "t".repeat(201) }, "name", "at most 200");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "t", owner: "admin" }, "owner", "is not a field of this request");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "t", role: "root" }, "role", "must be admin, operator or viewer");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "t", expires_in: 5 }, "expires_in", "at least 60 seconds");
    await expectInvalid(api, "POST", "/v1/auth/tokens", { name: "t", expires_at: "tomorrow" }, "expires_at", "must be a time");
    await call(api, "POST", "/v1/auth/tokens", 400, { body: "" });
  });

  test("revoke answers ok deleted; the token no longer works", async () => {
    const { uuid, token } = await createToken("revoke-me");
    await call(api, "GET", "/v1/auth/whoami", 200, { as: { token } });
    expect((await call(api, "DELETE", `/v1/auth/token/${uuid}`, 200, { as: "operator" })).json).toEqual({ ok: "deleted" });
    const res = await call(api, "GET", "/v1/auth/whoami", 401, { as: { token } });
    expect(res.json.error).toBe("invalid or revoked API token");
    expect((await call(api, "GET", "/v1/auth/tokens", 200, { as: "operator" })).json.map((t: any) => t.uuid)).not.toContain(uuid);
    await call(api, "DELETE", `/v1/auth/token/${uuid}`, 404, { as: "operator" });
  });

  test("a token can revoke itself", async () => {
    const { uuid, token } = await createToken("self");
    await call(api, "DELETE", `/v1/auth/token/${uuid}`, 200, { as: { token } });
    await call(api, "GET", "/v1/auth/whoami", 401, { as: { token } });
  });

  test("404 for another user's token, which keeps working; 400 for a malformed uuid", async () => {
    const { uuid, token } = await createToken("mine", "viewer");
    expect((await call(api, "DELETE", `/v1/auth/token/${uuid}`, 404, { as: "admin" })).json.error).toBe(`no token with uuid ${uuid}`);
    await call(api, "GET", "/v1/auth/whoami", 200, { as: { token } });
    await expectInvalid(api, "DELETE", "/v1/auth/token/laptop", undefined, "uuid", "must be a UUID");
    await call(api, "DELETE", `/v1/auth/token/${NOBODY}`, 404);
  });

  test("every role may manage its own tokens; anonymous callers get 401", async () => {
    for (const role of ["viewer", "operator", "admin"] as const) {
      const { uuid } = await createToken(`own-${role}`, role);
      await call(api, "GET", "/v1/auth/tokens", 200, { as: role });
      await call(api, "DELETE", `/v1/auth/token/${uuid}`, 200, { as: role });
    }
    await expectAuthRequired(api, "GET", "/v1/auth/tokens");
    await expectAuthRequired(api, "POST", "/v1/auth/tokens", { name: "t" });
    await expectAuthRequired(api, "DELETE", `/v1/auth/token/${NOBODY}`);
  });
});

describe("/v1/users", () => {
  let api: TestApi;
  beforeAll(async () => { api = await testApi(); });
  afterAll(() => api.cleanup());

  const users = async () => (await call(api, "GET", "/v1/users", 200)).json as { uuid: string; name: string; role: string; created_at: string }[];
  const uuidOf = async (name: string) => (await users()).find((u) => u.name === name)!.uuid;
  const createUser = async (name: string, role = "viewer", password = "a good password") =>
    (await call(api, "POST", "/v1/users", 200, { body: { name, password, role } })).json.uuid as string;

  test("list shows every user by name: uuid, name, role, created_at; never a password hash", async () => {
    const res = await call(api, "GET", "/v1/users", 200);
    expect(res.json.map((u: any) => [u.name, u.role])).toEqual([["admin", "admin"], ["operator", "operator"], ["viewer", "viewer"]]);
    for (const u of res.json) {
      expect(Object.keys(u).sort()).toEqual(["created_at", "name", "provider", "role", "uuid"]);
      expect(u.uuid).toMatch(UUID_RE);
      expect(u.created_at).toMatch(TIME_RE);
    }
    expect(res.text).not.toContain("argon");
    expect(res.text.toLowerCase()).not.toContain("password");
  });

  test("create answers ok created; the new user can sign in with their role", async () => {
    const res = await call(api, "POST", "/v1/users", 200, { body: { name: "jhunt", password: "s3cret-enough", role: "operator" } });
    expect(Object.keys(res.json).sort()).toEqual(["ok", "uuid"]);
    expect(res.json.ok).toBe("created");
    const shown = (await call(api, "GET", `/v1/user/${res.json.uuid}`, 200)).json;
    expect(shown).toEqual({ uuid: res.json.uuid, name: "jhunt", role: "operator", provider: "local", created_at: expect.stringMatching(TIME_RE) });
    expect((await call(api, "GET", "/v1/auth/whoami", 200, { as: { basic: "jhunt:s3cret-enough" } })).json)
      .toEqual({ uuid: res.json.uuid, name: "jhunt", role: "operator", provider: "local" });
  });

  test("409 for a name already taken", async () => {
    await createUser("taken");
    expect((await call(api, "POST", "/v1/users", 409, { body: { name: "taken", password: "another one", role: "admin" } })).json.error)
      .toContain('a user named "taken" already exists');
  });

  test("400 naming the field: name, password, role; unknown fields", async () => {
    const ok = { name: "newbie", password: "long enough", role: "viewer" };
    const bad: [Record<string, unknown>, string, string][] = [
      [{ ...ok, name: undefined }, "name", "is required"],
      [{ ...ok, name: "" }, "name", "must not be empty"],
      [{ ...ok, password: undefined }, "password", "is required"],
      [{ ...ok, password: "short" }, "password", "at least 8"],
      [{ ...ok, password: 12345678 }, "password", "must be a string"],
      [{ ...ok, password: "p".repeat(1001) }, "password", "at most 1000"],
      [{ ...ok, role: undefined }, "role", "is required"],
      [{ ...ok, role: "root" }, "role", "must be admin, operator or viewer"],
      [{ ...ok, role: "Admin" }, "role", "must be admin, operator or viewer"],
      [{ ...ok, uuid: NOBODY }, "uuid", "is not a field of this request"],
      [{ ...ok, password_hash: "x" }, "password_hash", "is not a field of this request"],
    ];
    for (const [body, field, words] of bad) await expectInvalid(api, "POST", "/v1/users", body, field, words);
    expect((await users()).map((u) => u.name)).not.toContain("newbie");
  });

  test("show: 400 for a malformed uuid, 404 for an unknown one", async () => {
    await expectInvalid(api, "GET", "/v1/user/admin", undefined, "uuid", "must be a UUID");
    expect((await call(api, "GET", `/v1/user/${NOBODY}`, 404)).json.error).toBe(`no user with uuid ${NOBODY}`);
  });

  test("update changes the role: answers ok updated, and the role applies at once", async () => {
    const uuid = await createUser("promoted", "viewer", "promoted pass");
    const as = { basic: "promoted:promoted pass" };
    await call(api, "POST", "/v1/schedules", 403, { body: { name: "p", when: "daily at 4am" }, as });
    expect((await call(api, "PUT", `/v1/user/${uuid}`, 200, { body: { role: "operator" } })).json).toEqual({ ok: "updated" });
    expect((await call(api, "GET", `/v1/user/${uuid}`, 200)).json.role).toBe("operator");
    await call(api, "POST", "/v1/schedules", 200, { body: { name: "p", when: "daily at 4am" }, as });
  });

  test("update changes the password: the old one stops working, the new one works", async () => {
    const uuid = await createUser("rotated", "viewer", "old password");
    await call(api, "GET", "/v1/auth/whoami", 200, { as: { basic: "rotated:old password" } });
    await call(api, "PUT", `/v1/user/${uuid}`, 200, { body: { password: "new password" } });
    await call(api, "GET", "/v1/auth/whoami", 401, { as: { basic: "rotated:old password" } });
    await call(api, "GET", "/v1/auth/whoami", 200, { as: { basic: "rotated:new password" } });
  });

  test("update: {} changes nothing; bad fields are named; the name cannot change", async () => {
    const uuid = await createUser("steady");
    const before = (await call(api, "GET", `/v1/user/${uuid}`, 200)).json;
    await call(api, "PUT", `/v1/user/${uuid}`, 200, { body: {} });
    await expectInvalid(api, "PUT", `/v1/user/${uuid}`, { role: "boss" }, "role", "must be admin, operator or viewer");
    await expectInvalid(api, "PUT", `/v1/user/${uuid}`, { password: "short" }, "password", "at least 8");
    await expectInvalid(api, "PUT", `/v1/user/${uuid}`, { name: "renamed" }, "name", "is not a field of this request");
    expect((await call(api, "GET", `/v1/user/${uuid}`, 200)).json).toEqual(before);
  });

  test("update: 400 for a malformed uuid, 404 for an unknown one", async () => {
    await expectInvalid(api, "PUT", "/v1/user/x", { role: "viewer" }, "uuid", "must be a UUID");
    await call(api, "PUT", `/v1/user/${NOBODY}`, 404, { body: { role: "viewer" } });
    await call(api, "PUT", `/v1/user/${NOBODY}`, 404, { body: {} });
  });

  test("delete answers ok deleted; the user and their tokens stop working", async () => {
    const uuid = await createUser("leaving", "operator", "leaving pass");
    const as = { basic: "leaving:leaving pass" };
    const { token } = (await call(api, "POST", "/v1/auth/tokens", 200, { body: { name: "t" }, as })).json;
    expect((await call(api, "DELETE", `/v1/user/${uuid}`, 200)).json).toEqual({ ok: "deleted" });
    await call(api, "GET", "/v1/auth/whoami", 401, { as });
    await call(api, "GET", "/v1/auth/whoami", 401, { as: { token } });
    await call(api, "GET", `/v1/user/${uuid}`, 404);
    await call(api, "DELETE", `/v1/user/${uuid}`, 404);
  });

  test("delete: 400 for a malformed uuid, 404 for an unknown one", async () => {
    await expectInvalid(api, "DELETE", "/v1/user/x", undefined, "uuid", "must be a UUID");
    await call(api, "DELETE", `/v1/user/${NOBODY}`, 404);
  });

  test("409: the last admin can be neither demoted nor deleted; with a second admin, both can", async () => {
    const admin = await uuidOf("admin");
    expect((await call(api, "PUT", `/v1/user/${admin}`, 409, { body: { role: "operator" } })).json.error).toContain("last admin");
    expect((await call(api, "DELETE", `/v1/user/${admin}`, 409)).json.error).toContain("last admin");
    // Keeping the role, or changing only the password, is fine.
    await call(api, "PUT", `/v1/user/${admin}`, 200, { body: { role: "admin" } });
    const second = await createUser("second admin", "admin", "second pass");
    await call(api, "PUT", `/v1/user/${admin}`, 200, { body: { role: "operator" } });
    expect((await call(api, "DELETE", `/v1/user/${second}`, 409, { as: { basic: "second admin:second pass" } })).json.error).toContain("last admin");
    await call(api, "PUT", `/v1/user/${admin}`, 200, { body: { role: "admin" }, as: { basic: "second admin:second pass" } });
    await call(api, "DELETE", `/v1/user/${second}`, 200);
  });

  test("only admins: operators and viewers get 403 on every user endpoint, anonymous 401", async () => {
    const uuid = await createUser("target user");
    const all: [string, string, unknown][] = [
      ["GET", "/v1/users", undefined],
      ["POST", "/v1/users", { name: "sneaky", password: "sneaky pass", role: "admin" }],
      ["GET", `/v1/user/${uuid}`, undefined],
      ["PUT", `/v1/user/${uuid}`, { role: "admin" }],
      ["DELETE", `/v1/user/${uuid}`, undefined],
    ];
    for (const [method, path, body] of all) {
      for (const role of ["viewer", "operator"] as const) {
        await expectForbidden(api, method, path, role, body);
        expect((await api.req(method, path, { body, as: role })).json.error).toContain("needs the admin role");
      }
      await expectAuthRequired(api, method, path, body);
    }
    expect((await users()).map((u) => u.name)).not.toContain("sneaky");
    expect((await call(api, "GET", `/v1/user/${uuid}`, 200)).json.role).toBe("viewer");
  });
});
