// Users (admins) over /v1/users and /v1/user/:uuid, and every user's own API
// tokens over /v1/auth/tokens. The pages offer what the role allows; the API
// decides (a non-admin asking for /users gets its 403, in its words).
import type { Hono } from "hono";
import { ApiClient } from "./client.ts";
import { WEB_SESSION_PREFIX } from "./session.ts";
import type { ApiEnv } from "../api/route.ts";
import { TokensPage, UserForm, UsersPage, type NewToken, type TokenRow, type UserRow } from "../../views/users.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { errorsOf, param, readForm, type Form } from "./forms.ts";
import { me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";

export function userPages(app: Hono<WebEnv>, api: Hono): void {
  const usersPage = async (c: WebContext, values: Form = {}, errors: Record<string, string> = {}, status = 200) => {
    const users = await c.get("session").api.get<UserRow[]>("/v1/users");
    return page(c, { title: "Users", section: "users", status }, <UsersPage me={me(c.get("session"))} users={users} values={values} errors={errors} />);
  };

  app.get("/users", (c) => usersPage(c));

  app.post("/users", async (c) => {
    const f = await readForm(c);
    const r = await c.get("session").api.send("POST", "/v1/users", { name: f.name ?? "", password: f.password ?? "", role: f.role ?? "" });
    if (!r.ok) return usersPage(c, f, errorsOf(r), r.status);
    return seeOther(c, "/users", `User “${f.name?.trim()}” added.`);
  });

  app.get("/users/:uuid/edit", async (c) => {
    const user = await c.get("session").api.get<UserRow>(`/v1/user/${param(c, "uuid")}`);
    return userForm(c, user, {}, {});
  });

  app.post("/users/:uuid", async (c) => {
    const s = c.get("session");
    const user = await s.api.get<UserRow>(`/v1/user/${param(c, "uuid")}`);
    const f = await readForm(c);
    // An empty password field means "keep it": only what was typed is sent.
    const body: Record<string, string> = { role: f.role ?? "" };
    if (f.password) body.password = f.password;
    const r = await s.api.send("PUT", `/v1/user/${user.uuid}`, body);
    if (!r.ok) return userForm(c, user, f, errorsOf(r), r.status);
    return seeOther(c, "/users", `User “${user.name}” saved${f.password ? " with a new password" : ""}.`);
  });

  app.get("/users/:uuid/delete", async (c) => {
    const s = c.get("session");
    const user = await s.api.get<UserRow>(`/v1/user/${param(c, "uuid")}`);
    return page(c, { title: `Delete user ${user.name}`, section: "users" },
      <Confirm me={me(s)} title={`Delete user ${user.name}?`} action={`/users/${user.uuid}/delete`} button="Delete user" cancel="/users">
        <p>{user.name} ({user.role}) can no longer sign in; their sessions and API tokens end now. Tasks and archives they started stay.</p>
      </Confirm>);
  });

  app.post("/users/:uuid/delete", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/user/${param(c, "uuid")}`);
    if (!r.ok) return seeOther(c, "/users", `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/users", "User deleted.");
  });

  const tokensPage = async (c: WebContext, o: { created?: NewToken; values?: Form; errors?: Record<string, string>; status?: number } = {}) => {
    const s = c.get("session");
    const all = await s.api.get<TokenRow[]>("/v1/auth/tokens");
    const isSession = (t: TokenRow) => t.name.startsWith(WEB_SESSION_PREFIX);
    return page(c, { title: "API tokens", section: "tokens", status: o.status },
      <TokensPage me={me(s)} tokens={all.filter((t) => !isSession(t))} sessions={all.filter(isSession)} current={s.tokenUuid}
        askPassword={s.tokenUuid !== ""} created={o.created} values={o.values ?? {}} errors={o.errors ?? {}} />);
  };

  app.get("/tokens", (c) => tokensPage(c));

  app.post("/tokens", async (c) => {
    const f = await readForm(c);
    const body: Record<string, unknown> = { name: f.name ?? "" };
    if (f.role) body.role = f.role;
    if (f.expires_in) {
      const seconds = Number(f.expires_in);
      if (!Number.isInteger(seconds)) return tokensPage(c, { values: f, errors: { expires_in: "must be one of the choices" }, status: 400 });
      body.expires_in = seconds;
    }
    const s = c.get("session");
    // A token made with a token lives no longer than it (the API's rule), and a web
    // session ends within hours: so a new token is made with the user's password,
    // asked again here, as sites ask before anything that outlives the session.
    // The lab's session (the none provider) has neither password nor token.
    let client = s.api;
    if (s.tokenUuid) {
      if (!f.password) return tokensPage(c, { values: f, errors: { password: "is required: type your password to create a token" }, status: 400 });
      client = new ApiClient(api, `Basic ${Buffer.from(`${s.user.name}:${f.password}`).toString("base64")}`, c.env as ApiEnv | undefined);
    }
    const r = await client.send<{ token: string; role: string; expires_at: string | null }>("POST", "/v1/auth/tokens", body);
    if (!r.ok) {
      const errors = r.status === 401 ? { password: "is not your password" }
        : r.status === 429 ? { password: `too many wrong passwords: try again in ${r.retryAfter ?? "a few"} seconds` } : errorsOf(r);
      return tokensPage(c, { values: f, errors, status: r.status === 401 ? 400 : r.status });
    }
    // Answered here rather than after a redirect: the token must not travel in a cookie
    // or a URL, and it is shown this once (the page is not cached: no-store).
    return tokensPage(c, { created: { name: String(body.name).trim(), token: r.data.token, role: r.data.role, expires_at: r.data.expires_at } });
  });

  app.post("/tokens/:uuid/revoke", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/auth/token/${param(c, "uuid")}`);
    if (!r.ok) return seeOther(c, "/tokens", `Not revoked: ${r.error}`, "error");
    // Revoking the session this browser uses is signing out.
    if (param(c, "uuid") === c.get("session").tokenUuid) return seeOther(c, "/signin");
    return seeOther(c, "/tokens", "Revoked: it no longer works.");
  });

  function userForm(c: WebContext, user: UserRow, values: Form, errors: Record<string, string>, status = 200) {
    return page(c, { title: `Edit user ${user.name}`, section: "users", status },
      <UserForm me={me(c.get("session"))} user={user} values={values} errors={errors} />);
  }
}
