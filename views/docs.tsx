// The API reference page: Shield's header, then Swagger UI over /v1/openapi.json.
import type { AssetPaths } from "./layout.tsx";

export interface DocsAssets { swaggerJs: string; swaggerCss: string; init: string }

export function DocsPage({ assets, docs }: { assets: AssetPaths; docs: DocsAssets }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>API reference · Shield</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={assets.css} />
        <link rel="stylesheet" href={docs.swaggerCss} />
        <script src={docs.swaggerJs} defer></script>
        <script src={docs.init} defer></script>
      </head>
      <body class="api-docs">
        <header class="top">
          <a class="brand" href="/">Shield</a>
          <span class="docs-title">API reference</span>
          <div class="who"><a href="/tokens">API tokens</a><a href="/v1/openapi.json">openapi.json</a></div>
        </header>
        <main id="main" class="docs-main">
          <p class="muted">Every /v1 request but health and the public key needs credentials: “Authorize” takes a user's name and password (Basic) or an API token (Bearer), which you can create on the <a href="/tokens">API tokens</a> page. “Try it out” then sends real requests to this daemon.</p>
          <div id="swagger-ui"><noscript>This page needs JavaScript; the document itself is at <a href="/v1/openapi.json">/v1/openapi.json</a>.</noscript></div>
        </main>
      </body>
    </html>
  );
}
