import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Health } from "./schemas.ts";
import { openApiDocument } from "./openapi.ts";
import { VERSION } from "../version.ts";

/** `ready`: false while the daemon starts (see daemon/http.ts); always true when left out. */
export function metaRoutes(router: Router, pubkey: string, ready: () => boolean = () => true): void {
  route(router, {
    method: "get", operationId: "health", path: "/v1/health", tag: "meta", permission: "public",
    summary: "Readiness: 200 once the daemon serves every request, 503 until then",
    description: "While the daemon starts (its first admin created, crashed tasks recovered, the scheduler started) " +
      "it answers 503 with `\"ready\": false` here and 503 to every other request; from the first 200 on, every request is served.",
    response: Health, errors: [503],
  }, ({ c }) => (ready()
    ? { ok: "shield is up", ready: true, version: VERSION }
    : c.json({ error: "shield is starting", ready: false, version: VERSION }, 503, { "retry-after": "1" })));

  route(router, {
    method: "get", operationId: "showPublicKey", path: "/v1/meta/pubkey", tag: "meta", permission: "public",
    summary: "The daemon's public key, in SSH format", description: "Agents can use it to authorize the core.",
    response: "text",
  }, ({ c }) => c.text(pubkey + "\n"));

  // Built on first request: by then every route has been declared.
  let doc: object | undefined;
  route(router, {
    method: "get", operationId: "openApiDocument", path: "/v1/openapi.json", tag: "meta", permission: "public",
    summary: "This document", response: v.object({}),
  }, () => (doc ??= openApiDocument(router.specs)));
}
