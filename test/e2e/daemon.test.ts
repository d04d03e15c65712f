// The compiled binary, end to end: roles, first start, both catalogs, shutdown,
// and a smoke run of the /v1 contract over real HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, runShield, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { freePort } from "../helpers/services.ts";
import { freshDatabase, pgAvailable } from "../helpers/postgres.ts";
import pkg from "../../package.json" with { type: "json" };

const ADMIN = { SHIELD_ADMIN_PASSWORD: "e2e-password-1" };
const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}` });

describe("shield (the executable)", () => {
  test("version and help", () => {
    const v = runShield(["version"]);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(`shield ${pkg.version}`);
    const h = runShield(["help"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain("shield daemon");
    const dh = runShield(["daemon", "--help"]);
    expect(dh.status).toBe(0);
    expect(dh.stdout).toContain("--data-dir");
  });

  test("an unknown command or option is one clear line and a non-zero exit", () => {
    const r = runShield(["frobnicate"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`shield: unknown command "frobnicate"; run 'shield help'`);
    const o = runShield(["daemon", "--lisen", "x"]);
    expect(o.status).toBe(1);
    expect(o.stderr).toContain("unknown option --lisen");
    const l = runShield(["daemon", "--listen", "nowhere"]);
    expect(l.status).toBe(1);
    expect(l.stderr).toContain("--listen must be HOST:PORT");
  });
});

describe("shield daemon, first start on the embedded catalog", () => {
  let d: DaemonProcess;
  let cwd: string;
  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), "shield-e2e-"));
    // A stray .env and bunfig.toml must not be read by the compiled binary.
    writeFileSync(join(cwd, ".env"), "SHIELD_LISTEN=127.0.0.1:1\nSHIELD_ADMIN_PASSWORD=from-dotenv-file\n");
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./does-not-exist.ts"]\n');
    d = await startShieldDaemon({ cwd, env: {} });
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  test("creates ./shield-data with mode 0700, a host key and the SQLite catalog", () => {
    const data = join(cwd, "shield-data");
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, "host_key")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(data, "shield.db"))).toBe(true);
  });

  test("prints a generated admin password once, which signs in; the .env file was ignored", async () => {
    const m = /Created user 'admin' with password: (\S+)/.exec(d.stderr());
    expect(m).not.toBeNull();
    const ok = await fetch(`${d.url}/v1/auth/whoami`, { headers: basic("admin", m![1]!) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ name: "admin", role: "admin" });
    const dotenv = await fetch(`${d.url}/v1/auth/whoami`, { headers: basic("admin", "from-dotenv-file") });
    expect(dotenv.status).toBe(401);
  });

  test("the first start says in plain words which page to open, once ready, and the password", () => {
    const words = d.stderr().split("\n").filter((l) => !l.startsWith("{"));
    expect(words).toContain(`Shield is ready. Open ${d.url}/ in your browser.`);
    expect(words.some((l) => l.startsWith("Sign in as admin. Created user 'admin' with password: "))).toBe(true);
    // Said after the daemon is ready, so the page it names answers.
    const out = d.stderr();
    expect(out.indexOf("Shield is ready.")).toBeGreaterThan(out.indexOf('"shield daemon listening"'));
  });

  test("logs are JSON lines on stderr and never hold the password", () => {
    const lines = d.stderr().split("\n").filter((l) => l.startsWith("{"));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    const pw = /Created user 'admin' with password: (\S+)/.exec(d.stderr())![1]!;
    expect(lines.join("\n")).not.toContain(pw);
  });

  test("serves the public key in SSH format without credentials", async () => {
    const r = await fetch(`${d.url}/v1/meta/pubkey`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ core@shield\n$/);
  });
});

async function contractSmoke(url: string, auth: Record<string, string>) {
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method, headers: { ...auth, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: await r.json() as any };
  };
  const created = async (path: string, body: unknown) => {
    const r = await call("POST", path, body);
    expect(r).toMatchObject({ status: 200, json: { ok: "created" } });
    return r.json.uuid as string;
  };
  const schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
  const retention = await created("/v1/retention", { name: "week", expires: 7 * 86400 });
  const target = await created("/v1/targets", { name: "db", plugin: "postgres", endpoint: '{"pg_host":"db1","pg_user":"shield"}', agent: "" });
  const backups = mkdtempSync(join(tmpdir(), "shield-e2e-backups-"));
  const store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: backups } });
  const job = await created("/v1/jobs", { name: "nightly", store, target, retention, schedule, paused: false });

  const jobs = await call("GET", "/v1/jobs");
  expect(jobs.json).toEqual([expect.objectContaining({
    uuid: job, name: "nightly", paused: false, schedule: "daily at 4am", schedule_name: "daily", expiry: 604800,
    retention_name: "week", target_plugin: "postgres", target_endpoint: '{"pg_host":"db1","pg_user":"shield"}', store_endpoint: JSON.stringify({ base_dir: backups }),
  })]);
  expect((await call("POST", `/v1/job/${job}/pause`)).json).toEqual({ ok: "paused" });
  expect((await call("GET", "/v1/jobs?paused=t")).json).toHaveLength(1);
  const run = await call("POST", `/v1/job/${job}/run`, { owner: "e2e" });
  expect(run.json).toMatchObject({ ok: "scheduled" });
  // The supervisor takes the task at once (and fails it: there is no host db1), so look it up by uuid.
  const task = await call("GET", `/v1/task/${run.json.task_uuid}`);
  expect(task.json).toMatchObject({ uuid: run.json.task_uuid, owner: "e2e", type: "backup", job_uuid: job });
  expect((await call("GET", "/v1/tasks")).json.map((t: any) => t.uuid)).toContain(run.json.task_uuid);
  const refused = await call("DELETE", `/v1/schedule/${schedule}`);
  expect(refused.status).toBe(409);
  expect(refused.json.error).toContain('"nightly"');
  expect((await call("PUT", `/v1/job/${job}`, { name: "nightly", store, target, retention, schedule })).status).toBe(400);
  expect((await call("GET", "/v1/job/not-a-uuid")).status).toBe(400);
  expect((await call("GET", "/v1/job/6b8398be-fdc0-424a-8532-e812e5dfc116")).status).toBe(404);
  rmSync(backups, { recursive: true, force: true });
}

describe("shield daemon over HTTP", () => {
  test("answers the /v1 contract on SQLite, and stops cleanly on SIGTERM", async () => {
    const d = await startShieldDaemon({ env: ADMIN });
    try {
      await contractSmoke(d.url, basic("admin", ADMIN.SHIELD_ADMIN_PASSWORD));
      expect((await fetch(`${d.url}/v1/jobs`)).status).toBe(401);
    } finally {
      const code = await d.stop();
      // The daemon's own words when it did not stop cleanly.
      expect({ code, log: code === 0 ? "" : d.stderr() }).toEqual({ code: 0, log: "" });
    }
    expect(d.stderr()).toContain('"msg":"shield daemon stopped"');
  });

  test.skipIf(!pgAvailable)("answers the /v1 contract with --database postgres://...", async () => {
    const url = await freshDatabase("e2e");
    const d = await startShieldDaemon({ args: ["--database", url], env: ADMIN });
    try {
      await contractSmoke(d.url, basic("admin", ADMIN.SHIELD_ADMIN_PASSWORD));
      expect(d.stderr()).toContain('"catalog":"postgres://');
      expect(existsSync(join(d.dir, "shield-data", "shield.db"))).toBe(false);
    } finally {
      const code = await d.stop();
      // The daemon's own words when it did not stop cleanly.
      expect({ code, log: code === 0 ? "" : d.stderr() }).toEqual({ code: 0, log: "" });
    }
  });

  test("SHIELD_LISTEN, SHIELD_DATA_DIR and SHIELD_DATABASE_URL configure it too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-e2e-env-"));
    const d = await startShieldDaemon({ env: { ...ADMIN, SHIELD_DATA_DIR: join(dir, "data"), SHIELD_DATABASE_URL: join(dir, "catalog.db") } });
    try {
      expect(existsSync(join(dir, "data", "host_key"))).toBe(true);
      expect(existsSync(join(dir, "catalog.db"))).toBe(true);
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a catalog it cannot open is one clear error and exit 1", () => {
    const r = runShield(["daemon", "--listen", "127.0.0.1:0", "--database", "postgres://nobody@127.0.0.1:1/none"], { env: ADMIN });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("could not start");
    expect(r.stderr).toContain("cannot open the catalog postgres://nobody@127.0.0.1:1/none");
    expect(r.stderr).not.toContain("    at ");
  });
});

describe("shield daemon, ready means ready", () => {
  // A script waits for /v1/health and then signs in at once: on a fresh data dir the
  // admin is created (an argon2id hash, ~100 ms) after the daemon listens, so a 200
  // that came before it exists made that sign-in a 401 on every fresh start.
  test("on a fresh data dir, the first 200 of /v1/health means the admin can sign in (5 starts)", async () => {
    for (let round = 0; round < 5; round++) {
      const dir = mkdtempSync(join(tmpdir(), "shield-e2e-ready-"));
      const port = await freePort();
      const proc = spawn(ensureBinary(), ["daemon", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data")], {
        env: { ...process.env, ...ADMIN }, stdio: ["ignore", "ignore", "pipe"],
      });
      let log = "";
      proc.stderr!.on("data", (d) => (log += d));
      const exited = new Promise((res) => proc.on("exit", res));
      try {
        const url = `http://127.0.0.1:${port}`;
        const notReady: unknown[] = [];
        const deadline = Date.now() + 15_000;
        let up: unknown;
        for (;;) {
          const res = await fetch(`${url}/v1/health`).catch(() => undefined);
          if (res?.status === 200) {
            up = await res.json();
            break;
          }
          if (res) {
            expect(res.status).toBe(503);
            notReady.push(await res.json());
          }
          if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no 200 from /v1/health: ${log}`);
          await Bun.sleep(2);
        }
        // At once, as a script would.
        const who = await fetch(`${url}/v1/auth/whoami`, { headers: basic("admin", ADMIN.SHIELD_ADMIN_PASSWORD) });
        expect([round, who.status]).toEqual([round, 200]);
        expect(up).toEqual({ ok: "shield is up", ready: true, version: pkg.version });
        for (const body of notReady) expect(body).toEqual({ error: "shield is starting", ready: false, version: pkg.version });
      } finally {
        proc.kill("SIGTERM");
        await exited;
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 120_000);
});

describe("shield daemon, requests without a usable Host header", () => {
  test("400 JSON, and the log stays one JSON object a line", async () => {
    const d = await startShieldDaemon({ env: ADMIN });
    try {
      const port = Number(new URL(d.url).port);
      for (const head of ["GET /v1/health HTTP/1.1\r\nHost:\r\n", "GET /v1/jobs HTTP/1.0\r\n", "GET / HTTP/1.1\r\nHost: a b\r\n"]) {
        const res = await new Promise<string>((resolve, reject) => {
          const s = connect(port, "127.0.0.1", () => s.write(`${head}Connection: close\r\n\r\n`));
          let buf = "";
          s.on("data", (x) => (buf += x));
          s.on("end", () => resolve(buf));
          s.on("error", reject);
        });
        expect([head, res.slice(0, 12)]).toEqual([head, "HTTP/1.1 400"]);
        expect(JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4))).toEqual({ error: "the request has no valid Host header; send Host: HOST[:PORT]" });
      }
    } finally {
      await d.stop();
    }
    // Apart from the first start's words for the person at the terminal (the
    // password was given here: they only say where to go), every line is JSON.
    const lines = d.stderr().split("\n").filter((l) => l.trim() !== "");
    const words = lines.filter((l) => !l.startsWith("{"));
    expect(words).toEqual([
      `Shield is ready. Open ${d.url}/ in your browser.`, "Sign in as admin with the password you set in SHIELD_ADMIN_PASSWORD.",
      "The page will walk you through a first backup.",
    ]);
    expect(lines.length).toBeGreaterThan(words.length);
    for (const l of lines.filter((x) => x.startsWith("{"))) expect(() => JSON.parse(l)).not.toThrow();
    expect(d.stderr()).not.toContain("    at ");
  });
});
