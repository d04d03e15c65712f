// A real OpenID provider for the tests: the `oidc-provider` package (a certified
// OP), run by the harness on its own port with the fixture's users and claims.
// Its development login and consent pages (any password) stand for a company's
// sign-in pages; the tests fill them in over HTTP (`driveSignIn`) or in Chromium.
// Discovery, JWKS, PKCE, refresh tokens, userinfo and the device authorization
// grant are the package's own. `tamper` rewrites the ID token of token responses
// (signed with the OP's own key, or with a broken signature) so that the relying
// party's checks can be shown to refuse it.
import { createServer, type Server } from "node:http";
import { generateKeyPair, exportJWK, SignJWT, decodeJwt, decodeProtectedHeader, type CryptoKey } from "jose";
import Provider from "oidc-provider";
import { freePort } from "./services.ts";

/** Users of the fixture: name → the groups claim. nora is in no group Shield maps. */
export const OIDC_USERS: Record<string, string[]> = {
  alice: ["shield-admins", "staff"],
  olga: ["shield-operators"],
  vera: ["shield-viewers"],
  nora: ["staff"],
  admin: ["shield-admins"],
};

export const OIDC_CLIENT_ID = "shield-test";
export const OIDC_CLIENT_SECRET = "oidc-client-secret-value";

export interface TestOp {
  issuer: string;
  port: number;
  /** Mutable: name → groups. A change shows in the next userinfo or refresh. Deleting a user makes the OP forget them. */
  users: Map<string, string[]>;
  /** When set, each token response's id_token is replaced by what this returns. */
  tamper?: (idToken: string) => Promise<string>;
  /** The ID token re-signed with the OP's own key after `change` edits its claims. */
  resign(idToken: string, change: (claims: Record<string, unknown>) => void): Promise<string>;
  /** The settings of a Shield oidc provider for this OP. */
  shieldConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startOidcProvider(o: { redirectUris: string[]; deviceFlow?: boolean; port?: number }): Promise<TestOp> {
  const port = o.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "test-key-1", alg: "RS256", use: "sig" };
  const users = new Map(Object.entries(OIDC_USERS).map(([k, v]) => [k, [...v]]));

  const provider = new Provider(issuer, {
    clients: [{
      client_id: OIDC_CLIENT_ID, client_secret: OIDC_CLIENT_SECRET, redirect_uris: o.redirectUris, response_types: ["code"],
      grant_types: ["authorization_code", "refresh_token", ...(o.deviceFlow === false ? [] : ["urn:ietf:params:oauth:grant-type:device_code"])],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    async findAccount(_ctx: unknown, id: string) {
      if (!users.has(id)) return undefined;
      // Read at every use: a group change shows in the next userinfo and refresh.
      return {
        accountId: id,
        async claims() {
          const groups = users.get(id);
          return { sub: id, preferred_username: id, name: id, email: `${id}@example.test`, ...(groups ? { groups } : {}) };
        },
      };
    },
    claims: { openid: ["sub"], profile: ["preferred_username", "name"], email: ["email"], groups: ["groups"] },
    scopes: ["openid", "offline_access", "profile", "email", "groups"],
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: o.deviceFlow !== false }, revocation: { enabled: true } },
    jwks: { keys: [jwk as any] },
    cookies: { keys: ["oidc-test-cookie-key"] },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86_400, Session: 3600, Grant: 86_400, Interaction: 600, DeviceCode: 600 },
    // Refresh tokens for confidential clients too, every time offline_access is granted.
    issueRefreshToken: async (_ctx: unknown, client: any, code: any) => client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
  });
  // oidc-provider answers text/html errors with its own page; the tests read its JSON and pages as they come.
  const op: TestOp = {
    issuer, port, users,
    async resign(idToken, change) {
      const claims = decodeJwt(idToken) as Record<string, unknown>;
      change(claims);
      const header = decodeProtectedHeader(idToken);
      return new SignJWT(claims as any).setProtectedHeader({ alg: header.alg!, kid: header.kid, typ: header.typ }).sign(privateKey as CryptoKey);
    },
    shieldConfig: (extra = {}) => ({
      issuer, client_id: OIDC_CLIENT_ID, client_secret: OIDC_CLIENT_SECRET,
      scopes: ["openid", "profile", "email", "groups", "offline_access"], role_claim: "groups",
      roles: { admin: ["shield-admins"], operator: ["shield-operators"], viewer: ["shield-viewers"] },
      display_name: "Test IdP", timeout_ms: 5000, ...extra,
    }),
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
    },
  };
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === "/token" && op.tamper && body && typeof body === "object" && typeof body.id_token === "string") {
      body.id_token = await op.tamper(body.id_token);
    }
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return op;
}

/** The ID token with one byte of its signature changed. */
export function breakSignature(idToken: string): string {
  const [h, p, s] = idToken.split(".");
  const sig = Buffer.from(s!, "base64url");
  sig[10] = sig[10]! ^ 0xff;
  return `${h}.${p}.${sig.toString("base64url")}`;
}

interface Form { action: string; fields: Record<string, string> }

/** The forms of an HTML page: action and the inputs inside each (hidden values and text boxes). */
function formsOf(html: string, base: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = /action="([^"]*)"/i.exec(m[1]!)?.[1] ?? base;
    const fields: Record<string, string> = {};
    for (const i of m[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const name = /name="([^"]*)"/i.exec(i[1]!)?.[1];
      if (name) fields[name] = /value="([^"]*)"/i.exec(i[1]!)?.[1] ?? "";
    }
    forms.push({ action: new URL(action.replace(/&amp;/g, "&"), base).href, fields });
  }
  return forms;
}

/**
 * Goes through the OP's pages as a browser would, for `login`: follows redirects,
 * fills the login form (any password) and confirms consent or a device code.
 * Stops at the first redirect to a URL starting with `stopAt` (the relying party's
 * callback, not requested) or at a page with no form (the device grant's success page).
 */
export async function driveSignIn(startUrl: string, login: string, stopAt?: string): Promise<{ url: string; html?: string }> {
  const cookies = new Map<string, string>();
  let url = startUrl;
  let method = "GET";
  let body: URLSearchParams | undefined;
  for (let step = 0; step < 20; step++) {
    const r = await fetch(url, {
      method, body, redirect: "manual",
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "), ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
    });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === "") cookies.delete(name);
      else cookies.set(name, value);
    }
    if (r.status >= 300 && r.status < 400) {
      const next = new URL(r.headers.get("location")!, url).href;
      await r.arrayBuffer();
      if (stopAt && next.startsWith(stopAt)) return { url: next };
      url = next;
      method = "GET";
      body = undefined;
      continue;
    }
    const html = await r.text();
    if (r.status !== 200) throw new Error(`the OP answered ${r.status} at ${url}: ${html.slice(0, 500)}`);
    const form = formsOf(html, url)[0];
    if (!form) return { url, html };
    if ("login" in form.fields) Object.assign(form.fields, { login, password: "any-password" });
    url = form.action;
    method = "POST";
    body = new URLSearchParams(form.fields);
  }
  throw new Error(`the sign-in through the OP did not end within 20 steps (at ${url})`);
}
