// The daemon's one HTTP handler, in front of the /v1 app and the web UI: it turns
// away what neither should see (a request whose URL has no host, a request
// before the daemon can serve it), sends the rest to the app its path names, and
// makes sure that nothing, however it fails, answers Bun's text 500 or prints a
// multi-line stack trace into the JSON log.
import type { Hono } from "hono";
import type { Server } from "bun";
import type { ApiEnv } from "../api/route.ts";
import { describeError, log } from "../log.ts";
import { METRICS_PATH } from "../api/metrics.ts";
import { clientAddressOf } from "./client-address.ts";

export interface FrontDoorOptions {
  api: Pick<Hono, "fetch">;
  web: Pick<Hono, "fetch">;
  /**
   * False while the daemon starts (the admin is created, crashed tasks are
   * recovered): only /v1/health is answered then, with 503 and `"ready": false`;
   * everything else 503 with Retry-After. A script that waits for health can
   * rely on every request being served once it answers 200.
   */
  ready: () => boolean;
  /** Proxies (--trusted-proxy) whose X-Forwarded-For names the client; none: the header is ignored. */
  trustedProxies?: ReadonlySet<string>;
}

export const HEALTH_PATH = "/v1/health";

const json = (status: number, body: object, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export function frontDoor(opts: FrontDoorOptions): (req: Request, server: Server<undefined>) => Promise<Response> {
  const trusted = opts.trustedProxies ?? new Set<string>();
  return async (req, server) => {
    // Bun makes req.url absolute from the Host header; without a usable one (empty,
    // HTTP/1.0 without it, "a b") it is the bare path, which no URL parser takes.
    let path: string;
    try {
      path = new URL(req.url).pathname;
    } catch {
      return json(400, { error: "the request has no valid Host header; send Host: HOST[:PORT]" });
    }
    if (!opts.ready() && path !== HEALTH_PATH) {
      return json(503, { error: "shield is starting; try again in a moment" }, { "retry-after": "1" });
    }
    try {
      // The client's address, for the sign-in throttle and the audit trail: the peer's, or
      // what a trusted proxy says (./client-address.ts); never a header from anyone else.
      const env: ApiEnv = { clientAddress: clientAddressOf(server.requestIP(req)?.address, req.headers.get("x-forwarded-for"), trusted) };
      // /metrics (Prometheus) is the API app's too, outside /v1 where scrapers look for it.
      return await (path === "/v1" || path.startsWith("/v1/") || path === METRICS_PATH ? opts.api : opts.web).fetch(req, env);
    } catch (err) {
      // Both apps answer their own errors; this is for what escapes them.
      const id = crypto.randomUUID();
      log.error("unexpected error", { id, method: req.method, path, ...describeError(err) });
      return json(500, { error: `internal error (id ${id}); the daemon log has the details` });
    }
  };
}

/** For Bun.serve's `error`: whatever escapes the handler is logged as one JSON line, never Bun's printed stack. */
export function lastResort(err: Error): Response {
  const id = crypto.randomUUID();
  log.error("unexpected error", { id, ...describeError(err) });
  return json(500, { error: `internal error (id ${id}); the daemon log has the details` });
}
