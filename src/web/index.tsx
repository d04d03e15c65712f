// The web UI: server-rendered pages over the /v1 API. Every page calls the API
// in-process as the signed-in user, so the UI can do exactly what that user's
// API credentials can, and nothing reaches the catalog but through the API.
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { SignIn } from "../../views/signin.tsx";
import { BarePage, Problem } from "../../views/errors.tsx";
import { describeError, log } from "../log.ts";
import { serveAssets } from "./assets.ts";
import { ApiFailure } from "./client.ts";
import { readForm } from "./forms.ts";
import type { ApiEnv } from "../api/route.ts";
import { assetPaths, page, type WebEnv } from "./render.tsx";
import {
  DEFAULT_SESSION_TTL_SECONDS, SIGNIN_COOKIE, cookieOptions, loadSession, newSecret, sameSecret, setSessionCookie, signIn, signOut,
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
import { auditPages } from "./audit.tsx";

export interface WebOptions {
  /** The /v1 app: every page is made of its answers. */
  api: Hono;
  /** How long a sign-in lasts (default 12 hours). */
  sessionTtlSeconds?: number;
}

// Only our own files: no inline script or style, no other host, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

  const signInPage = (c: Context, o: { name?: string; next?: string; error?: string }, status = 200) => {
    // Login CSRF: the form must come back with the value of a cookie only our page could have set.
    // Kept while it lasts: a second sign-in page (another tab, a stray request sent
    // here) must not invalidate the form already on screen.
    const csrf = /^[A-Za-z0-9_-]{32}$/.test(getCookie(c, SIGNIN_COOKIE) ?? "") ? getCookie(c, SIGNIN_COOKIE)! : newSecret();
    setCookie(c, SIGNIN_COOKIE, csrf, cookieOptions(c, 3600));
    return c.html("<!doctype html>" + <SignIn assets={assetPaths} csrf={csrf} {...o} />, status as 200);
  };

  app.get("/signin", (c) => signInPage(c, { next: safeNext(c.req.query("next")) }));

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
    if (!session.canOperate && (unsafe(c.req.method) ? c.req.path !== "/signout" : CHANGE_PAGE.test(c.req.path))) {
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
  accessPages(app);
  notificationPages(app);
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
