// The /v1 API in-process, on a fresh catalog, with one user of each role.
import type { Hono } from "hono";
import { createApi } from "../../src/api/index.ts";
import { createCore, type Core, type CoreOptions } from "../../src/core/index.ts";
import { log } from "../../src/log.ts";
import type { Catalog } from "../../src/catalog/index.ts";
import type { PluginRegistry } from "../../src/plugin-host/index.ts";
import type { ThrottleOptions } from "../../src/core/throttle.ts";
import { freshCatalog, type Dialect } from "./catalog.ts";

export const PASSWORD = "correct horse battery";
export type As = "admin" | "operator" | "viewer" | "anonymous" | { token: string } | { basic: string };

export interface TestApi {
  app: Hono;
  core: Core;
  catalog: Catalog;
  /** Sends a request as one of the seeded users; `body` objects are sent as JSON, strings as they are. */
  req(method: string, path: string, opts?: { body?: unknown; as?: As }): Promise<{ status: number; json: any; text: string; headers: Headers }>;
  cleanup(): Promise<void>;
}

export function authHeader(as: As): string | undefined {
  if (as === "anonymous") return undefined;
  if (typeof as === "object") return "token" in as ? `Bearer ${as.token}` : `Basic ${Buffer.from(as.basic).toString("base64")}`;
  return `Basic ${Buffer.from(`${as}:${PASSWORD}`).toString("base64")}`;
}

/**
 * `plugins`: a registry for endpoint checks and /v1/plugins (the web UI's forms need one).
 * `throttle`: the sign-in throttle; off unless given, since contract tests send
 * wrong credentials to every route in a row (test/api/throttle.test.ts tests it).
 */
export async function testApi(dialect: Dialect = "sqlite", opts: { plugins?: PluginRegistry; throttle?: ThrottleOptions; core?: CoreOptions } = {}): Promise<TestApi> {
  log.setSink(() => {});
  const { catalog, cleanup } = await freshCatalog(dialect);
  const core = createCore(catalog, { ...opts.core, plugins: opts.plugins, throttle: opts.throttle ?? { freePerUser: Infinity, freePerAddress: Infinity } });
  for (const role of ["admin", "operator", "viewer"] as const) await core.users.create({ name: role, password: PASSWORD, role });
  const app = createApi(core, { pubkey: "ssh-ed25519 AAAATEST core@shield" });
  return {
    app, core, catalog, cleanup,
    async req(method, path, { body, as = "admin" } = {}) {
      const headers: Record<string, string> = {};
      const auth = authHeader(as);
      if (auth) headers.authorization = auth;
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await app.request(path, {
        method, headers,
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: any;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: res.status, json, text, headers: res.headers };
    },
  };
}
