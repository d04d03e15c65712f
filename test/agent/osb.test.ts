// The osb-backup-agent API (src/agent/osb/) as a broker drives it: the seed's
// bodies, every route and status code, the per-phase logs, and the archive in a
// real S3 bucket (a private moto_server).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { startOsbServer, type OsbServer } from "../../src/agent/osb/index.ts";
import { publicBlob } from "../../src/agent/keys.ts";
import { MOTO_KEY, MOTO_REGION, freshBucket, motoAvailable, startMoto, type Moto } from "../helpers/s3.ts";
import { freePort } from "../helpers/services.ts";

const USER = "broker";
const PASS = "broker-pass-never-logged";
const auth = "Basic " + Buffer.from(`${USER}:${PASS}`).toString("base64");

let moto: Moto;
let osb: OsbServer;
let root: string;
let scripts: string;
let trace: string;
let bucket: string;

// Each phase records itself in $trace_file, prints to both streams, and obeys
// `fail` (a phase name: that phase exits 3) and `sleep` (the backup phase waits).
const PHASE = (name: string, body = "") => `#!/bin/sh
echo "${name}" >> "$trace_file"
echo "${name} says hello to $host"
echo "${name} complains" >&2
${body}
if [ "$fail" = "${name}" ]; then echo "${name} broke" >&2; exit 3; fi
exit 0
`;

function writeScripts(dir: string) {
  const files: Record<string, string> = {
    "pre-backup-lock": PHASE("pre-backup-lock"),
    "pre-backup-check": PHASE("pre-backup-check"),
    backup: PHASE("backup", `
echo "key=$key retries=$retries user=$user" >&2
if [ -n "$sleep" ]; then sleep "$sleep"; fi
f="$SHIELD_BACKUP_DIR/\${host}_$(date -u +%Y_%m_%d)_\${database}.tar.gz"
printf 'payload of %s with %s' "$database" "$password" > "$f"`),
    "backup-cleanup": PHASE("backup-cleanup"),
    "post-backup-unlock": PHASE("post-backup-unlock"),
    "pre-restore-lock": PHASE("pre-restore-lock"),
    restore: PHASE("restore", `cp "$SHIELD_RESTORE_FILE" "$(dirname "$trace_file")/restored"`),
    "restore-cleanup": PHASE("restore-cleanup"),
    "post-restore-unlock": PHASE("post-restore-unlock"),
  };
  for (const [name, text] of Object.entries(files)) { writeFileSync(join(dir, name), text); chmodSync(join(dir, name), 0o755); }
}

function backupBody(id: string, params: Record<string, unknown>[] = [], dest: Record<string, unknown> = {}) {
  return {
    id,
    destination: { type: "S3", bucket, region: MOTO_REGION, authKey: MOTO_KEY.access_key_id, authSecret: MOTO_KEY.secret_access_key, ...dest },
    backup: {
      host: "host", user: "user", password: "password", database: "database name",
      parameters: [{ key: "arbitraryValue" }, { retries: 2 }, { trace_file: trace }, ...params],
    },
  };
}

function restoreBody(id: string, filename: string, params: Record<string, unknown>[] = []) {
  return {
    id,
    destination: { type: "S3", bucket, region: MOTO_REGION, authKey: MOTO_KEY.access_key_id, authSecret: MOTO_KEY.secret_access_key, filename },
    restore: { host: "host", user: "user", password: "password", database: "database_name", parameters: [{ trace_file: trace }, ...params] },
  };
}

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: auth }) =>
  fetch(`${osb.url}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });

async function until(kind: "backup" | "restore", id: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await call("GET", `/${kind}/${id}`);
    expect(r.status).toBe(200);
    const b = await r.json() as Record<string, any>;
    if (b.status !== "RUNNING") return b;
    if (Date.now() > deadline) throw new Error(`job ${id} still running: ${JSON.stringify(b)}`);
    await Bun.sleep(50);
  }
}

const traced = () => (existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n") : []);

describe.skipIf(!motoAvailable)("osb-backup-agent API", () => {
  beforeAll(async () => {
    moto = await startMoto();
    bucket = await freshBucket("osb", moto);
    root = mkdtempSync(join(tmpdir(), "shield-osb-test-"));
    scripts = join(root, "scripts");
    require("node:fs").mkdirSync(scripts);
    writeScripts(scripts);
    trace = join(root, "trace");
    osb = startOsbServer({ listen: `127.0.0.1:${await freePort()}`, username: USER, password: PASS, scriptDir: scripts, s3: { endpoint: moto.url } });
  });
  afterAll(async () => {
    await osb?.stop();
    // The shared moto_server is stopped when the run ends (test/helpers/preload.ts).
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("GET /status answers; every route wants Basic auth (401 with the simple body)", async () => {
    const ok = await call("GET", "/status");
    expect(ok.status).toBe(200);
    expect(typeof ((await ok.json()) as any).message).toBe("string");
    for (const [method, path] of [["GET", "/status"], ["POST", "/backup"], ["GET", "/backup/x"], ["DELETE", "/backup"], ["PUT", "/restore"], ["GET", "/restore/x"], ["DELETE", "/restore"]]) {
      for (const headers of [{} as Record<string, string>, { authorization: "Basic " + Buffer.from(`${USER}:wrong`).toString("base64") }, { authorization: "Bearer x" }]) {
        const r = await call(method!, path!, method === "GET" ? undefined : {}, headers);
        expect(r.status).toBe(401);
        expect(r.headers.get("www-authenticate")).toContain("Basic");
        const b = await r.json();
        expect(b).toEqual({ message: expect.any(String) });
        expect(JSON.stringify(b)).not.toContain(PASS);
      }
    }
  });

  test("backup: 201, polled to SUCCEEDED, the seed's body and per-phase logs, the file in the bucket", async () => {
    rmSync(trace, { force: true });
    const id = "778f038c-e1c5-11e8-9f32-f2801f1b9fd1";
    const r = await call("POST", "/backup", backupBody(id));
    expect(r.status).toBe(201);
    const b = await until("backup", id);
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "_");
    // The seed's own values, a space in the database's name included.
    const filename = `host_${day}_database name.tar.gz`;
    const payload = "payload of database name with password";
    expect(b).toMatchObject({
      status: "SUCCEEDED", state: "finished", message: "backup successfully carried out",
      region: MOTO_REGION, bucket, filename, filesize: { size: payload.length, unit: "byte" },
    });
    expect(b.error_message).toBeUndefined();
    expect(b.start_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(b.end_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(typeof b.execution_time_ms).toBe("number");
    for (const phase of ["pre_backup_lock", "pre_backup_check", "backup", "backup_cleanup", "post_backup_unlock"]) {
      expect(b[`${phase}_log`]).toContain(`${phase.replaceAll("_", "-")} says hello to host`);
      expect(b[`${phase}_errorlog`]).toContain(`${phase.replaceAll("_", "-")} complains`);
    }
    // The parameters reached the scripts as environment variables.
    expect(b.backup_errorlog).toContain("key=arbitraryValue retries=2 user=user");
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"]);
    const obj = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: filename }));
    expect(await obj.Body!.transformToString()).toBe(payload);

    // The same id again: 409 with the existing job's polling body.
    const again = await call("POST", "/backup", backupBody(id));
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).status).toBe("SUCCEEDED");

    // restore it: the file is downloaded and handed to the restore script.
    rmSync(trace, { force: true });
    const rr = await call("PUT", "/restore", restoreBody(id, filename));
    expect(rr.status).toBe(201);
    const rb = await until("restore", id);
    expect(rb).toMatchObject({ status: "SUCCEEDED", state: "finished", message: "restore successfully carried out" });
    expect(rb.region).toBeUndefined();
    for (const phase of ["pre_restore_lock", "restore", "restore_cleanup", "post_restore_unlock"]) {
      expect(rb[`${phase}_log`]).toContain("says hello");
      expect(rb[`${phase}_errorlog`]).toContain("complains");
    }
    expect(traced()).toEqual(["pre-restore-lock", "restore", "restore-cleanup", "post-restore-unlock"]);
    expect(readFileSync(join(root, "restored"), "utf8")).toBe(payload);
    expect((await call("PUT", "/restore", restoreBody(id, filename))).status).toBe(409);

    // Deletion: 200, then gone (404 to a poll, 410 to a second delete).
    expect((await call("DELETE", "/backup", { id })).status).toBe(200);
    expect((await call("GET", `/backup/${id}`)).status).toBe(404);
    expect((await call("DELETE", "/backup", { id })).status).toBe(410);
    expect((await call("DELETE", "/restore", { id })).status).toBe(200);
    expect((await call("DELETE", "/restore", { id })).status).toBe(410);
    // The id may be used again once deleted.
    expect((await call("POST", "/backup", backupBody(id))).status).toBe(201);
    expect((await until("backup", id)).status).toBe("SUCCEEDED");
  });

  test("a large file goes up in parts and comes back whole", async () => {
    const big = mkdtempSync(join(tmpdir(), "shield-osb-big-"));
    const dir = join(big, "scripts");
    require("node:fs").mkdirSync(dir);
    writeFileSync(join(dir, "backup"), `#!/bin/sh\nhead -c 12582917 /dev/urandom > "$SHIELD_BACKUP_DIR/big_file.tar.gz"\ncp "$SHIELD_BACKUP_DIR/big_file.tar.gz" "${big}/original"\n`);
    writeFileSync(join(dir, "restore"), `#!/bin/sh\ncmp "$SHIELD_RESTORE_FILE" "${big}/original"\n`);
    chmodSync(join(dir, "backup"), 0o755); chmodSync(join(dir, "restore"), 0o755);
    const server = startOsbServer({ listen: `127.0.0.1:${await freePort()}`, username: USER, password: PASS, scriptDir: dir, s3: { endpoint: moto.url, partSize: 5 << 20 } });
    try {
      const post = (m: string, p: string, b: unknown) => fetch(`${server.url}${p}`, { method: m, headers: { authorization: auth }, body: JSON.stringify(b) });
      const get = async (p: string) => { for (;;) { const b = await (await fetch(`${server.url}${p}`, { headers: { authorization: auth } })).json() as any; if (b.status !== "RUNNING") return b; await Bun.sleep(50); } };
      expect((await post("POST", "/backup", backupBody("big"))).status).toBe(201);
      const b = await get("/backup/big");
      expect(b).toMatchObject({ status: "SUCCEEDED", filename: "big_file.tar.gz", filesize: { size: 12582917, unit: "byte" } });
      expect((await post("PUT", "/restore", restoreBody("big", "big_file.tar.gz"))).status).toBe(201);
      expect(await get("/restore/big")).toMatchObject({ status: "SUCCEEDED", restore_errorlog: "" });
    } finally {
      await server.stop();
      rmSync(big, { recursive: true, force: true });
    }
  }, 60_000);

  test("400 for bodies that are not sufficient, with the reason in the polling body", async () => {
    const bad: [unknown, string][] = [
      ["{not json", "not valid JSON"],
      [{}, "id is required"],
      [{ ...backupBody("a/b") }, "id must be"],
      [{ ...backupBody("x1"), destination: undefined }, "destination must be a JSON object"],
      [backupBody("x2", [], { type: "SWIFT" }), "not supported"],
      [backupBody("x3", [], { bucket: "" }), "destination.bucket is required"],
      [backupBody("x4", [], { authSecret: 42 }), "destination.authSecret must be a string"],
      [backupBody("x5", [{ nested: { a: 1 } }]), "simple value"],
      [backupBody("x6", [{ "bad name": "v" }]), "environment variable's name"],
      [backupBody("x7", [{ LD_PRELOAD: "/tmp/evil.so" }]), "changes how the scripts run"],
      [{ ...backupBody("x8"), backup: "nope" }, "backup must be a JSON object"],
      [{ ...backupBody("x9"), padding: "x".repeat(100_000) }, "larger than"],
    ];
    for (const [body, why] of bad) {
      const r = await call("POST", "/backup", body);
      expect(r.status).toBe(400);
      const b = (await r.json()) as any;
      expect(b.status).toBe("FAILED");
      expect(b.error_message).toContain(why);
      expect(JSON.stringify(b)).not.toContain(MOTO_KEY.secret_access_key);
    }
    // A restore must name the file.
    const r = await call("PUT", "/restore", { ...restoreBody("r1", "f"), destination: { ...restoreBody("r1", "f").destination, filename: undefined } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error_message).toContain("destination.filename is required");
    // Nothing of these started a job.
    expect((await call("GET", "/backup/x2")).status).toBe(404);
    // Polls with no valid id: 400; deletions without one: 400.
    expect((await call("GET", "/backup/a..b")).status).toBe(400);
    expect((await call("GET", "/backup/%ZZ")).status).toBe(400);
    expect((await call("GET", "/restore/bad%2Fid")).status).toBe(400);
    expect((await call("DELETE", "/backup", {})).status).toBe(400);
    expect((await call("DELETE", "/backup", "{nope")).status).toBe(400);
    expect((await call("DELETE", "/restore", { id: 5 })).status).toBe(400);
    expect((await call("GET", "/restore/unknown-id")).status).toBe(404);
    expect((await call("DELETE", "/restore", { id: "unknown-id" })).status).toBe(410);
  });

  test("a failing phase: FAILED with error_message, cleanup and unlock still run", async () => {
    rmSync(trace, { force: true });
    expect((await call("POST", "/backup", backupBody("fails", [{ fail: "backup" }]))).status).toBe(201);
    const b = await until("backup", "fails");
    expect(b).toMatchObject({ status: "FAILED", state: "finished" });
    expect(b.error_message).toContain("backup phase failed (exit 3)");
    expect(b.backup_errorlog).toContain("backup broke");
    expect(b.post_backup_unlock_log).toContain("says hello");
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"]);

    rmSync(trace, { force: true });
    expect((await call("POST", "/backup", backupBody("check-fails", [{ fail: "pre-backup-check" }]))).status).toBe(201);
    const c = await until("backup", "check-fails");
    expect(c.status).toBe("FAILED");
    // The backup never started: no cleanup owed; the lock was taken: unlock owed.
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "post-backup-unlock"]);

    const missing = await call("PUT", "/restore", restoreBody("no-such-file", "nowhere.tar.gz"));
    expect(missing.status).toBe(201);
    const m = await until("restore", "no-such-file");
    expect(m.status).toBe("FAILED");
    expect(m.error_message).toContain("nowhere.tar.gz");
    expect(m.error_message).not.toContain(MOTO_KEY.secret_access_key);
  });

  test("DELETE of a running job cancels it; its cleanup and unlock run before the 200", async () => {
    rmSync(trace, { force: true });
    expect((await call("POST", "/backup", backupBody("slow", [{ sleep: "30" }]))).status).toBe(201);
    for (let i = 0; i < 200 && ((await (await call("GET", "/backup/slow")).json()) as any).state !== "backup"; i++) await Bun.sleep(25);
    await Bun.sleep(100);
    const t = Date.now();
    expect((await call("DELETE", "/backup", { id: "slow" })).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(traced()).toEqual(["pre-backup-lock", "pre-backup-check", "backup", "backup-cleanup", "post-backup-unlock"]);
    expect((await call("GET", "/backup/slow")).status).toBe(404);
  });

  test("jobs run one at a time: the second waits, queued", async () => {
    rmSync(trace, { force: true });
    expect((await call("POST", "/backup", backupBody("first", [{ sleep: "1" }]))).status).toBe(201);
    expect((await call("POST", "/backup", backupBody("second"))).status).toBe(201);
    const second = await (await call("GET", "/backup/second")).json();
    expect(second).toMatchObject({ status: "RUNNING", state: "queued" });
    expect((await until("backup", "second")).status).toBe("SUCCEEDED");
    expect((await until("backup", "first")).status).toBe("SUCCEEDED");
    expect(traced().filter((p) => p === "post-backup-unlock").length).toBe(2);
    // The first job's whole lifecycle came before the second's.
    expect(traced().indexOf("post-backup-unlock")).toBeLessThan(traced().lastIndexOf("pre-backup-lock"));
  });
});

describe("shield agent --osb-listen", () => {
  const MAIN = join(import.meta.dir, "../../src/main.ts");
  test("serves the API beside the agent with the credentials from the environment; refuses to start without them; stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-osb-cli-"));
    try {
      const core = generateKeyPairSync("ed25519").privateKey;
      writeFileSync(join(dir, "core.keys"), `ssh-ed25519 ${publicBlob(core).toString("base64")} core@shield\n`);
      const port = await freePort();
      const agentArgs = [process.execPath, MAIN, "agent", "--listen", `127.0.0.1:${await freePort()}`, "--data-dir", join(dir, "data"),
        "--authorized-keys", join(dir, "core.keys")];
      const args = [...agentArgs, "--osb-listen", `127.0.0.1:${port}`, "--osb-script-dir", dir];
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(SHIELD_OSB_|client_)/.test(k)) env[k] = v;
      const refused = Bun.spawnSync(args, { env, stderr: "pipe" });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr.toString()).toContain("SHIELD_OSB_PASSWORD");
      // An osb option without --osb-listen is a mistake, not silently ignored.
      const stray = Bun.spawnSync([...agentArgs, "--osb-script-dir", dir], { env, stderr: "pipe" });
      expect(stray.exitCode).not.toBe(0);
      expect(stray.stderr.toString()).toContain("--osb-script-dir needs --osb-listen");
      const help = Bun.spawnSync([process.execPath, MAIN, "agent", "--help"], { env, stdout: "pipe" });
      expect(help.stdout.toString()).toContain("--osb-listen HOST:PORT");
      const proc = Bun.spawn(args, { env: { ...env, SHIELD_OSB_USERNAME: USER, SHIELD_OSB_PASSWORD: PASS }, stderr: "pipe" });
      let r: Response | undefined;
      for (let i = 0; i < 200 && !r; i++) {
        try { r = await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: auth } }); } catch { await Bun.sleep(50); }
      }
      expect(r?.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/status`)).status).toBe(401);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const log = await new Response(proc.stderr).text();
      expect(log).toContain("osb-backup-agent API listening");
      expect(log).not.toContain(PASS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
