// Users (admins only) and each user's own API tokens.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Created, Deleted, TokenCreate, TokenCreated, TokenJson, Updated, UserCreate, UserJson, UserUpdate, UuidParam, WhoAmI } from "./schemas.ts";
import { tokenJson, userJson } from "./json.ts";

export function authRoutes(router: Router): void {
  const { users } = router.core;
  route(router, {
    method: "get", path: "/v1/auth/whoami", tag: "auth", permission: "read",
    summary: "Who the credentials belong to", response: WhoAmI,
  }, ({ user }) => ({ uuid: user.uuid, name: user.name, role: user.role }));

  route(router, {
    method: "get", path: "/v1/auth/tokens", tag: "auth", permission: "read",
    summary: "List your API tokens", description: "The tokens themselves are never shown again, only their names.",
    response: v.array(TokenJson),
  }, async ({ user }) => (await users.tokens.list(user)).map(tokenJson));

  route(router, {
    method: "post", path: "/v1/auth/tokens", tag: "auth", permission: "read", body: TokenCreate,
    summary: "Create an API token", description: "The answer holds the token: it is shown this once and stored only as a hash.",
    response: TokenCreated, errors: [409],
  }, async ({ user, body }) => ({ ok: "created", ...(await users.tokens.create(user, body.name)) }));

  route(router, {
    method: "delete", path: "/v1/auth/token/:uuid", tag: "auth", permission: "read", params: UuidParam,
    summary: "Revoke one of your API tokens", response: Deleted, errors: [404],
  }, async ({ user, params }) => {
    await users.tokens.revoke(user, params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    method: "get", path: "/v1/users", tag: "users", permission: "admin",
    summary: "List users", response: v.array(UserJson),
  }, async () => (await router.core.catalog.users.list()).map(userJson));

  route(router, {
    method: "post", path: "/v1/users", tag: "users", permission: "admin", body: UserCreate,
    summary: "Create a user", response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await users.create(body) }));

  route(router, {
    method: "get", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Show a user", response: UserJson, errors: [404],
  }, async ({ params }) => userJson(await users.get(params.uuid)));

  route(router, {
    method: "put", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam, body: UserUpdate,
    summary: "Change a user's password or role", description: "The last admin cannot be demoted.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await users.update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    method: "delete", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Delete a user and their tokens", description: "The last admin cannot be deleted.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await users.delete(params.uuid);
    return { ok: "deleted" };
  });
}
