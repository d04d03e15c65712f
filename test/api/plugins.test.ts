// /v1 contract of plugins: list and show what plugins' `info` says, and the check
// of a target's or store's endpoint by its plugin before it is saved. The plugins
// here are small shell scripts in a temporary plugin directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { createApi } from "../../src/api/index.ts";
import { createCore } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { authHeader, testApi, type As, type TestApi } from "../helpers/app.ts";
import { call, expectAuthRequired, expectInvalid } from "./fixtures.ts";

const TARGET_INFO = {
  name: "Test Target", author: "tests", version: "1.0.0", features: { target: "yes", store: "no" },
  fields: [{ name: "host", type: "string", title: "Host", required: true }],
};
const STORE_INFO = { name: "Test Store", author: "tests", version: "2.0.0", features: { target: "no", store: "yes" } };

// `validate` accepts an endpoint naming a host and refuses any other, as a plugin would.
const script = (info: object) => `#!/bin/sh
case "$1" in
  info) echo '${JSON.stringify(info)}' ;;
  validate)
    case "$3" in
      *'"host"'*|*'"path"'*) echo "looks fine"; exit 0 ;;
      *) echo "host is required" >&2; exit 12 ;;
    esac ;;
  *) echo "unsupported action $1" >&2; exit 2 ;;
esac
`;

describe("/v1/plugins", () => {
  let base: TestApi;
  let app: Hono;
  let dir: string;

  /** The same catalog and users as `base`, with a core that knows the plugins in `dir`. */
  const req = async (method: string, path: string, opts: { body?: unknown; as?: As } = {}) => {
    const headers: Record<string, string> = {};
    const auth = authHeader(opts.as ?? "admin");
    if (auth) headers.authorization = auth;
    const res = await app.request(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text, headers: res.headers };
  };
  // `call` and friends take a TestApi: hand them one whose requests go to the plugin-aware app.
  const api = () => ({ ...base, req }) as TestApi;

  beforeAll(async () => {
    base = await testApi();
    dir = mkdtempSync(join(tmpdir(), "shield-test-plugins-"));
    for (const [name, info] of [["test-target", TARGET_INFO], ["test-store", STORE_INFO]] as const) {
      writeFileSync(join(dir, name), script(info));
      chmodSync(join(dir, name), 0o755);
    }
    writeFileSync(join(dir, "not-executable"), script(TARGET_INFO));
    const plugins = new PluginRegistry({ dirs: [dir], self: [], builtins: [] });
    app = createApi(createCore(base.catalog, { plugins }), { pubkey: "ssh-ed25519 AAAATEST core@shield" });
  });
  afterAll(async () => {
    await base.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("GET /v1/plugins and /v1/plugin/:name", () => {
    test("lists every executable plugin by name, with where it is and what its info says", async () => {
      const res = await call(api(), "GET", "/v1/plugins", 200, { as: "viewer" });
      expect(res.json).toEqual([
        { name: "test-store", source: join(dir, "test-store"), info: STORE_INFO },
        { name: "test-target", source: join(dir, "test-target"), info: TARGET_INFO },
      ]);
    });

    test("shows one plugin as the list does", async () => {
      expect((await call(api(), "GET", "/v1/plugin/test-target", 200, { as: "viewer" })).json)
        .toEqual({ name: "test-target", source: join(dir, "test-target"), info: TARGET_INFO });
    });

    test("404 naming an unknown plugin; 400 for what cannot be a plugin name", async () => {
      for (const name of ["nothing-here", "not-executable"]) {
        expect((await call(api(), "GET", `/v1/plugin/${name}`, 404)).json.error).toContain(`no plugin named "${name}"`);
      }
      await expectInvalid(api(), "GET", `/v1/plugin/${encodeURIComponent("../bin/sh")}`, undefined, "name", "plugin name");
      await expectInvalid(api(), "GET", "/v1/plugin/-x", undefined, "name", "plugin name");
    });

    test("the in-process test app, with no plugins configured, lists none and finds none", async () => {
      expect((await call(base, "GET", "/v1/plugins", 200)).json).toEqual([]);
      expect((await call(base, "GET", "/v1/plugin/test-target", 404)).json.error).toBe('no plugin named "test-target"');
    });

    test("401 without or with wrong credentials; every role may read", async () => {
      await expectAuthRequired(api(), "GET", "/v1/plugins");
      await expectAuthRequired(api(), "GET", "/v1/plugin/test-target");
      for (const as of ["viewer", "operator", "admin"] as const) {
        await call(api(), "GET", "/v1/plugins", 200, { as });
        await call(api(), "GET", "/v1/plugin/test-store", 200, { as });
      }
    });
  });

  describe("endpoints are checked by their plugin before they are saved", () => {
    const target = (name: string, plugin: string, endpoint: string) => ({ name, plugin, endpoint, agent: "" });

    test("a target the plugin accepts is created, and can be updated", async () => {
      const uuid = (await call(api(), "POST", "/v1/targets", 200, { body: target("checked", "test-target", '{"host":"db1"}') })).json.uuid;
      await call(api(), "PUT", `/v1/target/${uuid}`, 200, { body: { ...target("checked", "test-target", '{"host":"db2"}'), summary: "" } });
    });

    test("400 naming endpoint, with the plugin's words, when the plugin refuses it; on update too", async () => {
      const res = await expectInvalid(api(), "POST", "/v1/targets", target("refused", "test-target", '{"port":5432}'), "endpoint", "host is required");
      expect(res.json.error).toContain("test-target");
      const uuid = (await call(api(), "POST", "/v1/targets", 200, { body: target("kept", "test-target", '{"host":"db1"}') })).json.uuid;
      await expectInvalid(api(), "PUT", `/v1/target/${uuid}`, { ...target("kept", "test-target", "{}"), summary: "" }, "endpoint", "host is required");
      expect((await call(api(), "GET", `/v1/target/${uuid}`, 200)).json.endpoint).toBe('{"host":"db1"}');
    });

    test("400 naming plugin: no such plugin, or one that cannot play that part", async () => {
      await expectInvalid(api(), "POST", "/v1/targets", target("missing", "no-such-plugin", '{"host":"x"}'), "plugin", 'no plugin named "no-such-plugin"');
      await expectInvalid(api(), "POST", "/v1/targets", target("wrong part", "test-store", '{"path":"/x"}'), "plugin", "cannot be used as a target");
      await expectInvalid(api(), "POST", "/v1/stores", { name: "wrong part", plugin: "test-target", endpoint: '{"host":"x"}' }, "plugin", "cannot be used as a store");
      await call(api(), "POST", "/v1/stores", 200, { body: { name: "right part", plugin: "test-store", endpoint: '{"path":"/x"}' } });
    });
  });
});
