// Users (admins only) and each user's own API tokens.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { nowSeconds } from "../catalog/index.ts";
import {
  Created, Deleted, ProviderCreate, ProviderJson, ProviderNameParam, ProviderUpdate, SessionJson, SessionQuery,
  TokenCreate, TokenCreated, TokenJson, Updated, UserCreate, UserJson, UserUpdate, UuidParam, WhoAmI,
} from "./schemas.ts";
import { formatTime, providerJson, sessionJson, tokenJson, userJson } from "./json.ts";

export function authRoutes(router: Router): void {
  const { users } = router.core;
  route(router, {
    method: "get", path: "/v1/auth/whoami", tag: "auth", permission: "read",
    summary: "Who the credentials belong to", response: WhoAmI,
  }, ({ user }) => ({ uuid: user.uuid, name: user.name, role: user.role, provider: user.provider }));

  route(router, {
    method: "get", path: "/v1/auth/tokens", tag: "auth", permission: "read",
    summary: "List your API tokens", description: "The tokens themselves are never shown again, only their names.",
    response: v.array(TokenJson),
  }, async ({ user }) => (await users.tokens.list(user)).map(tokenJson));

  route(router, {
    // A token made with a password is a sign-in: the web UI and `shield login` do just that.
    audit: { type: "token", action: ({ user }) => (user.via === "password" ? "sign-in" : "create"), id: ({ result }) => result?.uuid, name: ({ body }) => body.name },
    method: "post", path: "/v1/auth/tokens", tag: "auth", permission: "read", body: TokenCreate,
    summary: "Create an API token",
    description: "The answer holds the token: it is shown this once and stored only as a hash. `role` limits the token below your role; " +
      "`expires_in` (seconds) or `expires_at` (UTC) ends it: an expired token is refused (401). A token made with a token is no stronger and lives no longer than it.",
    response: TokenCreated, errors: [409],
  }, async ({ user, body }) => {
    const expiresAt = body.expires_in !== undefined ? nowSeconds() + body.expires_in : body.expires_at;
    const made = await users.tokens.create(user, body.name, { role: body.role, expiresAt });
    return { ok: "created", uuid: made.uuid, token: made.token, role: made.role, expires_at: formatTime(made.expiresAt) };
  });

  route(router, {
    audit: { type: "token", action: "delete" },
    method: "delete", path: "/v1/auth/token/:uuid", tag: "auth", permission: "read", params: UuidParam,
    summary: "Revoke one of your API tokens", response: Deleted, errors: [404],
  }, async ({ user, params }) => {
    await users.tokens.revoke(user, params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    method: "get", path: "/v1/auth/sessions", tag: "auth", permission: "admin", query: SessionQuery,
    summary: "List every user's sessions",
    description: "Web sessions and API tokens of every user (or of `user`, a user's uuid), with their owner. The tokens themselves are never shown.",
    response: v.array(SessionJson), errors: [404],
  }, async ({ query }) => (await users.sessions.list(query.user)).map(sessionJson));

  route(router, {
    audit: { type: "session", action: "delete" },
    method: "delete", path: "/v1/auth/session/:uuid", tag: "auth", permission: "admin", params: UuidParam,
    summary: "Revoke any user's session or API token", response: Deleted, errors: [404],
  }, async ({ params }) => {
    await users.sessions.revoke(params.uuid);
    return { ok: "deleted" };
  });

  const { providers } = router.core;
  route(router, {
    method: "get", path: "/v1/auth/providers", tag: "auth", permission: "admin",
    summary: "List the auth providers", description: "The built-in local provider first, then the others in the order sign-in asks them. Secret settings are shown as ********.",
    response: v.array(ProviderJson),
  }, async () => (await providers.list()).map(providerJson));

  route(router, {
    audit: { type: "auth provider", action: "create", id: ({ body }) => body.name },
    method: "post", path: "/v1/auth/providers", tag: "auth", permission: "admin", body: ProviderCreate,
    summary: "Add an auth provider",
    description: "ldap: config {url, base_dn, bind_dn, bind_password, user_filter, group_base_dn, groups: {admin, operator, viewer}, default_role, start_tls, ca_file, timeout_ms}. " +
      "none: everyone is admin without signing in; refused unless the daemon listens on loopback only.",
    response: v.object({ ok: v.literal("created"), name: v.string() }), errors: [409],
  }, async ({ body }) => {
    await providers.create(body);
    return { ok: "created", name: body.name };
  });

  route(router, {
    method: "get", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam,
    summary: "Show an auth provider", response: ProviderJson, errors: [404],
  }, async ({ params }) => providerJson(await providers.get(params.name)));

  route(router, {
    audit: { type: "auth provider", action: "update" },
    method: "put", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam, body: ProviderUpdate,
    summary: "Change an auth provider's settings", description: "The config replaces the stored one; a bind_password left out (or sent back as ********) keeps the stored one.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await providers.update(params.name, body.config);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "auth provider", action: "delete" },
    method: "delete", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam,
    summary: "Remove an auth provider", description: "Its users can no longer sign in; their sessions end at their next re-check. local cannot be removed.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await providers.delete(params.name);
    return { ok: "deleted" };
  });

  route(router, {
    method: "get", path: "/v1/users", tag: "users", permission: "admin",
    summary: "List users", response: v.array(UserJson),
  }, async () => (await router.core.catalog.users.list()).map(userJson));

  route(router, {
    audit: { type: "user", action: "create", id: ({ result }) => result?.uuid },
    method: "post", path: "/v1/users", tag: "users", permission: "admin", body: UserCreate,
    summary: "Create a user", response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await users.create(body) }));

  route(router, {
    method: "get", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Show a user", response: UserJson, errors: [404],
  }, async ({ params }) => userJson(await users.get(params.uuid)));

  route(router, {
    audit: { type: "user", action: "update" },
    method: "put", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam, body: UserUpdate,
    summary: "Change a user's password or role", description: "The last admin cannot be demoted.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await users.update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "user", action: "delete" },
    method: "delete", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Delete a user and their tokens", description: "The last admin cannot be deleted.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await users.delete(params.uuid);
    return { ok: "deleted" };
  });
}
