// Archive downloads through the compiled daemon: GET /v1/archive/:uuid/download and
// `shield download archive X > file` give back exactly the bytes the target's
// backup wrote (decrypted and decompressed), for each compression; an archive
// whose stored blob was altered is refused before a byte is sent (the verify
// pass); viewers may not download.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SHIELD_BIN, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor } from "../helpers/cli.ts";

const PASSWORD = "e2e-download-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const SIZE = 3 * 1024 * 1024 + 12345;

/** What the bytes-target fixture's backup writes for a seed (its own recipe). */
function dumpOf(seed: string): Buffer {
  const r = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:${seed} -in /dev/zero 2>/dev/null | head -c ${SIZE}`]);
  return Buffer.from(r.stdout);
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("archive download", () => {
  let d: DaemonProcess;
  let storeDir: string;
  let outDir: string;
  let cli: ReturnType<typeof cliFor>;
  let token: string;
  const archives: Record<string, string> = {};

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = auth) => {
    const r = await fetch(d.url + path, { method, headers: { ...headers, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };
  const created = async (path: string, body: unknown) => {
    const r = await call("POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const waitTask = async (uuid: string) => {
    for (const deadline = Date.now() + 60_000; ;) {
      const { json } = await call("GET", `/v1/task/${uuid}`);
      if (!["pending", "running"].includes(json.status)) return json;
      if (Date.now() > deadline) throw new Error(`task still ${json.status}`);
      await Bun.sleep(100);
    }
  };

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-download-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-download-out-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    token = await adminToken(d, PASSWORD);
    cli = cliFor(d, token);
    const store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    const schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await created("/v1/retention", { name: "week", expires: 604800 });
    for (const compression of ["zstd", "gzip", "none"]) {
      const target = await created("/v1/targets", { name: `bytes-${compression}`, plugin: "bytes-target", endpoint: { size: SIZE, seed: compression }, agent: "" });
      const job = await created("/v1/jobs", { name: compression, target, store, schedule, retention, paused: true, compression });
      const task = await waitTask((await call("POST", `/v1/job/${job}/run`, {})).json.task_uuid);
      expect(task.status).toBe("done");
      archives[compression] = task.archive_uuid;
    }
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    cli?.cleanup();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  for (const compression of ["zstd", "gzip", "none"]) {
    test(`GET /v1/archive/:uuid/download: byte-identical to the original dump (${compression}, encrypted)`, async () => {
      const { json: a } = await call("GET", `/v1/archive/${archives[compression]}`);
      expect(a.cipher).not.toBe("none");
      const r = await fetch(`${d.url}/v1/archive/${a.uuid}/download`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("application/octet-stream");
      expect(r.headers.get("content-disposition")).toMatch(new RegExp(`^attachment; filename="bytes-${compression}-\\d{8}-\\d{6}\\.raw"$`));
      const got = new Uint8Array(await r.arrayBuffer());
      expect(got.length).toBe(SIZE);
      expect(sha(got)).toBe(sha(dumpOf(compression)));
    }, 60_000);
  }

  test("shield download archive X > file, and -o FILE: the same bytes; a name that matches no archive exits 3", async () => {
    const file = join(outDir, "redirected.raw");
    const env = { ...process.env, SHIELD_CORE: d.url, SHIELD_TOKEN: token, XDG_CONFIG_HOME: cli.config };
    const p = Bun.spawnSync(["sh", "-c", `"$0" download archive "$1" > "$2"`, SHIELD_BIN, archives.zstd!, file], { env });
    expect({ code: p.exitCode, err: p.stderr.toString() }).toMatchObject({ code: 0 });
    expect(p.stderr.toString()).toContain(`downloaded archive ${archives.zstd}: ${SIZE} bytes`);
    expect(sha(readFileSync(file))).toBe(sha(dumpOf("zstd")));
    const named = join(outDir, "named.raw");
    const o = await cli.run(["download", "archive", archives.gzip!, "-o", named], { timeoutMs: 60_000 });
    expect(o.status).toBe(0);
    expect(sha(readFileSync(named))).toBe(sha(dumpOf("gzip")));
    const bad = await cli.run(["download", "archive", "ffffffff", "-o", join(outDir, "x")]);
    expect(bad.status).toBe(3);
  }, 60_000);

  test("viewers may not download; no credentials, no download", async () => {
    await call("POST", "/v1/users", { name: "vera", password: "vera-password-long", role: "viewer" });
    const viewer = { authorization: `Basic ${Buffer.from("vera:vera-password-long").toString("base64")}` };
    const r = await fetch(`${d.url}/v1/archive/${archives.zstd}/download`, { headers: viewer });
    expect(r.status).toBe(403);
    expect((await fetch(`${d.url}/v1/archive/${archives.zstd}/download`)).status).toBe(401);
    expect((await fetch(`${d.url}/v1/archive/${crypto.randomUUID()}/download`, { headers: auth })).status).toBe(404);
  });

  test("an archive whose stored blob was altered is refused before a byte is sent (409, the verify pass's words)", async () => {
    const { json: a } = await call("GET", `/v1/archive/${archives.none}`);
    const blobs = readdirSync(storeDir, { recursive: true }).map(String).map((f) => join(storeDir, f)).filter((f) => statSync(f).isFile() && statSync(f).size === a.size);
    expect(blobs.length).toBeGreaterThan(0);
    // The one whose bytes hash to the archive's SHA-256.
    const blob = blobs.find((f) => sha(readFileSync(f)) === a.sha256)!;
    const bytes = readFileSync(blob);
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(blob, bytes);
    const r = await fetch(`${d.url}/v1/archive/${a.uuid}/download`, { headers: auth });
    expect(r.status).toBe(409);
    const body = (await r.json()) as any;
    expect(body.error).toMatch(/SHA-256|verification|authentic/i);
  }, 60_000);
});
