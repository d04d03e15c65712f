// The API over a catalog that seals endpoint secrets (as the daemon's does):
// operators and admins read endpoints whole (opened), viewers redacted, and the
// catalog holds them sealed. A field the plugin declares a password is sealed
// even when its name says nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { createApi } from "../../src/api/index.ts";
import { REDACTED } from "../../src/api/redact.ts";
import { connectCatalog, type Catalog } from "../../src/catalog/index.ts";
import { createCore } from "../../src/core/index.ts";
import { endpointSealer } from "../../src/core/plugins.ts";
import { EndpointSecrets, isSealed } from "../../src/pipeline/endpoint-secrets.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { log } from "../../src/log.ts";

const PASSWORD = "correct horse battery";
const basic = (u: string) => `Basic ${Buffer.from(`${u}:${PASSWORD}`).toString("base64")}`;

describe("endpoint secrets through the API", () => {
  let dir: string;
  let catalog: Catalog;
  let app: Hono;
  const secrets = new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32)));

  beforeAll(async () => {
    log.setSink(() => {});
    dir = mkdtempSync(join(tmpdir(), "shield-test-api-secrets-"));
    // A plugin declaring `pin` a password: nothing in that name says so.
    const plugin = join(dir, "vault");
    writeFileSync(plugin, `#!/bin/sh
case "$1" in
  info) echo '{"name":"vault","version":"1","features":{"target":"yes","store":"no"},"fields":[{"name":"pin","type":"password"},{"name":"host","type":"string"}]}' ;;
  validate) echo ok ;;
  *) exit 2 ;;
esac
`);
    chmodSync(plugin, 0o755);
    const plugins = new PluginRegistry({ dirs: [dir], self: [], builtins: [] });
    catalog = await connectCatalog(join(dir, "shield.db"), { sealer: endpointSealer(secrets, plugins) });
    const core = createCore(catalog, { plugins, secrets });
    for (const role of ["admin", "operator", "viewer"] as const) await core.users.create({ name: role, password: PASSWORD, role });
    app = createApi(core, { pubkey: "ssh-ed25519 AAAATEST core@shield" });
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const req = async (method: string, path: string, as: string, body?: unknown) => {
    const res = await app.request(path, {
      method, headers: { authorization: basic(as), ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  test("stored sealed; an operator reads the endpoint as given, a viewer redacted", async () => {
    const endpoint = JSON.stringify({ host: "vault1", pin: "4711-pin", api_token: "tok-123456" });
    const created = await req("POST", "/v1/targets", "admin", { name: "v", plugin: "vault", endpoint, agent: "" });
    expect([created.status, created.json]).toEqual([200, expect.anything()]);
    const row = (await catalog.targets.get(created.json.uuid))!;
    const stored = JSON.parse(row.endpoint);
    expect(isSealed(stored.pin)).toBe(true);
    expect(isSealed(stored.api_token)).toBe(true);
    expect(stored.host).toBe("vault1");
    expect(row.endpoint).not.toContain("4711-pin");

    const asOperator = await req("GET", `/v1/target/${created.json.uuid}`, "operator");
    expect(asOperator.json.endpoint).toBe(endpoint);
    const asViewer = await req("GET", `/v1/target/${created.json.uuid}`, "viewer");
    expect(JSON.parse(asViewer.json.endpoint)).toEqual({ host: "vault1", pin: REDACTED, api_token: REDACTED });
    // Lists too.
    const list = await req("GET", "/v1/targets", "admin");
    expect(list.json.find((t: any) => t.uuid === created.json.uuid).endpoint).toBe(endpoint);
  });

  test("what an operator read and sends back unchanged is stored sealed again, and reads the same", async () => {
    const endpoint = JSON.stringify({ host: "vault2", pin: "0000-pin" });
    const { json } = await req("POST", "/v1/targets", "admin", { name: "v2", plugin: "vault", endpoint, agent: "" });
    const got = (await req("GET", `/v1/target/${json.uuid}`, "operator")).json;
    expect((await req("PUT", `/v1/target/${json.uuid}`, "operator", { name: got.name, summary: got.summary, plugin: got.plugin, endpoint: got.endpoint, agent: got.agent })).status).toBe(200);
    expect((await catalog.targets.get(json.uuid))!.endpoint).not.toContain("0000-pin");
    expect((await req("GET", `/v1/target/${json.uuid}`, "operator")).json.endpoint).toBe(endpoint);
  });
});
