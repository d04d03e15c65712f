// The web UI in-process: the /v1 API on a fresh catalog with real plugins (the
// built-ins run from source, plus the shell fixtures), the web app over it, and a
// client that keeps cookies the way a browser does.
import { resolve } from "node:path";
import type { Hono } from "hono";
import { createWeb } from "../../src/web/index.tsx";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { builtinNames } from "../../plugins/index.ts";
import { PASSWORD, testApi, type TestApi } from "../helpers/app.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** `pluginDirs`: the external plugins (by default the shell fixtures), searched before the built-ins. */
export async function webApp(opts: { sessionTtlSeconds?: number; pluginDirs?: string[] } = {}): Promise<{ t: TestApi; web: Hono<any> }> {
  const plugins = new PluginRegistry({
    dirs: opts.pluginDirs ?? [resolve(ROOT, "test/fixtures/plugins")], self: [process.execPath, resolve(ROOT, "src/main.ts")], builtins: builtinNames(),
  });
  const t = await testApi("sqlite", { plugins });
  return { t, web: createWeb({ api: t.app, sessionTtlSeconds: opts.sessionTtlSeconds }) };
}

/** A fresh web app and a client signed in to it as `name`. */
export async function signedIn(name: string, opts: { pluginDirs?: string[] } = {}): Promise<{ t: TestApi; web: Hono<any>; b: WebClient }> {
  const { t, web } = await webApp(opts);
  const b = new WebClient(web);
  await b.signIn(name);
  return { t, web, b };
}

export interface Page { status: number; html: string; location: string | null; headers: Headers }

export class WebClient {
  readonly cookies = new Map<string, string>();
  /** The CSRF token of the last page that had one. */
  csrf = "";
  constructor(private readonly web: Hono<any>, private readonly base = "http://shield.test") {}

  async request(method: string, path: string, opts: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Page> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    let body: string | undefined;
    if (opts.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    }
    const res = await this.web.request(this.base + path, { method, headers, body });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, ...rest] = pair!.split("=");
      const value = rest.join("=");
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    const html = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (m) this.csrf = m[1]!;
    return { status: res.status, html, location: res.headers.get("location"), headers: res.headers };
  }

  get(path: string) { return this.request("GET", path); }

  /** A form POST carrying the page's CSRF token, as every form of the UI does. */
  post(path: string, form: Record<string, string> = {}) { return this.request("POST", path, { form: { _csrf: this.csrf, ...form } }); }

  async signIn(name: string, password = PASSWORD): Promise<Page> {
    await this.get("/signin");
    const r = await this.post("/signin", { name, password });
    // The session's own CSRF token, from its first page (the sign-in form had another).
    if (r.status === 303) await this.get("/");
    return r;
  }
}

/** The text of an element with this id, or undefined. */
export function byId(html: string, id: string): string | undefined {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  return m?.[1];
}
