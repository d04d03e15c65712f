// Turning a view into a response: the page frame, the flash message carried over
// a redirect, and the headers every HTML answer gets.
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { Layout, type Section } from "../../views/layout.tsx";
import type { Flash, Me } from "../../views/types.ts";
import { assets } from "./assets.ts";
import { cookieOptions, type Session } from "./session.ts";

export type WebEnv = { Variables: { session: Session } };
export type WebContext = Context<WebEnv>;

export const assetPaths = {
  htmx: assets.htmx.path, css: assets.css.path, script: assets.script.path,
  uplot: assets.uplot.path, chartsCss: assets.chartsCss.path, charts: assets.charts.path,
  theme: assets.theme.path,
};

const FLASH_COOKIE = "shield_flash";

export function me(s: Session): Me {
  return { name: s.user.name, role: s.user.role, csrf: s.csrf, canOperate: s.canOperate };
}

/** A message for the page after a redirect ("job created"). */
export function flash(c: Context, kind: Flash["kind"], text: string): void {
  setCookie(c, FLASH_COOKIE, encodeURIComponent(`${kind}:${text}`), cookieOptions(c, 60));
}

function takeFlash(c: Context): Flash | undefined {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return undefined;
  deleteCookie(c, FLASH_COOKIE, cookieOptions(c));
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const kind = text.startsWith("error:") ? "error" : "ok";
  return { kind, text: text.slice(text.indexOf(":") + 1) };
}

/** A whole page in the frame. */
export function page(c: WebContext, opts: { title: string; section?: Section; status?: number }, body: Child) {
  const s = c.get("session");
  return c.html(
    "<!doctype html>" + (
      <Layout title={opts.title} assets={assetPaths} me={me(s)} section={opts.section} flash={takeFlash(c)}>
        {body}
      </Layout>
    ),
    (opts.status ?? 200) as 200,
  );
}

/**
 * The status of a page that says what is wrong with a filter or search: 400, but
 * 200 to htmx (a list following its filters as they change), which would drop a
 * 4xx answer and leave the reader with the old list and no reason.
 */
export function refusedFilterStatus(c: Context): number {
  return c.req.header("hx-request") === "true" ? 200 : 400;
}

/** A piece of a page, for htmx to swap in. */
export function fragment(c: Context, body: Child, status = 200) {
  return c.html(String(body), status as 200);
}

/** POST, then redirect to a GET (so a reload does not repeat the action). */
export function seeOther(c: Context, to: string, message?: string, kind: Flash["kind"] = "ok") {
  if (message) flash(c, kind, message);
  return c.redirect(to, 303);
}
