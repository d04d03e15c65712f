// Users (admins only) and each user's own API tokens.
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import type { AuditSpec } from "./audit.ts";
import { nowSeconds } from "../catalog/index.ts";
import {
  Created, Deleted, ProviderCreate, ProviderJson, ProviderNameParam, ProviderUpdate, SessionJson, SessionQuery,
  SsoDevice, SsoFinish, SsoPoll, SsoPolled, SsoProviderJson, SsoSignedIn, SsoStart, SsoStarted,
  TokenCreate, TokenCreated, TokenJson, Updated, UserCreate, UserJson, UserUpdate, UuidParam, WhoAmI,
} from "./schemas.ts";
import { Unauthenticated } from "../core/errors.ts";
import type { Principal } from "../core/users.ts";
import type { CodeFlowState, DeviceFlowState } from "../core/providers/index.ts";
import { formatTime, providerJson, sessionJson, tokenJson, userJson } from "./json.ts";

class Pending extends Error {}

export function authRoutes(router: Router): void {
  const { users } = router.core;
  route(router, {
    method: "get", operationId: "whoAmI", path: "/v1/auth/whoami", tag: "auth", permission: "read",
    summary: "Who the credentials belong to", response: WhoAmI,
  }, ({ user }) => ({ uuid: user.uuid, name: user.name, role: user.role, provider: user.provider }));

  route(router, {
    method: "get", operationId: "listTokens", path: "/v1/auth/tokens", tag: "auth", permission: "read",
    summary: "List your API tokens", description: "The tokens themselves are never shown again, only their names.",
    response: v.array(TokenJson),
  }, async ({ user }) => (await users.tokens.list(user)).map(tokenJson));

  route(router, {
    // A token made with a password is a sign-in: the web UI and `shield login` do just that.
    audit: { type: "token", action: ({ user }) => (user.via === "password" ? "sign-in" : "create"), id: ({ result }) => result?.uuid, name: ({ body }) => body.name },
    method: "post", operationId: "createToken", path: "/v1/auth/tokens", tag: "auth", permission: "read", body: TokenCreate,
    example: { name: "ci-pipeline", role: "operator", expires_in: 2592000 },
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
    method: "delete", operationId: "revokeToken", path: "/v1/auth/token/:uuid", tag: "auth", permission: "read", params: UuidParam,
    summary: "Revoke one of your API tokens", response: Deleted, errors: [404],
  }, async ({ user, params }) => {
    await users.tokens.revoke(user, params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    method: "get", operationId: "listSessions", path: "/v1/auth/sessions", tag: "auth", permission: "admin", query: SessionQuery,
    summary: "List every user's sessions",
    description: "Web sessions and API tokens of every user (or of `user`, a user's uuid), with their owner. The tokens themselves are never shown.",
    response: v.array(SessionJson), errors: [404],
  }, async ({ query }) => (await users.sessions.list(query.user)).map(sessionJson));

  route(router, {
    audit: { type: "session", action: "delete" },
    method: "delete", operationId: "revokeSession", path: "/v1/auth/session/:uuid", tag: "auth", permission: "admin", params: UuidParam,
    summary: "Revoke any user's session or API token", response: Deleted, errors: [404],
  }, async ({ params }) => {
    await users.sessions.revoke(params.uuid);
    return { ok: "deleted" };
  });

  const { providers } = router.core;
  route(router, {
    method: "get", operationId: "listProviders", path: "/v1/auth/providers", tag: "auth", permission: "admin",
    summary: "List the auth providers", description: "The built-in local provider first, then the others in the order sign-in asks them. Secret settings are shown as ********.",
    response: v.array(ProviderJson),
  }, async () => (await providers.list()).map(providerJson));

  route(router, {
    audit: { type: "auth provider", action: "create", id: ({ body }) => body.name },
    method: "post", operationId: "createProvider", path: "/v1/auth/providers", tag: "auth", permission: "admin", body: ProviderCreate,
    example: { name: "corp-ldap", type: "ldap", config: { url: "ldaps://ldap.example.com", base_dn: "ou=people,dc=example,dc=com", bind_dn: "cn=shield,ou=services,dc=example,dc=com", bind_password: "s3cret", user_filter: "(uid={username})" } },
    summary: "Add an auth provider",
    description: "ldap: config {url, base_dn, bind_dn, bind_password, user_filter, group_base_dn, groups: {admin, operator, viewer}, default_role, start_tls, ca_file, timeout_ms}. " +
      "oidc: config {issuer, client_id, client_secret, token_endpoint_auth, scopes, username_claim, role_claim, roles: {admin, operator, viewer}, default_role, display_name, timeout_ms}. " +
      "none: everyone is admin without signing in; refused unless the daemon listens on loopback only.",
    response: v.object({ ok: v.literal("created"), name: v.string() }), errors: [409],
  }, async ({ body }) => {
    await providers.create(body);
    return { ok: "created", name: body.name };
  });

  route(router, {
    method: "get", operationId: "showProvider", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam,
    summary: "Show an auth provider", response: ProviderJson, errors: [404],
  }, async ({ params }) => providerJson(await providers.get(params.name)));

  route(router, {
    audit: { type: "auth provider", action: "update" },
    method: "put", operationId: "updateProvider", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam, body: ProviderUpdate,
    example: { config: { url: "ldaps://ldap2.example.com", base_dn: "ou=people,dc=example,dc=com", user_filter: "(uid={username})" } },
    summary: "Change an auth provider's settings", description: "The config replaces the stored one; a bind_password or client_secret left out (or sent back as ********) keeps the stored one.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await providers.update(params.name, body.config);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "auth provider", action: "delete" },
    method: "delete", operationId: "deleteProvider", path: "/v1/auth/provider/:name", tag: "auth", permission: "admin", params: ProviderNameParam,
    summary: "Remove an auth provider", description: "Its users can no longer sign in; their sessions end at their next re-check. local cannot be removed.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await providers.delete(params.name);
    return { ok: "deleted" };
  });

  // Single sign-on. Public: these are how a user without credentials gets some. The
  // daemon alone talks to the provider (it holds the client secret); the client
  // only carries the sealed state between the two halves of a flow.
  route(router, {
    method: "get", operationId: "listSsoProviders", path: "/v1/auth/sso", tag: "auth", permission: "public",
    summary: "List the single sign-on providers", description: "For the sign-in page's buttons and `shield login --sso`: name and button label only.",
    response: v.array(SsoProviderJson),
  }, async () => providers.ssoProviders());

  route(router, {
    audit: { none: "starts a sign-in: nothing changes until it finishes" },
    method: "post", operationId: "startSsoSignIn", path: "/v1/auth/sso/:name/start", tag: "auth", permission: "public", params: ProviderNameParam, body: SsoStart,
    example: { redirect_uri: "https://shield.example.com/signin/sso/corp/callback" },
    summary: "Start an OIDC sign-in (authorization code with PKCE)",
    description: "Answers the provider's authorization URL to send the browser to, and `state`, an opaque sealed text to keep (a cookie) and send to finish. " +
      "`redirect_uri` must be registered with the provider (the web UI's is `PUBLIC_URL/signin/sso/NAME/callback`).",
    response: SsoStarted, errors: [404, 503],
  }, async ({ params, body }) => {
    const p = await providers.sso(params.name);
    const started = await users.ssoCall(() => p.start(body.redirect_uri));
    return { url: started.url, state: providers.sealBlob("sso-code", started.state) };
  });

  /**
   * The audit trail of an SSO sign-in: the route is public, so the request names
   * nobody; the user is read from the answer (who the provider vouched for), and
   * the entry is a token made at sign-in, like a password sign-in's. A refusal is
   * recorded under the provider's name: the user is not known.
   */
  const ssoSignInAudit: AuditSpec = {
    type: "token", action: "sign-in", id: ({ result }) => result?.uuid,
    actor: async ({ params, result }) => {
      if (!result?.token) return undefined; // still pending
      const u = await router.core.catalog.users.byName(result.user);
      return { uuid: u?.uuid, name: result.user, provider: params.name };
    },
    refused: ({ params }) => `(${params.name} sign-in)`,
    detail: ({ params }) => ({ provider: params.name }),
  };

  const signedIn = async (principal: Principal, provider: string, tokenName: string | undefined, expiresIn: number | undefined) => {
    const name = tokenName ?? `${provider} sign-in ${new Date().toISOString().slice(0, 19).replace("T", " ")} ${crypto.randomUUID().slice(0, 6)}`;
    const made = await users.tokens.create(principal, name, { expiresAt: expiresIn === undefined ? undefined : nowSeconds() + expiresIn });
    return { ok: "created" as const, uuid: made.uuid, token: made.token, user: principal.name, role: made.role, expires_at: formatTime(made.expiresAt) };
  };

  route(router, {
    audit: ssoSignInAudit,
    method: "post", operationId: "finishSsoSignIn", path: "/v1/auth/sso/:name/finish", tag: "auth", permission: "public", params: ProviderNameParam, body: SsoFinish,
    example: { state: "v1.c2VhbGVkIGZsb3cgc3RhdGU", query: { code: "SplxlOBeZQQYbYS6WxSbIA", state: "af0ifjsldkj" }, token_name: "web session", expires_in: 43200 },
    summary: "Finish an OIDC sign-in: trade the callback for an API token",
    description: "`query` is the callback's query (code, state, iss…), `state` what start answered. The code is exchanged with the PKCE verifier and the ID token checked " +
      "(signature against the issuer's JWKS, issuer, audience, expiry, nonce, state); the user is added at first sign-in and their role refreshed from the role claim. " +
      "A refusal is a 401 saying which check failed.",
    response: SsoSignedIn, errors: [404, 503],
  }, async ({ params, body }) => {
    const p = await providers.sso(params.name);
    const kept = providers.openBlob<CodeFlowState>("sso-code", body.state);
    if (!kept) throw new Unauthenticated("the sign-in state is not one this daemon made (damaged, or sealed with another master key): start again");
    const principal = await users.ssoSignIn(p.name, () => p.finish(body.query, kept));
    return signedIn(principal, p.name, body.token_name, body.expires_in);
  });

  route(router, {
    audit: { none: "starts a sign-in: nothing changes until it finishes" },
    method: "post", operationId: "startSsoDeviceSignIn", path: "/v1/auth/sso/:name/device", tag: "auth", permission: "public", params: ProviderNameParam,
    summary: "Start an OIDC sign-in with the device authorization grant (shield login --sso)",
    description: "Answers the code to show the user and where they enter it, and `state` to poll with. 409 when the provider does not offer the grant.",
    response: SsoDevice, errors: [404, 409, 503],
  }, async ({ params }) => {
    const p = await providers.sso(params.name);
    const d = await users.ssoCall(() => p.device());
    return { user_code: d.user_code, verification_uri: d.verification_uri, verification_uri_complete: d.verification_uri_complete, interval: d.interval, expires_in: d.expires_in, state: providers.sealBlob("sso-device", d.state) };
  });

  route(router, {
    audit: ssoSignInAudit,
    method: "post", operationId: "pollSsoDeviceSignIn", path: "/v1/auth/sso/:name/device/poll", tag: "auth", permission: "public", params: ProviderNameParam, body: SsoPoll,
    example: { state: "v1.c2VhbGVkIGZsb3cgc3RhdGU", token_name: "laptop", expires_in: 43200 },
    summary: "Poll a device sign-in", description: "`{pending: true, interval}` until the user has approved, then an API token like finish's.",
    response: SsoPolled, errors: [404, 503],
  }, async ({ params, body }) => {
    const p = await providers.sso(params.name);
    const kept = providers.openBlob<DeviceFlowState>("sso-device", body.state);
    if (!kept) throw new Unauthenticated("the device sign-in state is not one this daemon made: run shield login --sso again");
    let interval = 0;
    const principal = await users.ssoSignIn(p.name, async () => {
      const r = await p.poll(kept);
      if (r.pending) {
        interval = r.slowDown ? 10 : 5;
        throw new Pending();
      }
      return r.identity;
    }).catch((err) => {
      if (err instanceof Pending) return undefined;
      throw err;
    });
    if (!principal) return { pending: true as const, interval };
    return signedIn(principal, p.name, body.token_name, body.expires_in);
  });

  route(router, {
    method: "get", operationId: "listUsers", path: "/v1/users", tag: "users", permission: "admin",
    summary: "List users", response: v.array(UserJson),
  }, async () => (await router.core.catalog.users.list()).map(userJson));

  route(router, {
    audit: { type: "user", action: "create", id: ({ result }) => result?.uuid },
    method: "post", operationId: "createUser", path: "/v1/users", tag: "users", permission: "admin", body: UserCreate,
    example: { name: "alice", password: "correct horse battery", role: "operator" },
    summary: "Create a user", response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await users.create(body) }));

  route(router, {
    method: "get", operationId: "showUser", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Show a user", response: UserJson, errors: [404],
  }, async ({ params }) => userJson(await users.get(params.uuid)));

  route(router, {
    audit: { type: "user", action: "update" },
    method: "put", operationId: "updateUser", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam, body: UserUpdate,
    example: { role: "viewer" },
    summary: "Change a user's password or role", description: "The last admin cannot be demoted.",
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await users.update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "user", action: "delete" },
    method: "delete", operationId: "deleteUser", path: "/v1/user/:uuid", tag: "users", permission: "admin", params: UuidParam,
    summary: "Delete a user and their tokens", description: "The last admin cannot be deleted.",
    response: Deleted, errors: [404, 409],
  }, async ({ params }) => {
    await users.delete(params.uuid);
    return { ok: "deleted" };
  });
}
