// The `oidc` provider: an OpenID Connect provider (Keycloak, Entra ID, Okta,
// Dex, Google…) proves who the user is, and a claim of its tokens gives the role.
// The protocol work (discovery, PKCE, the token requests, and checking the ID
// token: its JWS signature against the issuer's JWKS, issuer, audience, expiry,
// nonce, state) is openid-client's, a certified relying party library; this file
// only decides what the claims mean for Shield.
//
// Three ways in, each ending in the same verdict:
//   - the web UI's authorization-code flow with PKCE (start → the provider → finish);
//   - the CLI's device authorization grant (device → the user approves elsewhere → poll);
//   - re-checks of a user signed in earlier (recheck), with the refresh token kept
//     from the last sign-in: a refresh grant gives fresh claims (the ID token's and
//     the userinfo's), so a user removed from the provider, or from its groups,
//     loses access at the next re-check. A provider that issued no refresh token
//     (offline_access not granted) cannot be asked again: the user's sessions
//     then end at their first re-check, and they sign in again.
import * as oc from "openid-client";
import type { Role } from "../../catalog/index.ts";
import { highestRole, ProviderUnavailable, type Verdict } from "./contract.ts";

export interface OidcConfig {
  /** The issuer URL; its /.well-known/openid-configuration is read (discovery). */
  issuer: string;
  client_id: string;
  /** A confidential client's secret (sealed at rest); left out: a public client (PKCE only). */
  client_secret?: string;
  /** How the secret is sent to the token endpoint (default basic). */
  token_endpoint_auth?: "basic" | "post";
  /** Default openid, profile, email, offline_access (the last one asks for a refresh token, for re-checks). */
  scopes?: string[];
  /** The claim holding the Shield user name (default preferred_username). */
  username_claim?: string;
  /** The claim holding groups or roles (default groups); a dotted path reaches into an object (realm_access.roles). */
  role_claim?: string;
  /** Claim value → role; a user with several gets the highest. */
  roles?: { admin?: string[]; operator?: string[]; viewer?: string[] };
  /** The role of a user whose claim maps to none; left out (null): such a user is refused. */
  default_role?: Role | null;
  /** The sign-in button's words: "Sign in with <display_name>" (default the provider's name). */
  display_name?: string;
  /** Each request to the provider gives up after this long (default 10000 ms). */
  timeout_ms?: number;
}

export const DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access"];
export const DEFAULT_USERNAME_CLAIM = "preferred_username";
export const DEFAULT_ROLE_CLAIM = "groups";

/** The provider said no, or its answer failed a check (signature, audience, nonce…): a 401, with why. */
export class SsoRefused extends Error {}
/** The provider does not offer what was asked (the device grant): a 409, saying what to do instead. */
export class SsoUnsupported extends Error {}

/** What the web UI keeps (sealed, in a cookie) between start and finish. */
export interface CodeFlowState { provider: string; redirect_uri: string; verifier: string; state: string; nonce: string; expires: number }
/** What the CLI keeps (sealed) between device and poll. */
export interface DeviceFlowState { provider: string; device_code: string; expires: number }
/** Kept with the user (sealed) for re-checks. */
export interface OidcUserData { sub: string; refresh_token?: string }

export interface SsoIdentity { name: string; verdict: Verdict; data: OidcUserData }

/** Loopback hosts may be plain http (a provider on the same machine, the tests); any other needs https. */
export function isLoopbackUrl(url: URL): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** Reads a claim by name, or by a dotted path into nested objects (Keycloak's realm_access.roles). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let at: unknown = claims;
  for (const part of path.split(".")) {
    if (!at || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** The role the claims give: the highest mapped value, else the default role, else none. */
export function roleFromClaims(config: Pick<OidcConfig, "role_claim" | "roles" | "default_role">, claims: Record<string, unknown>): Verdict {
  const raw = claimAt(claims, config.role_claim ?? DEFAULT_ROLE_CLAIM);
  // A single value (a string) or a list; anything else counts as no value.
  const values = new Set((typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : []).filter((x): x is string => typeof x === "string"));
  const roles: Role[] = [];
  for (const role of ["admin", "operator", "viewer"] as const) {
    if ((config.roles?.[role] ?? []).some((v) => values.has(v))) roles.push(role);
  }
  const role = highestRole(roles) ?? config.default_role ?? undefined;
  return role ? { ok: true, role } : { ok: false, reason: "no-role" };
}

// Discovery is a request to the issuer: kept a few minutes per settings, so a
// burst of sign-ins asks once, and a changed setting (another key) asks again.
const DISCOVERY_TTL_MS = 5 * 60_000;
const discovered = new Map<string, { at: number; config: Promise<oc.Configuration> }>();

const FLOW_SECONDS = 10 * 60;

export function oidcProvider(name: string, config: OidcConfig) {
  const timeout = config.timeout_ms ?? 10_000;
  const scopes = config.scopes ?? DEFAULT_SCOPES;
  const usernameClaim = config.username_claim ?? DEFAULT_USERNAME_CLAIM;

  function configuration(): Promise<oc.Configuration> {
    // Hashed: the map's keys are no second copy of the client secret.
    const key = new Bun.CryptoHasher("sha256").update(JSON.stringify([config.issuer, config.client_id, config.client_secret ?? "", config.token_endpoint_auth ?? "", timeout])).digest("hex");
    const hit = discovered.get(key);
    if (hit && Date.now() - hit.at < DISCOVERY_TTL_MS) return hit.config;
    const issuer = new URL(config.issuer);
    const auth = !config.client_secret ? oc.None()
      : config.token_endpoint_auth === "post" ? oc.ClientSecretPost(config.client_secret) : oc.ClientSecretBasic(config.client_secret);
    const made = oc.discovery(issuer, config.client_id, undefined, auth, {
      timeout: Math.ceil(timeout / 1000),
      // Plain http only to a provider on this machine (checked in the settings too).
      ...(issuer.protocol === "http:" && isLoopbackUrl(issuer) ? { execute: [oc.allowInsecureRequests] } : {}),
    }).then((c) => {
      // The ID token's signature is checked against the issuer's JWKS even though it came
      // straight from the token endpoint over TLS: a wrong or forged key is refused, not trusted.
      oc.enableNonRepudiationChecks(c);
      return c;
    });
    discovered.set(key, { at: Date.now(), config: made });
    made.catch(() => discovered.delete(key));
    return made;
  }

  /** Network trouble and timeouts: the provider cannot tell (503). Anything it said or we refused: 401, with why. */
  async function asking<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof SsoRefused || err instanceof SsoUnsupported || err instanceof ProviderUnavailable) throw err;
      const e = err as Error & { code?: string; error?: string; error_description?: string; cause?: unknown };
      if (err instanceof oc.ResponseBodyError || err instanceof oc.AuthorizationResponseError) {
        throw new SsoRefused(`OIDC provider "${name}" refused the ${what}: ${e.error}${e.error_description ? ` (${e.error_description})` : ""}`);
      }
      if (typeof e.code === "string" && e.code.startsWith("OAUTH_") && e.code !== "OAUTH_RESPONSE_IS_NOT_CONFORM") {
        throw new SsoRefused(`OIDC provider "${name}": the ${what} was refused: ${e.message}${e.cause && typeof e.cause === "object" && "message" in e.cause ? ` (${(e.cause as Error).message})` : ""}`);
      }
      throw new ProviderUnavailable(`OIDC provider "${name}" (${config.issuer}): ${e.message || String(err)}`);
    }
  }

  /** The user name and role from a token response's ID token and the userinfo, checked to be about one subject. */
  async function identity(c: oc.Configuration, tokens: oc.TokenEndpointResponse & oc.TokenEndpointResponseHelpers, previous?: OidcUserData): Promise<SsoIdentity> {
    const idClaims = tokens.claims() as Record<string, unknown> | undefined;
    const sub = (idClaims?.sub as string | undefined) ?? previous?.sub;
    if (!sub) throw new SsoRefused(`OIDC provider "${name}" sent no ID token`);
    // A refresh answered for another subject would be someone else's role.
    if (previous && previous.sub !== sub) throw new SsoRefused(`OIDC provider "${name}" answered for another subject`);
    let claims: Record<string, unknown> = { ...idClaims };
    // Many providers (and the spec's default) put profile and group claims in the userinfo only.
    if (c.serverMetadata().userinfo_endpoint && tokens.access_token) {
      const info = await oc.fetchUserInfo(c, tokens.access_token, sub);
      // The ID token's own claims win where both have one.
      claims = { ...info, ...claims };
    }
    const userName = claims[usernameClaim];
    if (typeof userName !== "string" || !userName.trim()) {
      throw new SsoRefused(`OIDC provider "${name}" sent no "${usernameClaim}" claim to name the user by (set username_claim, or ask the provider to include it)`);
    }
    return {
      name: userName.trim(), verdict: roleFromClaims(config, claims),
      // A refresh may or may not rotate the refresh token: the newest one is kept.
      data: { sub, refresh_token: tokens.refresh_token ?? previous?.refresh_token },
    };
  }


  return {
    kind: "redirect" as const, name, type: "oidc",
    label: config.display_name ?? name,

    /** Where to send the browser, and the state to keep until it comes back to `redirectUri`. */
    async start(redirectUri: string): Promise<{ url: string; state: CodeFlowState }> {
      const c = await asking("discovery", configuration);
      const verifier = oc.randomPKCECodeVerifier();
      const state = oc.randomState();
      const nonce = oc.randomNonce();
      const url = oc.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri, scope: scopes.join(" "), state, nonce,
        code_challenge: await oc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
        // OIDC Core 11: offline_access is only granted with an explicit consent prompt.
        ...(scopes.includes("offline_access") ? { prompt: "consent" } : {}),
      });
      return { url: url.href, state: { provider: name, redirect_uri: redirectUri, verifier, state, nonce, expires: Math.floor(Date.now() / 1000) + FLOW_SECONDS } };
    },

    /** Reads the callback: exchanges the code (with the PKCE verifier) and checks the ID token. */
    async finish(query: Record<string, string>, kept: CodeFlowState): Promise<SsoIdentity> {
      if (kept.provider !== name) throw new SsoRefused(`this sign-in was started with provider "${kept.provider}", not "${name}"`);
      if (kept.expires < Date.now() / 1000) throw new SsoRefused("this sign-in took longer than 10 minutes: start again");
      if (query.error) throw new SsoRefused(`OIDC provider "${name}" refused the sign-in: ${query.error}${query.error_description ? ` (${query.error_description})` : ""}`);
      const c = await asking("discovery", configuration);
      const current = new URL(kept.redirect_uri);
      for (const [k, v] of Object.entries(query)) current.searchParams.set(k, v);
      return asking("sign-in", async () => {
        const tokens = await oc.authorizationCodeGrant(c, current, {
          pkceCodeVerifier: kept.verifier, expectedState: kept.state, expectedNonce: kept.nonce, idTokenExpected: true,
        });
        return identity(c, tokens);
      });
    },

    /** Whether the provider offers the device authorization grant (for `shield login --sso`). */
    async supportsDevice(): Promise<boolean> {
      const c = await asking("discovery", configuration);
      return !!c.serverMetadata().device_authorization_endpoint;
    },

    async device(): Promise<{ user_code: string; verification_uri: string; verification_uri_complete?: string; interval: number; expires_in: number; state: DeviceFlowState }> {
      const c = await asking("discovery", configuration);
      if (!c.serverMetadata().device_authorization_endpoint) {
        throw new SsoUnsupported(`OIDC provider "${name}" does not offer the device authorization grant: sign in with the web UI, then make an API token there`);
      }
      const r = await asking("device authorization", () => oc.initiateDeviceAuthorization(c, { scope: scopes.join(" ") }));
      return {
        user_code: r.user_code, verification_uri: r.verification_uri, verification_uri_complete: r.verification_uri_complete,
        interval: r.interval ?? 5, expires_in: r.expires_in,
        state: { provider: name, device_code: r.device_code, expires: Math.floor(Date.now() / 1000) + r.expires_in },
      };
    },

    /** One poll of the device grant: pending (with the wait to keep), or the identity. */
    async poll(kept: DeviceFlowState): Promise<{ pending: true; slowDown: boolean } | { pending: false; identity: SsoIdentity }> {
      if (kept.provider !== name) throw new SsoRefused(`this sign-in was started with provider "${kept.provider}", not "${name}"`);
      if (kept.expires < Date.now() / 1000) throw new SsoRefused("the device code expired: run shield login --sso again");
      const c = await asking("discovery", configuration);
      try {
        const tokens = await oc.genericGrantRequest(c, "urn:ietf:params:oauth:grant-type:device_code", { device_code: kept.device_code });
        return { pending: false, identity: await asking("sign-in", () => identity(c, tokens)) };
      } catch (err) {
        if (err instanceof oc.ResponseBodyError && (err.error === "authorization_pending" || err.error === "slow_down")) {
          return { pending: true, slowDown: err.error === "slow_down" };
        }
        return asking("sign-in", () => Promise.reject(err));
      }
    },

    /**
     * The user's role now, from a refresh grant with the kept refresh token. No
     * refresh token, or one the provider refuses (revoked, the user removed): "unknown",
     * so the user's sessions end.
     */
    async recheck(userName: string, data: OidcUserData | undefined): Promise<{ verdict: Verdict; data?: OidcUserData }> {
      if (!data?.refresh_token) return { verdict: { ok: false, reason: "unknown" } };
      const c = await asking("discovery", configuration);
      let tokens;
      try {
        tokens = await oc.refreshTokenGrant(c, data.refresh_token);
      } catch (err) {
        if (err instanceof oc.ResponseBodyError && err.error === "invalid_grant") return { verdict: { ok: false, reason: "unknown" } };
        return asking("refresh", () => Promise.reject(err));
      }
      const id = await asking("refresh", () => identity(c, tokens, data));
      // Renamed at the provider: not the user these sessions were made for.
      if (id.name !== userName) return { verdict: { ok: false, reason: "unknown" } };
      return { verdict: id.verdict, data: id.data };
    },
  };
}

export type OidcProvider = ReturnType<typeof oidcProvider>;
