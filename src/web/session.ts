// Web sessions are API tokens. Signing in trades the password, once, for a fresh
// token of the user's (POST /v1/auth/tokens); the browser keeps that token in an
// HttpOnly cookie and every page calls the API with it. So the password is never
// kept anywhere after sign-in, the catalog keeps only the token's hash, a session
// survives a daemon restart and works on every daemon sharing the catalog, and
// signing out is revoking the token. The session's age is the token's created_at,
// read back from the API, so expiry is enforced by the server, not the cookie.
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiClient } from "./client.ts";
import type { ApiEnv } from "../api/route.ts";

export const SESSION_COOKIE = "shield_session";
/** A random value for the sign-in form alone: there is no session yet to derive a CSRF token from. */
export const SIGNIN_COOKIE = "shield_signin";
export const DEFAULT_SESSION_TTL_SECONDS = 12 * 3600;
/** How a web session's token is named (then its start and a random tag), so lists can tell sessions from API tokens. */
export const WEB_SESSION_PREFIX = "web session ";

export type Role = "admin" | "operator" | "viewer";

export interface Session {
  user: { uuid: string; name: string; role: Role };
  /** The API, as this user. */
  api: ApiClient;
  /** Sent back by every form (`_csrf`) and htmx request (X-CSRF-Token). */
  csrf: string;
  tokenUuid: string;
  /** Operators and admins may change things; viewers only look. */
  canOperate: boolean;
}

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("base64url");

/**
 * The CSRF token is a hash of the session's secret: another site can neither read
 * the HttpOnly cookie nor compute this from anything it can see, and the server
 * needs no state to check it.
 */
export function csrfFor(token: string): string {
  return sha256(`shield web csrf\0${token}`);
}

/** Constant time, so a guess learns nothing from how long the refusal took. */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Secure when the browser reached us over https, directly or through a TLS proxy. */
function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

export function cookieOptions(c: Context, maxAge?: number) {
  return { path: "/", httpOnly: true, sameSite: "Strict" as const, secure: isHttps(c), ...(maxAge === undefined ? {} : { maxAge }) };
}

export function newSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
}

/** Trades a user name and password for a token; the password goes no further than this call. */
export async function signIn(api: Hono, name: string, password: string, clientAddress?: string, ttl = DEFAULT_SESSION_TTL_SECONDS): Promise<{ ok: true; cookie: string } | { ok: false; status: number; error: string; retryAfter?: string }> {
  // The browser's address goes with the password: the API's throttle counts failures by it.
  const client = new ApiClient(api, `Basic ${Buffer.from(`${name}:${password}`).toString("base64")}`, { clientAddress });
  // Unique per user (the API requires it) and recognisable in `shield list tokens`.
  const tokenName = sessionTokenName();
  // The token expires with the session, so a copied cookie is worthless after it even if never used again here.
  const r = await client.send<{ uuid: string; token: string }>("POST", "/v1/auth/tokens", { name: tokenName, expires_in: Math.max(60, ttl) });
  if (!r.ok) return { ok: false, status: r.status, error: r.error, retryAfter: r.retryAfter };
  return { ok: true, cookie: `${r.data.uuid}.${r.data.token}` };
}

/** The name of a web session's token, unique per user and recognisable in `shield list tokens`. */
const sessionTokenName = () => `${WEB_SESSION_PREFIX}${new Date().toISOString().slice(0, 19).replace("T", " ")} ${newSecret().slice(0, 6)}`;

/** Where the OIDC flow's state waits while the browser is at the provider. */
export const SSO_COOKIE = "shield_sso";

/**
 * The OIDC flow's cookie: Lax, not Strict, since the browser comes back from the
 * provider's site and a Strict cookie would not be sent with that navigation. It
 * holds only the sealed flow state and where to go next, both useless elsewhere.
 */
export function ssoCookieOptions(c: Context, maxAge?: number) {
  return { ...cookieOptions(c, maxAge), sameSite: "Lax" as const, path: "/signin/sso" };
}

/** Trades an OIDC callback for a session token: the API checks the ID token and the flow's state. */
export async function ssoSignIn(api: Hono, provider: string, state: string, query: Record<string, string>, clientAddress?: string, ttl = DEFAULT_SESSION_TTL_SECONDS): Promise<{ ok: true; cookie: string } | { ok: false; status: number; error: string }> {
  const client = new ApiClient(api, "", { clientAddress });
  const r = await client.send<{ uuid: string; token: string }>("POST", `/v1/auth/sso/${encodeURIComponent(provider)}/finish`, {
    state, query, token_name: sessionTokenName(), expires_in: Math.max(60, ttl),
  });
  if (!r.ok) return { ok: false, status: r.status, error: r.error };
  return { ok: true, cookie: `${r.data.uuid}.${r.data.token}` };
}

function parseCookie(value: string | undefined): { tokenUuid: string; token: string } | undefined {
  const m = /^([0-9a-f-]{36})\.(shield_[A-Za-z0-9_-]+)$/.exec(value ?? "");
  return m ? { tokenUuid: m[1]!, token: m[2]! } : undefined;
}

const apiSeconds = (t: string) => Date.parse(t.replace(" ", "T") + "Z") / 1000;

/**
 * The signed-in user, or undefined when there is no valid session: no cookie, a
 * revoked token, or one older than the session lifetime (then revoked here, so the
 * token is useless to whoever might copy the cookie).
 */
export async function loadSession(c: Context, api: Hono, ttl: number): Promise<Session | undefined> {
  const parsed = parseCookie(getCookie(c, SESSION_COOKIE));
  // The browser's address goes with every call: the audit trail says where a change came from.
  const env = { clientAddress: (c.env as ApiEnv | undefined)?.clientAddress };
  if (!parsed) return labSession(api, env);
  const client = new ApiClient(api, `Bearer ${parsed.token}`, env);
  // Both on every page: asked side by side, not one after the other.
  const [tokens, who] = await Promise.all([
    client.send<{ uuid: string; created_at: string }[]>("GET", "/v1/auth/tokens"),
    client.send<{ uuid: string; name: string; role: Role }>("GET", "/v1/auth/whoami"),
  ]);
  if (!tokens.ok) return undefined;
  const mine = tokens.data.find((t) => t.uuid === parsed.tokenUuid);
  if (!mine) return undefined;
  if (Date.now() / 1000 - apiSeconds(mine.created_at) > ttl) {
    await client.send("DELETE", `/v1/auth/token/${parsed.tokenUuid}`);
    return undefined;
  }
  if (!who.ok) return undefined;
  return {
    user: who.data, api: client, csrf: csrfFor(parsed.token), tokenUuid: parsed.tokenUuid,
    canOperate: who.data.role !== "viewer",
  };
}

// The CSRF secret of the lab's session: random per daemon process, since there is no token to derive it from.
const LAB_SECRET = newSecret();

/**
 * With the `none` auth provider on (a loopback-only lab), a browser without a
 * session is the admin "lab": the API answers requests without credentials.
 * Otherwise (the usual case) the API refuses and there is no session.
 */
async function labSession(api: Hono, env: ApiEnv): Promise<Session | undefined> {
  const client = new ApiClient(api, "", env);
  const who = await client.send<{ uuid: string; name: string; role: Role; provider: string }>("GET", "/v1/auth/whoami");
  if (!who.ok || who.data.provider !== "none") return undefined;
  return { user: who.data, api: client, csrf: csrfFor(`lab\0${LAB_SECRET}`), tokenUuid: "", canOperate: true };
}

export async function signOut(c: Context, session: Session): Promise<void> {
  if (session.tokenUuid) await session.api.send("DELETE", `/v1/auth/token/${session.tokenUuid}`);
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
}

export function setSessionCookie(c: Context, value: string, ttl: number): void {
  setCookie(c, SESSION_COOKIE, value, cookieOptions(c, ttl));
}
