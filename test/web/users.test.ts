// The Users page (admins) and the API tokens page (everyone), in-process over /v1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signedIn, WebClient } from "./session-client.ts";
import { PASSWORD, type TestApi } from "../helpers/app.ts";
import type { Hono } from "hono";

describe("users and API tokens in the web UI", () => {
  let t: TestApi;
  let web: Hono<any>;
  let admin: WebClient;
  beforeAll(async () => ({ t, web, b: admin } = await signedIn("admin")));
  afterAll(() => t.cleanup());

  test("only admins have Users in the menu; others asking by URL get the API's refusal", async () => {
    expect((await admin.get("/")).html).toContain('href="/users"');
    const op = new WebClient(web);
    await op.signIn("operator");
    const home = await op.get("/");
    expect(home.html).not.toContain('href="/users"');
    expect(home.html).toContain('href="/tokens"');
    const r = await op.get("/users");
    expect(r.status).toBe(403);
    expect(r.html).toContain("needs the admin role");
    // A forged form is refused by the API too.
    const forged = await op.post("/users", { name: "mallory", password: "correct horse battery", role: "admin" });
    expect(forged.status).toBe(403);
    expect((await t.req("GET", "/v1/users", { as: "admin" })).json.some((u: any) => u.name === "mallory")).toBe(false);
  });

  test("an admin creates a user, changes the role and password, then deletes them", async () => {
    let r = await admin.post("/users", { name: "carol", password: "short", role: "operator" });
    expect(r.status).toBe(400);
    expect(r.html).toContain("must be at least 8 characters");
    r = await admin.post("/users", { name: "carol", password: "carols first password", role: "operator" });
    expect(r.status).toBe(303);
    const list = await admin.get("/users");
    expect(list.html).toContain("User “carol” added.");
    expect(list.html).toContain('id="user-carol"');
    const carol = (await t.req("GET", "/v1/users", { as: "admin" })).json.find((u: any) => u.name === "carol");
    expect(carol.role).toBe("operator");

    expect((await admin.get(`/users/${carol.uuid}/edit`)).html).toContain("Edit user carol");
    r = await admin.post(`/users/${carol.uuid}`, { role: "viewer", password: "carols second password" });
    expect(r.status).toBe(303);
    expect((await t.req("GET", `/v1/user/${carol.uuid}`, { as: "admin" })).json.role).toBe("viewer");
    const asCarol = new WebClient(web);
    expect((await asCarol.signIn("carol", "carols first password")).status).toBe(401);
    expect((await asCarol.signIn("carol", "carols second password")).status).toBe(303);

    // An empty password keeps the current one.
    r = await admin.post(`/users/${carol.uuid}`, { role: "operator", password: "" });
    expect(r.status).toBe(303);
    expect((await new WebClient(web).signIn("carol", "carols second password")).status).toBe(303);

    expect((await admin.get(`/users/${carol.uuid}/delete`)).html).toContain("Delete user carol?");
    r = await admin.post(`/users/${carol.uuid}/delete`);
    expect(r.status).toBe(303);
    expect((await t.req("GET", `/v1/user/${carol.uuid}`, { as: "admin" })).status).toBe(404);
    // Her browser is signed out.
    expect((await asCarol.get("/")).status).toBe(303);
  });

  test("the last admin cannot be demoted: the page says why", async () => {
    const me = (await t.req("GET", "/v1/auth/whoami", { as: "admin" })).json;
    const r = await admin.post(`/users/${me.uuid}`, { role: "viewer" });
    expect(r.status).toBe(409);
    expect(r.html).toMatch(/last admin/);
  });

  test("a viewer creates a limited token, sees it once, uses it, and revokes it", async () => {
    const v = new WebClient(web);
    await v.signIn("viewer");
    let r = await v.get("/tokens");
    expect(r.status).toBe(200);
    expect(r.html).toContain("You have no API tokens.");
    // A viewer cannot make a token stronger than themselves: the form offers nothing above.
    expect(r.html).not.toContain("Only operator");
    // The password is asked again: a token outlives the session it is made in.
    r = await v.post("/tokens", { name: "report-script", role: "", expires_in: String(30 * 86400) });
    expect(r.status).toBe(400);
    expect(r.html).toContain("type your password");
    r = await v.post("/tokens", { name: "report-script", role: "", expires_in: String(30 * 86400), password: "wrong password" });
    expect(r.status).toBe(400);
    expect(r.html).toContain("is not your password");
    r = await v.post("/tokens", { name: "report-script", role: "", expires_in: String(30 * 86400), password: PASSWORD });
    expect(r.status).toBe(200);
    // It lives its 30 days, not the 12 hours of the web session it was made in.
    expect(r.html).toMatch(new RegExp(`ends <time datetime="${new Date(Date.now() + 30 * 86400_000).toISOString().slice(0, 10)}`));
    const token = /id="new-token" readonly="" value="([^"]+)"/.exec(r.html)?.[1] ?? /value="([^"]+)"[^>]*id="new-token"/.exec(r.html)?.[1];
    expect(token).toBeDefined();
    expect(r.html).toContain('data-copy="new-token"');
    expect(r.html).toContain("shown this once");
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: token! } })).json.name).toBe("viewer");
    // Shown once: the list afterwards has the name, never the token.
    const list = await v.get("/tokens");
    expect(list.html).toContain("report-script");
    // Web sessions are listed apart, this browser's marked.
    expect(list.html).toContain("Your web sessions");
    expect(list.html).toContain("(this browser)");
    expect(list.html).not.toContain(token!);
    const uuid = /id="token-([0-9a-f-]{36})"><td data-label="Name">report-script/.exec(list.html)![1]!;
    r = await v.post(`/tokens/${uuid}/revoke`);
    expect(r.status).toBe(303);
    expect((await v.get("/tokens")).html).toContain("Revoked: it no longer works");
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: token! } })).status).toBe(401);
  });

  test("an operator's token limited to viewer acts as viewer; bad input is named", async () => {
    const op = new WebClient(web);
    await op.signIn("operator");
    let r = await op.post("/tokens", { name: "", expires_in: "", password: PASSWORD });
    expect(r.status).toBe(400);
    expect(r.html).toContain("must not be empty");
    r = await op.post("/tokens", { name: "read-only", role: "viewer", expires_in: "", password: PASSWORD });
    const token = /value="([^"]+)"[^>]*id="new-token"|id="new-token"[^>]*value="([^"]+)"/.exec(r.html)!;
    const value = token[1] ?? token[2]!;
    expect((await t.req("GET", "/v1/auth/whoami", { as: { token: value } })).json.role).toBe("viewer");
    expect(r.html).toContain("does not expire");
  });
});
