// SHIELD_MODE=DEV in real time, with the compiled daemon: a job on a daily
// schedule runs at the next minute, owned by system, and leaves an archive in
// the fs store; the next minute it runs again, once. Then a deleted archive's
// blob leaves the store through a purge task.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";

const PASSWORD = "e2e-scheduler-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };

let daemon: DaemonProcess;
let dir: string;

async function call(method: string, path: string, body?: unknown) {
  const r = await fetch(daemon.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as any };
}
function files(d: string): string[] {
  return readdirSync(d, { recursive: true }).map(String).filter((f) => statSync(join(d, f)).isFile());
}
async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${daemon.stderr().slice(-3000)}`);
    await Bun.sleep(250);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-e2e-scheduler-"));
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "store"));
  writeFileSync(join(dir, "data", "hello.txt"), "hello from the scheduler test\n");
  daemon = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD, SHIELD_MODE: "DEV" } });
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("SHIELD_MODE=DEV runs a daily job every minute, as system, once per minute", async () => {
  expect(daemon.stderr()).toContain("SHIELD_MODE=DEV: every schedule runs every minute");
  const target = (await call("POST", "/v1/targets", { name: "files", plugin: "files", endpoint: { base_dir: join(dir, "data") }, agent: "" })).json.uuid;
  const store = (await call("POST", "/v1/stores", { name: "fs", plugin: "fs", endpoint: { base_dir: join(dir, "store") } })).json.uuid;
  const schedule = (await call("POST", "/v1/schedules", { name: "nightly", when: "daily at 4am" })).json.uuid;
  const retention = (await call("POST", "/v1/retention", { name: "hour", expires: 3600 })).json.uuid;
  const created = await call("POST", "/v1/jobs", { name: "dev-job", target, store, schedule, retention, paused: false });
  expect(created.status).toBe(200);
  const job = created.json.uuid;

  const scheduled = async () => (await call("GET", `/v1/tasks?job=${job}`)).json.filter((t: any) => t.owner === "system");
  // The first due time is the next minute boundary: at most a minute away, plus the run.
  const first = await until("a first scheduled task", async () => (await scheduled()).find((t: any) => t.status === "done"), 90_000);
  expect(first.type).toBe("backup");
  expect(first.due_at).toMatch(/:00$/);
  expect(first.log).toContain('schedule "daily at 4am", run every minute as SHIELD_MODE=DEV');
  expect(first.archive_uuid).toBeString();
  const archive = (await call("GET", `/v1/archive/${first.archive_uuid}`)).json;
  expect(archive.status).toBe("valid");
  expect(files(join(dir, "store"))).toHaveLength(1);

  // The next minute, exactly one more.
  const second = await until("a second scheduled task", async () => (await scheduled()).find((t: any) => t.uuid !== first.uuid), 75_000);
  const dueAts = (await scheduled()).map((t: any) => t.due_at);
  expect(new Set(dueAts).size).toBe(dueAts.length);
  expect(Date.parse(second.due_at.replace(" ", "T") + "Z") - Date.parse(first.due_at.replace(" ", "T") + "Z")).toBe(60_000);
  await call("POST", `/v1/job/${job}/pause`);
  await until("the second run's end", async () => {
    const t = (await call("GET", `/v1/task/${second.uuid}`)).json;
    return ["pending", "running"].includes(t.status) ? undefined : t;
  }, 30_000);

  // Deleting the first archive takes its blob out of the store at once, through a purge task.
  const before = files(join(dir, "store")).length;
  expect((await call("DELETE", `/v1/archive/${first.archive_uuid}`)).json).toEqual({ ok: "deleted" });
  const purged = await until("the purge", async () => {
    const a = (await call("GET", `/v1/archive/${first.archive_uuid}`)).json;
    return a.status === "purged" ? a : undefined;
  }, 20_000);
  expect(purged.purged_at).toMatch(/^\d{4}-/);
  const purges = (await call("GET", `/v1/tasks?archive=${first.archive_uuid}`)).json.filter((t: any) => t.type === "purge");
  expect(purges).toHaveLength(1);
  expect(purges[0]).toMatchObject({ owner: "system", status: "done" });
  expect(files(join(dir, "store")).length).toBe(before - 1);
}, 200_000);
