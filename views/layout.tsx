// The page frame: head with the embedded assets, navigation, who is signed in.
import type { Child } from "hono/jsx";
import type { Flash, Me } from "./types.ts";
import { FlashBox } from "./components.tsx";

/** Paths of the embedded static files (their URLs carry a content hash). */
export interface AssetPaths { htmx: string; css: string; script: string; uplot: string; chartsCss: string; charts: string; theme: string }

export type Section = "dashboard" | "jobs" | "archives" | "tasks" | "targets" | "stores" | "schedules" | "retention" | "notifications" | "users" | "access" | "tokens" | "audit";

const NAV: { section: Section; href: string; label: string }[] = [
  { section: "dashboard", href: "/", label: "Dashboard" },
  { section: "jobs", href: "/jobs", label: "Jobs" },
  { section: "archives", href: "/archives", label: "Archives" },
  { section: "tasks", href: "/tasks", label: "Tasks" },
  { section: "targets", href: "/targets", label: "Targets" },
  { section: "stores", href: "/stores", label: "Stores" },
  { section: "schedules", href: "/schedules", label: "Schedules" },
  { section: "retention", href: "/retention", label: "Retention" },
  { section: "notifications", href: "/notifications", label: "Notifications" },
];

/**
 * Sections only admins are shown (the API answers others 403), grouped under one
 * "Admin" menu: as links of their own they pushed the header onto two lines at 1280 px.
 */
const ADMIN_NAV: { section: Section; href: string; label: string }[] = [
  { section: "users", href: "/users", label: "Users" },
  { section: "access", href: "/access", label: "Access" },
  { section: "audit", href: "/audit", label: "Audit" },
];

// htmx must not inject its own <style> (the CSP allows only our stylesheet) nor eval anything;
// nor settle `style` attributes across a swap (its default): the pages have none, and
// the empty one it would write is an inline style the CSP refuses (seen on a search swap).
// No settle delay: htmx wires up swapped-in content (its hx- attributes) only when it
// settles, so during its default 20 ms a change on a just-swapped filter was lost (seen in
// CI: a status picked right after the list came back asked for nothing). No page animates
// the settle, so there is nothing to wait for.
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, historyCacheSize: 0,
  attributesToSettle: ["class", "width", "height"], defaultSettleDelay: 0,
});

export function Document({ title, assets, me, head, children }: { title: string; assets: AssetPaths; me?: Me; head?: Child; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{title} · Shield</title>
        {/* No icon: otherwise the browser asks for /favicon.ico on every page. */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={assets.css} />
        {/* Not deferred: the chosen theme is set before the page is drawn (no white flash in dark mode). */}
        <script src={assets.theme}></script>
        <script src={assets.htmx} defer></script>
        <script src={assets.script} defer></script>
        {/* The charts (views/charts.tsx): uPlot, then the script that hands it the page's figures. */}
        <link rel="stylesheet" href={assets.chartsCss} />
        <script src={assets.uplot} defer></script>
        <script src={assets.charts} defer></script>
        {head}
      </head>
      {/* Every htmx request carries the CSRF token; forms carry it as _csrf. */}
      <body hx-headers={me ? JSON.stringify({ "X-CSRF-Token": me.csrf }) : undefined}>
        {children}
      </body>
    </html>
  );
}

export function Layout({ title, assets, me, section, flash, children }: {
  title: string; assets: AssetPaths; me: Me; section?: Section; flash?: Flash; children: Child;
}) {
  return (
    <Document title={title} assets={assets} me={me}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/">Shield</a>
        {/* At phone width (and with script: theme.js) the links fold into this button; without script they wrap. */}
        <button type="button" class="menu-toggle" id="menu-toggle" aria-expanded="false" aria-controls="main-nav">Menu</button>
        <nav aria-label="Main" id="main-nav">
          <ul>
            {NAV.map((n) => (
              <li><a href={n.href} aria-current={n.section === section ? "page" : undefined}>{n.label}</a></li>
            ))}
            {me.role === "admin" ? (
              // A disclosure (<details>): it opens without script too; theme.js closes it on Escape or a click elsewhere.
              <li class="header-menu">
                <details>
                  <summary class={ADMIN_NAV.some((n) => n.section === section) ? "current" : undefined}>Admin</summary>
                  <ul>
                    {ADMIN_NAV.map((n) => (
                      <li><a href={n.href} aria-current={n.section === section ? "page" : undefined}>{n.label}</a></li>
                    ))}
                  </ul>
                </details>
              </li>
            ) : null}
          </ul>
        </nav>
        <div class="who">
          {/* Shown by theme.js: without script it could not switch anything. */}
          <label class="theme" hidden><span class="sr-only">Theme</span>
            <select id="theme-select" title="Theme: Auto follows the system">
              <option value="auto">Auto</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          {/* The signed-in user's own things, under their name. */}
          <details class="header-menu account">
            <summary><span class="sr-only">Signed in as </span>{me.name} <span class="muted">({me.role})</span></summary>
            <ul>
              <li><a href="/tokens" aria-current={section === "tokens" ? "page" : undefined}>API tokens</a></li>
              <li><a href="/docs">API reference</a></li>
              <li>
                <form method="post" action="/signout">
                  <input type="hidden" name="_csrf" value={me.csrf} />
                  <button type="submit">Sign out</button>
                </form>
              </li>
            </ul>
          </details>
        </div>
      </header>
      <main id="main" tabindex={-1}>
        {flash ? <FlashBox kind={flash.kind} text={flash.text} /> : null}
        {children}
      </main>
    </Document>
  );
}
