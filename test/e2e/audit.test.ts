// The audit trail end to end: the compiled daemon (catalog secrets sealed with its
// master key), a scripted sequence of changes made through the API, the CLI and the
// web UI (its forms over HTTP), then `shield list audit` must show exactly the
// expected entries, from the right address, with no secret value in them nor in the
// daemon's log. A second daemon behind a "proxy" shows X-Forwarded-For believed
// only from a --trusted-proxy, and ignored otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor, shield } from "../helpers/cli.ts";
import { WebClient } from "../web/session-client.ts";

const ADMIN_PW = "audit-admin-password-1a2b";
const OLIVE_PW = "audit-olive-password-3c4d";
const SECRETS = {
  admin: ADMIN_PW, olive: OLIVE_PW,
  wrong: "audit-wrong-password-5e6f",
  pg: "audit-pg-secret-7a8b",
  s3: "audit-s3-secret-9c0d",
};

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;

/** The web UI over real HTTP: WebClient's in-process Hono swapped for fetch, redirects left to it. */
function httpWeb(url: string): WebClient {
  const fetcher = { request: (u: string, init: RequestInit) => fetch(u, { ...init, redirect: "manual" }) };
  return new WebClient(fetcher as any, url);
}

/** An entry in one line; generated token names (CLI logins, web sessions) by their kind. */
function line(e: any): string {
  const token = (n: string | null) => (n === null ? "" : n.startsWith("shield login from ") ? " (cli login)" : n.startsWith("web session ") ? " (web session)" : ` (${n})`);
  const name = (n: string | null) => (n === null ? "-" : n.startsWith("shield login from ") ? "<cli login>" : n.startsWith("web session ") ? "<web session>" : n);
  return `${e.address} ${e.user}${token(e.token)} ${e.action} ${e.object_type} ${name(e.object_name)} [${Object.keys(e.changes).join(",")}]`;
}

describe("the audit trail of a real daemon", () => {
  let d: DaemonProcess;
  let work: string;
  let token: string;
  let cli: ReturnType<typeof cliFor>;
  let oliveConfig: string;

  beforeAll(async () => {
    ensureFreshBinary();
    work = mkdtempSync(join(tmpdir(), "shield-test-audit-e2e-"));
    mkdirSync(join(work, "src"));
    mkdirSync(join(work, "store"));
    writeFileSync(join(work, "src", "orders.csv"), "id,total\n1,10\n");
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    token = await adminToken(d, ADMIN_PW, "audit-admin");
    cli = cliFor(d, token);
    oliveConfig = mkdtempSync(join(tmpdir(), "shield-test-audit-olive-"));
  });
  afterAll(async () => {
    await d?.stop();
    cli?.cleanup();
    rmSync(work, { recursive: true, force: true });
    rmSync(oliveConfig, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(d.url + path, {
      method, headers: { authorization: basic("admin", ADMIN_PW), "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const ok = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const r = await api(method, path, body, headers);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  const olive = (args: string[], input?: string) =>
    shield(args, { input, env: { SHIELD_CORE: d.url, XDG_CONFIG_HOME: oliveConfig } });

  test("API, CLI and web UI changes make exactly the expected entries, with no secret in them", async () => {
    // --- the API (an X-Forwarded-For from a client no proxy vouches for is ignored)
    const spoof = { "x-forwarded-for": "203.0.113.66" };
    await ok("POST", "/v1/users", { name: "olive", password: OLIVE_PW, role: "operator" }, spoof);
    const store = (await ok("POST", "/v1/stores", { name: "local", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: join(work, "store") }) })).uuid;
    await ok("POST", "/v1/stores", {
      name: "offsite", summary: "", plugin: "s3",
      endpoint: JSON.stringify({ bucket: "audit-bucket", access_key_id: "AKIAAUDITE2E", secret_access_key: SECRETS.s3, region: "us-east-1", endpoint: "http://127.0.0.1:1" }),
    });
    const pg = (await ok("POST", "/v1/targets", {
      name: "orders-db", summary: "", plugin: "postgres", agent: "",
      endpoint: JSON.stringify({ pg_host: "db1.internal", pg_user: "backup", pg_password: SECRETS.pg, pg_database: "orders" }),
    })).uuid;
    // The same password sent back unchanged is no change (the catalog reseals it: compared opened).
    await ok("PUT", `/v1/target/${pg}`, {
      name: "orders-db", summary: "primary", plugin: "postgres", agent: "",
      endpoint: JSON.stringify({ pg_host: "db1.internal", pg_user: "backup", pg_password: SECRETS.pg, pg_database: "orders" }),
    });
    expect((await api("GET", "/v1/jobs", undefined, { authorization: basic("olive", SECRETS.wrong) })).status).toBe(401);

    // --- the CLI: olive signs in (a failed try first), then works with her kept token
    expect((await olive(["login", "--user", "olive", "--password-stdin"], `${SECRETS.wrong}\n`)).status).toBe(3);
    const login = await olive(["login", "--user", "olive", "--password-stdin"], `${OLIVE_PW}\n`);
    expect(login.status).toBe(0);
    const run = async (args: string[]) => {
      const r = await olive(args);
      if (r.status !== 0) throw new Error(`shield ${args.join(" ")}: ${r.status} ${r.stderr}`);
      return r;
    };
    await run(["create", "target", "--name", "files", "--plugin", "files", "--endpoint", JSON.stringify({ base_dir: join(work, "src") }), "--summary", "csv exports"]);
    await run(["create", "schedule", "--name", "nightly", "--when", "daily at 4am"]);
    await run(["create", "policy", "--name", "week", "--expires", "7d"]);
    await run(["create", "job", "--name", "files-nightly", "--target", "files", "--store", "local", "--schedule", "nightly", "--retention", "week"]);
    const backup = JSON.parse((await run(["run", "job", "files-nightly", "--follow", "--json"])).stdout);
    expect(backup.status).toBe("done");

    // --- the web UI: a failed sign-in, then the admin signs in, works and signs out
    const b = httpWeb(d.url);
    expect((await b.signIn("admin", SECRETS.wrong)).status).toBe(401);
    expect((await b.signIn("admin", ADMIN_PW)).status).toBe(303);
    const job = (await ok("GET", "/v1/jobs")).find((j: any) => j.name === "files-nightly");
    expect((await b.post(`/jobs/${job.uuid}/pause`)).status).toBe(303);
    expect((await b.post(`/archives/${backup.archive_uuid}/notes`, { notes: "end of quarter" })).status).toBe(303);
    expect((await b.post("/schedules", { name: "weekly", summary: "", when: "sundays at 3am" })).status).toBe(303);
    expect((await b.post("/signout")).status).toBe(303);

    // --- the trail, through the CLI as the admin
    const listed = await cli.run(["list", "audit", "--json", "--limit", "1000"]);
    expect(listed.status).toBe(0);
    const entries = (listed.json() as any[]).reverse();
    // An archive is named by its target and when it was taken.
    const archiveName = entries.find((e) => e.object_type === "archive")?.object_name;
    expect(archiveName).toMatch(/^files \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(entries.map(line)).toEqual([
      "127.0.0.1 admin sign-in token audit-admin [name]",
      "127.0.0.1 admin create user olive [name,password,provider,role]",
      "127.0.0.1 admin create store local [bandwidth,endpoint.base_dir,max_tasks,name,plugin]",
      "127.0.0.1 admin create store offsite [bandwidth,endpoint.access_key_id,endpoint.bucket,endpoint.endpoint,endpoint.region,endpoint.secret_access_key,max_tasks,name,plugin]",
      "127.0.0.1 admin create target orders-db [bandwidth,endpoint.pg_database,endpoint.pg_host,endpoint.pg_password,endpoint.pg_user,name,plugin]",
      "127.0.0.1 admin update target orders-db [summary]",
      "127.0.0.1 olive sign-in-failed user olive [reason]",
      "127.0.0.1 olive sign-in-failed user olive [reason]",
      "127.0.0.1 olive sign-in token <cli login> [name]",
      "127.0.0.1 olive (cli login) create target files [bandwidth,endpoint.base_dir,name,plugin,summary]",
      "127.0.0.1 olive (cli login) create schedule nightly [name,when]",
      "127.0.0.1 olive (cli login) create retention policy week [expires,keep_daily,keep_hourly,keep_last,keep_monthly,keep_weekly,keep_within,keep_yearly,name]",
      "127.0.0.1 olive (cli login) create job files-nightly [compression,name,paused,priority,retention_name,retention_uuid,schedule_name,schedule_uuid,store_name,store_uuid,target_name,target_uuid]",
      "127.0.0.1 olive (cli login) run job files-nightly [owner,task]",
      "127.0.0.1 admin sign-in-failed user admin [reason]",
      "127.0.0.1 admin sign-in token <web session> [expires_at,name]",
      "127.0.0.1 admin (web session) pause job files-nightly [paused]",
      `127.0.0.1 admin (web session) update archive ${archiveName} [notes]`,
      "127.0.0.1 admin (web session) create schedule weekly [name,when]",
      "127.0.0.1 admin (web session) delete token <web session> [expires_at,name]",
    ]);
    const failed = entries.filter((e) => e.action === "sign-in-failed");
    expect(failed.map((e) => [e.user, e.user_uuid])).toEqual([["olive", null], ["olive", null], ["admin", null]]);
    expect(entries.find((e) => e.action === "run")!.changes.task.to).toBe(backup.uuid);
    expect(entries.find((e) => e.object_type === "archive")!.changes.notes).toEqual({ from: "", to: "end of quarter" });
    expect(entries.find((e) => e.action === "create" && e.object_name === "orders-db")!.changes["endpoint.pg_password"]).toEqual({ to: "********" });

    // No secret in the JSON, the table, nor the daemon's log.
    const table = await cli.run(["list", "audit", "--limit", "1000"]);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain("olive (token shield login from");
    expect(table.stdout).toContain("sign-in-failed");
    for (const [name, secret] of Object.entries({ ...SECRETS, token, olivesToken: login.stdout })) {
      if (!secret) continue;
      expect([name, listed.stdout.includes(secret), table.stdout.includes(secret), d.stderr().includes(secret)]).toEqual([name, false, false, false]);
    }
  }, 120_000);

  test("shield list audit filters as the API does, and a non-admin is refused", async () => {
    const r = await cli.run(["list", "audit", "--user", "olive", "--action", "create", "--type", "job", "--json"]);
    expect(r.status).toBe(0);
    expect(r.json().map((e: any) => e.object_name)).toEqual(["files-nightly"]);
    const since = await cli.run(["list", "audit", "--since", "2999-01-01", "--json"]);
    expect(since.json()).toEqual([]);
    const bad = await cli.run(["list", "audit", "--since", "last tuesday"]);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain("since");
    const denied = await olive(["list", "audit"]);
    expect(denied.status).toBe(3);
    expect(denied.stderr).toContain("admin");
  });
});

describe("the client address behind a proxy", () => {
  let plain: DaemonProcess;
  let proxied: DaemonProcess;
  beforeAll(async () => {
    ensureFreshBinary();
    plain = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    proxied = await startShieldDaemon({ args: ["--trusted-proxy", "127.0.0.1"], env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
  });
  afterAll(async () => {
    await plain?.stop();
    await proxied?.stop();
  });

  const through = (d: DaemonProcess, auth: string, forwardedFor: string) =>
    fetch(`${d.url}/v1/schedules`, {
      method: "POST", headers: { authorization: auth, "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify({ name: `s-${forwardedFor}`, summary: "", when: "daily at 4am" }),
    });
  const addresses = async (d: DaemonProcess) => {
    const r = await fetch(`${d.url}/v1/audit`, { headers: { authorization: basic("admin", ADMIN_PW) } });
    return ((await r.json()) as any[]).map((e) => `${e.action} ${e.user} ${e.address}`).reverse();
  };

  test("X-Forwarded-For is believed only from a --trusted-proxy, for changes and failed sign-ins alike", async () => {
    for (const d of [plain, proxied]) {
      expect((await through(d, basic("admin", ADMIN_PW), "198.51.100.7")).status).toBe(200);
      // A client behind the proxy claiming to be another: the proxy's appended hop counts.
      expect((await through(d, basic("admin", ADMIN_PW), "10.9.9.9, 198.51.100.8")).status).toBe(200);
      expect((await through(d, basic("eve", SECRETS.wrong), "198.51.100.9")).status).toBe(401);
    }
    expect(await addresses(plain)).toEqual(["create admin 127.0.0.1", "create admin 127.0.0.1", "sign-in-failed eve 127.0.0.1"]);
    expect(await addresses(proxied)).toEqual(["create admin 198.51.100.7", "create admin 198.51.100.8", "sign-in-failed eve 198.51.100.9"]);
  }, 60_000);
});
