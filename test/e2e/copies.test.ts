// Copies through the compiled daemon and its API, between two built-in fs stores
// (each run inside its guard): a job with a copy; GET /v1/archive/:uuid lists the
// copy, valid, with the archive's sha256; the primary blob removed, a restore of
// the files target reads the copy and says so.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";

const PASSWORD = "e2e-copies-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
let d: DaemonProcess;
let root: string;

async function call(method: string, path: string, body?: unknown) {
  const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await r.json()) as any;
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}
async function waitTask(uuid: string) {
  for (const deadline = Date.now() + 60_000; ;) {
    const t = await call("GET", `/v1/task/${uuid}`);
    if (!["pending", "running"].includes(t.status)) return t;
    if (Date.now() > deadline) throw new Error(`task still ${t.status}: ${t.log}`);
    await Bun.sleep(50);
  }
}
const blobs = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.startsWith(".") && !f.includes("/.") && statSync(join(dir, f)).isFile());

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "shield-e2e-copies-"));
  for (const sub of ["src", "primary", "offsite", "restored"]) mkdirSync(join(root, sub));
  writeFileSync(join(root, "src", "data.bin"), crypto.getRandomValues(new Uint8Array(60_000)));
  writeFileSync(join(root, "src", "notes.txt"), "copies, 3-2-1\n");
  d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
});
afterAll(async () => {
  await d?.stop();
  rmSync(root, { recursive: true, force: true });
});

test("fs → fs: the copy is listed valid with the archive's sha256; with the primary blob gone, the restore reads the copy", async () => {
  const primary = (await call("POST", "/v1/stores", { name: "primary", plugin: "fs", endpoint: { base_dir: join(root, "primary") } })).uuid;
  const offsite = (await call("POST", "/v1/stores", { name: "offsite", plugin: "fs", endpoint: { base_dir: join(root, "offsite") } })).uuid;
  const target = (await call("POST", "/v1/targets", { name: "src", plugin: "files", endpoint: { base_dir: join(root, "src") }, agent: "" })).uuid;
  const schedule = (await call("POST", "/v1/schedules", { name: "nightly", when: "daily at 4am" })).uuid;
  const week = (await call("POST", "/v1/retention", { name: "week", expires: 7 * 86400 })).uuid;
  const year = (await call("POST", "/v1/retention", { name: "year", expires: 365 * 86400 })).uuid;
  const job = (await call("POST", "/v1/jobs", { name: "files", target, store: primary, schedule, retention: week, paused: true, copies: [{ store: offsite, retention: year }], run_window: "01:00-05:00" })).uuid;
  expect(await call("GET", `/v1/job/${job}`)).toMatchObject({ copies: [{ store: offsite, retention: year }], run_window: "01:00-05:00" });

  const backup = await waitTask((await call("POST", `/v1/job/${job}/run`)).task_uuid);
  expect(backup.status).toBe("done");
  const archive = backup.archive_uuid;
  let shown;
  for (const deadline = Date.now() + 30_000; ;) {
    shown = await call("GET", `/v1/archive/${archive}`);
    if (shown.copies[0]?.status !== "pending") break;
    if (Date.now() > deadline) throw new Error("copy still pending");
    await Bun.sleep(50);
  }
  expect(shown.copies).toEqual([expect.objectContaining({ store_uuid: offsite, store_name: "offsite", status: "valid", size: shown.size, sha256: shown.sha256 })]);
  const [p] = blobs(join(root, "primary"));
  const [o] = blobs(join(root, "offsite"));
  expect(readFileSync(join(root, "offsite", o!)).equals(readFileSync(join(root, "primary", p!)))).toBe(true);

  rmSync(join(root, "primary", p!));
  const to = (await call("POST", "/v1/targets", { name: "restored", plugin: "files", endpoint: { base_dir: join(root, "restored") }, agent: "" })).uuid;
  const restore = await waitTask((await call("POST", `/v1/archive/${archive}/restore`, { target: to })).task_uuid);
  expect(restore.status).toBe("done");
  expect(restore.log).toContain(`store "primary" (fs) cannot be used`);
  expect(restore.log).toContain(`from the copy in store "offsite" (fs)`);
  expect(readFileSync(join(root, "restored", "data.bin")).equals(readFileSync(join(root, "src", "data.bin")))).toBe(true);
  expect(readFileSync(join(root, "restored", "notes.txt"), "utf8")).toBe("copies, 3-2-1\n");
});
