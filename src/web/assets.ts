// The UI's static files, embedded in the binary: htmx (from the pinned htmx.org
// package), uPlot for the charts (the pinned uplot package, with its stylesheet),
// Shield's stylesheets and its three small scripts. No CDN: the page never
// asks anything of another host. Each URL holds a hash of the content, so it can
// be cached forever and a new binary's files are fetched afresh.
import type { Hono } from "hono";
import htmxSource from "htmx.org/dist/htmx.min.js" with { type: "text" };
import css from "../../views/static/shield.css" with { type: "text" };
import script from "../../views/static/shield.js" with { type: "text" };
import uplotSource from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import chartsCss from "../../views/static/charts.css" with { type: "text" };
import chartsScript from "../../views/static/charts.js" with { type: "text" };
// The API reference page (/docs): Swagger UI's prebuilt bundle and stylesheet from
// the pinned swagger-ui-dist package, and our own starter script (no inline script).
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import apiDocs from "../../views/static/api-docs.js" with { type: "text" };
import themeScript from "../../views/static/theme.js" with { type: "text" };

interface Asset { path: string; body: string; type: string }

function asset(name: string, body: string, type: string): Asset {
  const hash = Bun.hash(body).toString(36);
  return { path: `/static/${hash}/${name}`, body, type };
}

export const assets = {
  htmx: asset("htmx.min.js", htmxSource, "text/javascript; charset=utf-8"),
  css: asset("shield.css", css, "text/css; charset=utf-8"),
  script: asset("shield.js", script, "text/javascript; charset=utf-8"),
  uplot: asset("uPlot.iife.min.js", uplotSource, "text/javascript; charset=utf-8"),
  // uPlot's rules first, so ours (charts.css) win where they meet.
  chartsCss: asset("charts.css", `${uplotCss}\n${chartsCss}`, "text/css; charset=utf-8"),
  charts: asset("charts.js", chartsScript, "text/javascript; charset=utf-8"),
  swaggerJs: asset("swagger-ui-bundle.js", swaggerJs, "text/javascript; charset=utf-8"),
  swaggerCss: asset("swagger-ui.css", swaggerCss, "text/css; charset=utf-8"),
  apiDocs: asset("api-docs.js", apiDocs, "text/javascript; charset=utf-8"),
  theme: asset("theme.js", themeScript, "text/javascript; charset=utf-8"),
};

export function serveAssets(app: Hono): void {
  for (const a of Object.values(assets)) {
    app.get(a.path, (c) => c.body(a.body, 200, {
      "content-type": a.type,
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    }));
  }
}
