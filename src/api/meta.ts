import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Health } from "./schemas.ts";
import { openApiDocument } from "./openapi.ts";
import { VERSION } from "../version.ts";

export function metaRoutes(router: Router, pubkey: string): void {
  route(router, {
    method: "get", path: "/v1/health", tag: "meta", permission: "public",
    summary: "Liveness: answers while the daemon is up", response: Health,
  }, () => ({ ok: "shield is up", version: VERSION }));

  route(router, {
    method: "get", path: "/v1/meta/pubkey", tag: "meta", permission: "public",
    summary: "The daemon's public key, in SSH format", description: "Agents can use it to authorize the core.",
    response: "text",
  }, ({ c }) => c.text(pubkey + "\n"));

  // Built on first request: by then every route has been declared.
  let doc: object | undefined;
  route(router, {
    method: "get", path: "/v1/openapi.json", tag: "meta", permission: "public",
    summary: "This document", response: v.object({}),
  }, () => (doc ??= openApiDocument(router.specs)));
}
