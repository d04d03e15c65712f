// Operators configure targets; they do not get a shell: the compiled daemon,
// confined with --allow-path, refuses to save an endpoint whose directory lies
// outside the allowed ones (a 400 with the plugin's words), and refuses to run one
// saved before it was confined: the allowed paths reach every plugin it starts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";

const PASSWORD = "e2e-confine-password";

const { call, waitTask } = daemonApi("admin", PASSWORD);

const regularFiles = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());

describe("shield daemon --allow-path", () => {
  let work: string;
  let home: string;
  let allowed: string;
  let outside: string;
  let d: DaemonProcess | undefined;
  const start = async (args: string[] = []) => {
    d = await startShieldDaemon({ cwd: home, args, env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    return d;
  };
  const created = async (path: string, body: unknown) => {
    const r = await call(d!, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "shield-e2e-confine-"));
    home = join(work, "home");
    allowed = join(work, "allowed");
    outside = join(work, "outside");
    for (const dir of [home, join(allowed, "store"), join(allowed, "data"), outside]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(allowed, "data/file.txt"), "inside\n");
    writeFileSync(join(outside, "secret.txt"), "outside\n");
    symlinkSync(outside, join(allowed, "escape"));
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("saving an endpoint outside the allowed paths is a 400 with the plugin's words; inside is fine", async () => {
    await start(["--allow-path", allowed]);
    const refused: [string, string, Record<string, unknown>, string][] = [
      ["/v1/stores", "fs", { base_dir: outside }, `${outside} is outside the paths this Shield may use; allowed: ${allowed}`],
      ["/v1/stores", "fs", { base_dir: join(allowed, "escape") }, `(it leads to ${outside})`],
      ["/v1/stores", "fs", { base_dir: `${allowed}/store/../../outside` }, `must not contain ".."`],
      ["/v1/targets", "files", { base_dir: outside }, `${outside} is outside the paths this Shield may use`],
      ["/v1/targets", "files", { base_dir: `${allowed}/data/` }, `must be written in normal form: "${allowed}/data"`],
      ["/v1/targets", "postgres", { pg_user: "u", pg_database: "app", pg_options: `--file=${outside}/x.sql` }, "may not hold --file for pg_dump"],
    ];
    for (const [path, plugin, endpoint, words] of refused) {
      const r = await call(d!, "POST", path, { name: `bad-${plugin}`, plugin, endpoint, ...(path === "/v1/targets" ? { agent: "" } : {}) });
      expect(r.status).toBe(400);
      expect(r.json.fields.endpoint).toContain(words);
    }
    await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: join(allowed, "store") } });
    await created("/v1/targets", { name: "data", plugin: "files", endpoint: { base_dir: join(allowed, "data") }, agent: "" });
    await d!.stop();
    d = undefined;
  });

  test("an endpoint saved before the daemon was confined is refused when it runs: backup and restore fail, naming the path", async () => {
    // Unconfined, anything goes: a target reading a directory outside, and an archive of it.
    await start();
    const store = await created("/v1/stores", { name: "disk2", plugin: "fs", endpoint: { base_dir: join(allowed, "store") } });
    const target = await created("/v1/targets", { name: "outside", plugin: "files", endpoint: { base_dir: outside }, agent: "" });
    const schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    const retention = await created("/v1/retention", { name: "week", expires: 604800 });
    const job = await created("/v1/jobs", { name: "outside", target, store, schedule, retention, paused: true });
    // And a store outside, fed from a target inside.
    const outStore = join(outside, "store");
    mkdirSync(outStore);
    const outsideStore = await created("/v1/stores", { name: "outside", plugin: "fs", endpoint: { base_dir: outStore } });
    const intoOutside = await created("/v1/jobs", {
      name: "into-outside", store: outsideStore, schedule, retention, paused: true,
      target: await created("/v1/targets", { name: "data-early", plugin: "files", endpoint: { base_dir: join(allowed, "data") }, agent: "" }),
    });
    const first = await waitTask(d!, (await call(d!, "POST", `/v1/job/${job}/run`)).json.task_uuid);
    expect(first.status).toBe("done");
    const archive = first.archive_uuid as string;
    await d!.stop();

    // Confined: the same job and a restore into the same target both fail before tar runs.
    await start(["--allow-path", allowed]);
    const blobs = regularFiles(join(allowed, "store"));
    const again = await waitTask(d!, (await call(d!, "POST", `/v1/job/${job}/run`)).json.task_uuid);
    expect(again.status).toBe("failed");
    expect(again.log).toContain(`${outside} is outside the paths this Shield may use`);
    expect(regularFiles(join(allowed, "store"))).toEqual(blobs);
    // The built-in store runs inside its guard, with the same confinement.
    const stored = await waitTask(d!, (await call(d!, "POST", `/v1/job/${intoOutside}/run`)).json.task_uuid);
    expect(stored.status).toBe("failed");
    expect(stored.log).toContain(`${outStore} is outside the paths this Shield may use`);
    expect(regularFiles(outStore)).toEqual([]);
    rmSync(join(outside, "secret.txt"));
    const back = await waitTask(d!, (await call(d!, "POST", `/v1/archive/${archive}/restore`, {})).json.task_uuid);
    expect(back.status).toBe("failed");
    expect(back.log).toContain(`${outside} is outside the paths this Shield may use`);
    expect(existsSync(join(outside, "secret.txt"))).toBe(false);

    // Inside the allowed paths the data path works as ever (the store, run in its guard, is confined too).
    const inside = await created("/v1/targets", { name: "data2", plugin: "files", endpoint: { base_dir: join(allowed, "data") }, agent: "" });
    const restored = await waitTask(d!, (await call(d!, "POST", `/v1/archive/${archive}/restore`, { target: inside })).json.task_uuid);
    expect(restored.status).toBe("done");
    expect(readFileSync(join(allowed, "data/secret.txt"), "utf8")).toBe("outside\n");
    const insideJob = await created("/v1/jobs", { name: "inside", target: inside, store, schedule, retention, paused: true });
    const ok = await waitTask(d!, (await call(d!, "POST", `/v1/job/${insideJob}/run`)).json.task_uuid);
    expect(ok.status).toBe("done");
    expect(regularFiles(join(allowed, "store")).length).toBe(blobs.length + 1);
  });
});
