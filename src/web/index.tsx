// The web UI: server-rendered pages over the /v1 API. Every page calls the API
// in-process as the signed-in user, so the UI can do exactly what that user's
// API credentials can, and nothing reaches the catalog but through the API.
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SignIn, SsoLanding, type SsoButton } from "../../views/signin.tsx";
import { BarePage, Problem } from "../../views/errors.tsx";
import { describeError, log } from "../log.ts";
import { assets, serveAssets } from "./assets.ts";
import { DocsPage } from "../../views/docs.tsx";
import { ApiFailure } from "./client.ts";
import { readForm } from "./forms.ts";
import { ApiClient } from "./client.ts";
import type { ApiEnv } from "../api/route.ts";
import { assetPaths, page, type WebEnv } from "./render.tsx";
import {
  DEFAULT_SESSION_TTL_SECONDS, SIGNIN_COOKIE, SSO_COOKIE, cookieOptions, loadSession, newSecret, sameSecret, setSessionCookie, signIn, signOut,
  ssoCookieOptions, ssoSignIn,
} from "./session.ts";
import { dashboardPages } from "./dashboard.tsx";
import { jobPages } from "./jobs.tsx";
import { targetStorePages } from "./targets-stores.tsx";
import { schedulePages } from "./schedules.tsx";
import { retentionPages } from "./retention.tsx";
import { archivePages } from "./archives.tsx";
import { taskPages } from "./tasks.tsx";
import { accessPages } from "./access.tsx";
import { notificationPages } from "./notifications.tsx";
import { userPages } from "./users.tsx";
import { auditPages } from "./audit.tsx";

export interface WebOptions {
  /** The /v1 app: every page is made of its answers. */
  api: Hono;
  /** How long a sign-in lasts (default 12 hours). */
  sessionTtlSeconds?: number;
  /** The daemon's address as browsers reach it (--public-url), for OIDC redirect URIs; else each request's own. */
  publicUrl?: string;
}

// Only our own files: no inline script or style, no other host, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** What any signed-in user may change, viewers too: their own session and API tokens. */
const SELF_SERVICE = /^\/(signout$|tokens(\/|$))/;

/** Pages that only lead to a change: forms and confirmations. */
const CHANGE_PAGE = /\/(new|edit|delete|restore)$/;

const isHtmx = (c: Context) => c.req.header("hx-request") === "true";
const unsafe = (method: string) => !["GET", "HEAD", "OPTIONS"].includes(method);

/**
 * Where to go after sign-in: a path on this site only. Judged the way a browser
 * reads a Location (the URL parser drops tabs and newlines, so "/\t/evil.example"
 * would be "//evil.example", another host), and answered as that parser writes
 * it back, so the header never carries a control character (a newline made it throw).
 */
function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith("/") || /[\\\x00-\x1f\x7f]/.test(next)) return "/";
  const base = "http://shield.invalid";
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return "/";
  }
  if (url.origin !== base || url.pathname.startsWith("/signin")) return "/";
  return url.pathname + url.search + url.hash;
}

export function createWeb(opts: WebOptions): Hono<WebEnv> {
  const { api } = opts;
  const ttl = opts.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
  const app = new Hono<WebEnv>();

  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    c.header("content-security-policy", CSP);
    c.header("x-frame-options", "DENY");
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "same-origin");
    // Pages hold what a user may see: no shared cache keeps them.
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
    log.info("web request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) });
  });

  serveAssets(app as unknown as Hono);

  /** This site as the browser reached it: --public-url when set, else the request's origin (https behind a TLS proxy). */
  const siteUrl = (c: Context): string => {
    if (opts.publicUrl) return opts.publicUrl.replace(/\/+$/, "");
    const u = new URL(c.req.url);
    if (c.req.header("x-forwarded-proto")?.split(",")[0]?.trim() === "https") u.protocol = "https:";
    return u.origin;
  };
  const callbackUrl = (c: Context, provider: string) => `${siteUrl(c)}/signin/sso/${encodeURIComponent(provider)}/callback`;

  /** The sign-in page's "Sign in with …" buttons; none when the API cannot say (the form still works). */
  const ssoButtons = async (): Promise<SsoButton[]> => {
    const r = await new ApiClient(api, "").send<SsoButton[]>("GET", "/v1/auth/sso");
    return r.ok ? r.data : [];
  };

  const signInPage = async (c: Context, o: { name?: string; next?: string; error?: string }, status = 200) => {
    // Login CSRF: the form must come back with the value of a cookie only our page could have set.
    // Kept while it lasts: a second sign-in page (another tab, a stray request sent
    // here) must not invalidate the form already on screen.
    const csrf = /^[A-Za-z0-9_-]{32}$/.test(getCookie(c, SIGNIN_COOKIE) ?? "") ? getCookie(c, SIGNIN_COOKIE)! : newSecret();
    setCookie(c, SIGNIN_COOKIE, csrf, cookieOptions(c, 3600));
    return c.html("<!doctype html>" + <SignIn assets={assetPaths} csrf={csrf} sso={await ssoButtons()} {...o} />, status as 200);
  };

  // OIDC: the button leads here; the API gives the provider's URL and a sealed state,
  // kept in a Lax cookie (with where to go after) until the provider sends the browser back.
  app.get("/signin/sso/:name", async (c) => {
    const name = c.req.param("name");
    const next = safeNext(c.req.query("next"));
    const r = await new ApiClient(api, "", { clientAddress: (c.env as ApiEnv | undefined)?.clientAddress })
      .send<{ url: string; state: string }>("POST", `/v1/auth/sso/${encodeURIComponent(name)}/start`, { redirect_uri: callbackUrl(c, name) });
    if (!r.ok) return signInPage(c, { next, error: `Single sign-on is not available: ${r.error}` }, r.status === 404 ? 404 : 503);
    setCookie(c, SSO_COOKIE, JSON.stringify({ state: r.data.state, next }), ssoCookieOptions(c, 600));
    return c.redirect(r.data.url, 303);
  });

  app.get("/signin/sso/:name/callback", async (c) => {
    const name = c.req.param("name");
    let kept: { state?: unknown; next?: unknown } = {};
    try {
      kept = JSON.parse(getCookie(c, SSO_COOKIE) ?? "{}");
    } catch { /* damaged: as if none */ }
    deleteCookie(c, SSO_COOKIE, ssoCookieOptions(c));
    const next = safeNext(typeof kept.next === "string" ? kept.next : undefined);
    if (typeof kept.state !== "string") {
      return signInPage(c, { next, error: "This sign-in was not started here, or took too long. Please sign in again." }, 400);
    }
    const r = await ssoSignIn(api, name, kept.state, c.req.query(), (c.env as ApiEnv | undefined)?.clientAddress, ttl);
    if (!r.ok) return signInPage(c, { next, error: `Single sign-on refused: ${r.error}` }, r.status === 401 ? 401 : r.status === 503 ? 503 : 400);
    setSessionCookie(c, r.cookie, ttl);
    // A page, not a redirect: the navigation from the provider's site is cross-site, and the
    // session cookie is SameSite=Strict, so the browser would not send it along a redirect.
    // Continuing from this page is a same-site navigation that carries it.
    return c.html("<!doctype html>" + <SsoLanding assets={assetPaths} next={next} />);
  });

  app.get("/signin", (c) => signInPage(c, { next: safeNext(c.req.query("next")) }));

  // The API reference: as public as the document it shows (/v1/openapi.json); its
  // "Try it out" sends whatever credentials the reader types, never the session's.
  app.get("/docs", (c) => c.html("<!doctype html>" + <DocsPage assets={assetPaths} docs={{ swaggerJs: assets.swaggerJs.path, swaggerCss: assets.swaggerCss.path, init: assets.apiDocs.path }} />));

  app.post("/signin", async (c) => {
    const f = await readForm(c);
    const next = safeNext(f.next);
    if (!sameSecret(f._csrf, getCookie(c, SIGNIN_COOKIE) ?? "\0")) {
      return signInPage(c, { name: f.name, next, error: "The sign-in form had expired. Please sign in again." }, 403);
    }
    const r = await signIn(api, f.name ?? "", f.password ?? "", (c.env as ApiEnv | undefined)?.clientAddress, ttl);
    if (!r.ok) {
      if (r.status === 429) {
        if (r.retryAfter) c.header("Retry-After", r.retryAfter);
        return signInPage(c, { name: f.name, next, error: `Too many failed sign-ins: try again in ${r.retryAfter ?? "a few"} seconds.` }, 429);
      }
      const error = r.status === 401 ? "Wrong user name or password." : r.error;
      return signInPage(c, { name: f.name, next, error }, r.status === 401 ? 401 : 400);
    }
    setSessionCookie(c, r.cookie, ttl);
    return c.redirect(next, 303);
  });

  // Everything below needs a session; changes also need the CSRF token.
  app.use("*", async (c, next) => {
    const session = await loadSession(c, api, ttl);
    if (!session) {
      const to = `/signin${c.req.method === "GET" ? `?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search))}` : ""}`;
      if (isHtmx(c)) {
        // htmx would swap a sign-in page into a fragment; make it load the page instead.
        c.header("hx-redirect", to);
        return c.body(null, 401);
      }
      return c.redirect(to, 303);
    }
    c.set("session", session);
    if (unsafe(c.req.method)) {
      const sent = c.req.header("x-csrf-token") ?? (await readForm(c))._csrf;
      if (!sameSecret(sent, session.csrf)) {
        return page(c, { title: "Refused", status: 403 },
          <Problem status={403} message="This request did not carry the page's security token (CSRF). Reload the page and try again." />);
      }
    }
    // A viewer is not offered what they may not do; a page for it asked for by URL says so
    // (and the API would refuse the change anyway).
    if (!session.canOperate && (unsafe(c.req.method) ? !SELF_SERVICE.test(c.req.path) : CHANGE_PAGE.test(c.req.path))) {
      return page(c, { title: "Not allowed", status: 403 },
        <Problem status={403} message={`Your role (${session.user.role}) may look but not change anything. Ask an operator or admin.`} />);
    }
    await next();
  });

  app.post("/signout", async (c) => {
    await signOut(c, c.get("session"));
    return c.redirect("/signin", 303);
  });

  dashboardPages(app);
  jobPages(app);
  targetStorePages(app, "target");
  targetStorePages(app, "store");
  schedulePages(app);
  retentionPages(app);
  archivePages(app);
  taskPages(app);
  accessPages(app, siteUrl);
  notificationPages(app);
  userPages(app, api);
  auditPages(app);

  app.notFound((c) => {
    const message = `There is no page at ${c.req.path}.`;
    if (!c.get("session")) return c.html("<!doctype html>" + <BarePage assets={assetPaths} status={404} message={message} />, 404);
    return page(c, { title: "Not found", status: 404 }, <Problem status={404} message={message} />);
  });

  app.onError((err, c) => {
    if (err instanceof ApiFailure) {
      // The session ended between the check and this call (revoked elsewhere).
      if (err.status === 401) return c.redirect("/signin", 303);
      const status = [400, 403, 404, 409].includes(err.status) ? err.status : 502;
      if (isHtmx(c)) return c.html(`<div class="flash error" role="alert">${Bun.escapeHTML(err.message)}</div>`, status as 400);
      return page(c, { title: "Error", status }, <Problem status={status} message={err.message} />);
    }
    const id = crypto.randomUUID();
    log.error("web: unexpected error", { id, method: c.req.method, path: c.req.path, ...describeError(err) });
    const message = `Internal error (id ${id}); the daemon log has the details.`;
    if (!c.get("session")) return c.html("<!doctype html>" + <BarePage assets={assetPaths} status={500} message={message} />, 500);
    return page(c, { title: "Error", status: 500 }, <Problem status={500} message={message} />);
  });

  return app;
}
