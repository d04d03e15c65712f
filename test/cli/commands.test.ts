// The compiled CLI against a real daemon: every command of every kind, --json
// shapes, names and UUID prefixes, and the errors a user meets (unreachable core,
// bad token, ambiguous name, validation errors passed through from the API).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor, shield } from "../helpers/cli.ts";
import { freePort } from "../helpers/services.ts";

const PASSWORD = "cli-admin-password";
let d: DaemonProcess;
let cli: ReturnType<typeof cliFor>;
let token: string;
let dir: string;
const run = (...args: string[]) => cli.run(args);

async function api(method: string, path: string, body?: unknown) {
  const r = await fetch(d.url + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return r.json() as Promise<any>;
}

/** A successful run's stdout; a failure shows its stderr in the assertion message. */
async function ok(...args: string[]) {
  const r = await run(...args);
  expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: expect.any(String) });
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-cli-"));
  d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  token = await adminToken(d, PASSWORD);
  cli = cliFor(d, token);
});
afterAll(async () => {
  await d?.stop();
  cli?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("definitions: targets, stores, schedules, retention policies", () => {
  test("create, list, show, edit and delete a store; --json is the API's JSON", async () => {
    const created = (await ok("create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }), "--json")).json();
    expect(created).toEqual({ ok: "created", uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const list = (await ok("list", "stores", "--json")).json();
    expect(list).toEqual(await api("GET", "/v1/stores"));
    const table = (await ok("list", "stores")).stdout;
    expect(table).toMatch(/^UUID\s+Name\s+Plugin\s+Summary/);
    expect(table).toContain(`${created.uuid.slice(0, 8)}  disk  fs`);
    expect((await ok("show", "store", "disk", "--json")).json()).toEqual(await api("GET", `/v1/store/${created.uuid}`));
    expect((await ok("edit", "store", "disk", "--summary", "local disk", "--json")).json()).toEqual({ ok: "updated" });
    const shown = (await ok("show", "store", created.uuid.slice(0, 6))).stdout;
    expect(shown).toMatch(/Summary: +local disk/);
    expect(shown).toMatch(/Max tasks: +no limit/);
    expect(shown).toMatch(new RegExp(`Endpoint: +\\{"base_dir":"${dir}"\\}`));
    // Editing one field keeps the others.
    expect(await api("GET", `/v1/store/${created.uuid}`)).toMatchObject({ name: "disk", plugin: "fs", summary: "local disk" });
    const other = (await ok("create", "store", "--name", "spare", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }))).stdout;
    expect(other).toMatch(/^created store spare \([0-9a-f-]{36}\)\n$/);
    expect((await ok("delete", "store", "spare", "--json")).json()).toEqual({ ok: "deleted" });
    expect((await api("GET", "/v1/stores")).map((s: any) => s.name)).toEqual(["disk"]);
  });

  test("targets: --plugin filter, secrets masked in the readable output, --agent", async () => {
    await ok("create", "target", "--name", "bytes", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 200000, password: "hunter22", out: join(dir, "restored") }));
    await ok("create", "target", "--name", "tree", "--summary", "some files", "--plugin", "files", "--endpoint", JSON.stringify({ base_dir: dir }), "--agent", "10.0.0.5:5444");
    const onlyFiles = (await ok("list", "targets", "--plugin", "files", "--json")).json();
    expect(onlyFiles.map((t: any) => t.name)).toEqual(["tree"]);
    expect(onlyFiles[0].agent).toBe("10.0.0.5:5444");
    const shown = await ok("show", "target", "bytes");
    expect(shown.stdout).toContain('"password":"***"');
    expect(shown.stdout).not.toContain("hunter22");
    expect((await ok("show", "target", "bytes", "--json")).json().endpoint).toContain("hunter22");
    await ok("edit", "target", "tree", "--agent", "");
    expect((await api("GET", "/v1/targets?plugin=files"))[0]).toMatchObject({ agent: "", summary: "some files" });
  });

  test("--endpoint - reads the endpoint from stdin and @FILE from a file, so a password need not be in argv", async () => {
    const endpoint = { size: "10", password: "from-stdin-secret", out: join(dir, "x") };
    const made = (await cli.run(["create", "target", "--name", "piped", "--plugin", "bytes-target", "--endpoint", "-", "--json"], { input: JSON.stringify(endpoint) })).json();
    expect(JSON.parse((await api("GET", `/v1/target/${made.uuid}`)).endpoint)).toEqual(endpoint);
    const file = join(dir, "endpoint.json");
    await Bun.write(file, JSON.stringify({ ...endpoint, password: "from-a-file" }));
    await ok("edit", "target", "piped", "--endpoint", `@${file}`);
    expect(JSON.parse((await api("GET", `/v1/target/${made.uuid}`)).endpoint).password).toBe("from-a-file");
    const missing = await run("edit", "target", "piped", "--endpoint", `@${join(dir, "nope.json")}`);
    expect([missing.status, missing.stderr]).toEqual([1, expect.stringContaining("cannot read")]);
    const empty = await cli.run(["edit", "target", "piped", "--endpoint", "-"], { input: "" });
    expect([empty.status, empty.stderr]).toEqual([1, expect.stringContaining("stdin was empty")]);
    await ok("delete", "target", "piped", "-y");
  });

  test("schedules and retention policies: --expires takes 1h, 30d; update is edit; --used/--unused", async () => {
    await ok("create", "schedule", "--name", "nightly", "--when", "daily at 4am", "--summary", "every night");
    await ok("create", "retention", "policy", "--name", "month", "--expires", "30d");
    await ok("create", "policy", "--name", "hour", "--expires", "3600");
    const policies = (await ok("list", "retention", "policies", "--json")).json();
    expect(policies.map((p: any) => [p.name, p.expires])).toEqual([["hour", 3600], ["month", 2592000]]);
    expect((await ok("list", "retention", "policies")).stdout).toMatch(/month\s+30d/);
    await ok("update", "retention", "policy", "hour", "--expires", "1h30m");
    expect((await ok("show", "retention", "policy", "hour", "--json")).json().expires).toBe(5400);
    expect((await ok("show", "policy", "hour")).stdout).toContain("Expires:  5400 s (1h30m)");
    await ok("update", "schedule", "nightly", "--when", "daily at 3am");
    expect((await ok("show", "schedule", "nightly", "--json")).json()).toMatchObject({ name: "nightly", when: "daily at 3am", summary: "every night" });
    expect((await ok("list", "schedules", "--unused", "--json")).json().map((s: any) => s.name)).toEqual(["nightly"]);
    expect((await ok("list", "schedules", "--used", "--json")).json()).toEqual([]);
  });
});

describe("shield timespec", () => {
  test("canonical form and next runs, as a table or the API's JSON", async () => {
    const r = (await ok("timespec", "daily at 4am", "--count", "3", "--json")).json();
    expect(r).toEqual({ when: "daily at 4am", canonical: expect.any(String), zone: expect.any(String), next: expect.any(Array) });
    expect(r.next).toHaveLength(3);
    for (const t of r.next) expect(t).toMatch(/^\d{4}-\d\d-\d\d 04:00:00$/);
    expect(r).toEqual(await api("GET", "/v1/timespec?when=daily%20at%204am&count=3"));
    const table = (await ok("timespec", "daily", "at", "4am")).stdout;
    expect(table).toContain(`Canonical:  ${r.canonical}\n`);
    expect(table.match(/04:00:00 UTC/g)).toHaveLength(5);
  });

  test("an expression that does not parse: the parser's words, exit 3", async () => {
    const r = await run("timespec", "daily at 25pm");
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^shield: .*25pm.*\n$/);
    const bad = await run("create", "schedule", "--name", "never", "--when", "whenever");
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain("whenever");
    expect((await run("timespec", "daily", "--count", "99")).stderr).toContain("--count: must be a whole number from 1 to 50");
  });
});

describe("jobs, runs, archives and tasks", () => {
  let jobUuid: string;
  let archiveUuid: string;

  test("create a job from names; list with filters; show", async () => {
    const r = (await ok("create", "job", "--name", "bytes-nightly", "--target", "bytes", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused", "--priority", "10", "--compression", "gzip", "--json")).json();
    jobUuid = r.uuid;
    const job = await api("GET", `/v1/job/${jobUuid}`);
    expect(job).toMatchObject({ name: "bytes-nightly", paused: true, priority: 10, compression: "gzip", target_name: "bytes", store_name: "disk", schedule_name: "nightly", retention_name: "month" });
    expect((await ok("list", "jobs", "--paused", "--target", "bytes", "--json")).json().map((j: any) => j.uuid)).toEqual([jobUuid]);
    expect((await ok("list", "jobs", "--unpaused", "--json")).json()).toEqual([]);
    expect((await ok("list", "jobs", "--retention-policy", "month", "--store", "disk", "--schedule", "nightly", "--json")).json()).toHaveLength(1);
    expect((await ok("show", "job", "bytes-nightly", "--json")).json()).toEqual(job);
    const shown = (await ok("show", "job", jobUuid.slice(0, 5))).stdout;
    expect(shown).toContain("Retention:    month: 30d");
    expect(shown).toContain("Paused:       yes");
    // A schedule a job uses cannot be deleted: the API's 409 comes through, naming the job.
    const del = await run("delete", "schedule", "nightly", "-y");
    expect(del.status).toBe(3);
    expect(del.stderr).toContain("bytes-nightly");
    expect((await ok("list", "schedules", "--used", "--json")).json().map((s: any) => s.name)).toEqual(["nightly"]);
  });

  test("a job's copies and run window; a store's limits", async () => {
    const offsite = (await ok("create", "store", "--name", "offsite", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }),
      "--max-tasks", "2", "--bandwidth", "50M", "--json")).json().uuid;
    expect(await api("GET", `/v1/store/${offsite}`)).toMatchObject({ max_tasks: 2, bandwidth: 50 * 1024 * 1024 });
    expect((await ok("show", "store", "offsite")).stdout).toMatch(/Bandwidth: +at most 50 MiB\/s/);
    expect((await run("create", "store", "--name", "x", "--plugin", "fs", "--endpoint", "{}", "--bandwidth", "fast")).stderr).toContain("--bandwidth: must be bytes per second");
    await ok("edit", "job", "bytes-nightly", "--copies", "offsite:month", "--window", "01:00-05:00");
    const policy = (await api("GET", `/v1/job/${jobUuid}`)).retention_uuid;
    expect(await api("GET", `/v1/job/${jobUuid}`)).toMatchObject({ copies: [{ store: offsite, retention: policy }], run_window: "01:00-05:00" });
    expect((await ok("show", "job", "bytes-nightly")).stdout).toContain("Run window:   01:00-05:00");
    const bad = await run("edit", "job", "bytes-nightly", "--window", "1-5");
    expect(bad.stderr).toContain("window");
    expect((await run("edit", "job", "bytes-nightly", "--copies", "disk:month")).stderr).toContain("own store");
    await ok("edit", "job", "bytes-nightly", "--copies", "", "--window", "");
    expect(await api("GET", `/v1/job/${jobUuid}`)).toMatchObject({ copies: [], run_window: "" });
    await ok("delete", "store", "offsite", "-y");
  });

  test("a job created without --paused starts unpaused (the API requires the field; the CLI gives it)", async () => {
    const r = (await ok("create", "job", "--name", "bytes-active", "--target", "bytes", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--json")).json();
    expect((await api("GET", `/v1/job/${r.uuid}`)).paused).toBe(false);
    await ok("delete", "job", "bytes-active", "-y");
    expect((await ok("list", "jobs", "--unpaused", "--json")).json()).toEqual([]);
  });

  test("a job without a schedule: created without --schedule (or with none), run by hand; edit takes a schedule away or gives one", async () => {
    const made = await ok("create", "job", "--name", "bytes-by-hand", "--target", "bytes", "--store", "disk", "--retention", "month");
    expect(made.stdout).toContain("without a schedule: it runs only when asked");
    const uuid = (await api("GET", "/v1/jobs")).find((j: any) => j.name === "bytes-by-hand").uuid;
    expect(await api("GET", `/v1/job/${uuid}`)).toMatchObject({ schedule_uuid: null, next_run: null, paused: false });
    const shown = (await ok("show", "job", "bytes-by-hand")).stdout;
    expect(shown).toMatch(/Schedule: +\(none: runs only when asked\)/);
    expect(shown).toMatch(/Next run: +- \(no schedule: run by hand\)/);
    expect((await ok("list", "jobs")).stdout).toMatch(/bytes-by-hand.*\(none\)/);
    // Editing another field keeps it without a schedule; --schedule gives one, --schedule none takes it away.
    await ok("edit", "job", "bytes-by-hand", "--summary", "when asked");
    expect(await api("GET", `/v1/job/${uuid}`)).toMatchObject({ schedule_uuid: null, summary: "when asked" });
    await ok("edit", "job", "bytes-by-hand", "--schedule", "nightly");
    expect((await api("GET", `/v1/job/${uuid}`)).schedule_name).toBe("nightly");
    await ok("edit", "job", "bytes-by-hand", "--schedule", "none");
    expect((await api("GET", `/v1/job/${uuid}`)).schedule_uuid).toBeNull();
    const other = (await ok("create", "job", "--name", "bytes-by-hand-2", "--target", "bytes", "--store", "disk", "--schedule", "none", "--retention", "month", "--json")).json();
    expect((await api("GET", `/v1/job/${other.uuid}`)).schedule_uuid).toBeNull();
    // A schedule that is not one is still an error naming it.
    const bad = await run("create", "job", "--name", "x", "--target", "bytes", "--store", "disk", "--schedule", "no-such-schedule", "--retention", "month");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("no-such-schedule");
    await ok("delete", "job", "bytes-by-hand", "-y");
    await ok("delete", "job", "bytes-by-hand-2", "-y");
  });

  test("paused exits 0 when paused and 1 when not; pause and unpause", async () => {
    const yes = await run("paused", "job", "bytes-nightly");
    expect([yes.status, yes.stdout]).toEqual([0, "job bytes-nightly is paused\n"]);
    expect((await ok("unpause", "job", "bytes-nightly", "--json")).json()).toEqual({ ok: "unpaused" });
    const no = await run("paused", "job", "bytes-nightly");
    expect([no.status, no.stdout]).toEqual([1, "job bytes-nightly is not paused\n"]);
    expect((await run("paused", "job", "bytes-nightly", "--json")).json().paused).toBe(false);
    expect((await ok("pause", "job", "bytes-nightly")).stdout).toBe("paused job bytes-nightly\n");
    expect((await run("paused", "job", "bytes-nightly")).status).toBe(0);
  });

  test("edit a job: one field changes, the rest stay", async () => {
    await ok("create", "retention", "--name", "week", "--expires", "1w");
    await ok("edit", "job", "bytes-nightly", "--retention", "week", "--summary", "kept a week");
    expect(await api("GET", `/v1/job/${jobUuid}`)).toMatchObject({ retention_name: "week", summary: "kept a week", target_name: "bytes", priority: 10, compression: "gzip", paused: true });
  });

  test("run job --follow streams the log and exits 0; the task is owned by the signed-in user", async () => {
    const r = await run("run", "job", "bytes-nightly", "--follow");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("backed up");
    expect(r.stdout).not.toContain("hunter22");
    expect(r.stderr).toMatch(/task [0-9a-f]{8} done: archive [0-9a-f-]{36}/);
    const tasks = (await ok("list", "tasks", "--all", "--json")).json();
    expect(tasks[0]).toMatchObject({ type: "backup", status: "done", owner: "admin", job_uuid: jobUuid });
    archiveUuid = tasks[0].archive_uuid;
    const archives = (await ok("list", "archives", "--target", "bytes", "--json")).json();
    expect(archives).toEqual(await api("GET", `/v1/archives?target=${archives[0].target_uuid}`));
    expect(archives.map((a: any) => a.uuid)).toEqual([archiveUuid]);
    expect((await ok("list", "archives")).stdout).toMatch(new RegExp(`${archiveUuid.slice(0, 8)}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+bytes\\s+disk\\s+valid`));
    expect((await ok("list", "archives", "--status", "purged", "--json")).json()).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await ok("list", "archives", "--after", today, "--json")).json()).toHaveLength(1);
    expect((await ok("list", "archives", "--before", today.replace(/-/g, ""), "--json")).json()).toHaveLength(0);
  });

  test("run job without --follow answers the task; show task prints its log", async () => {
    const r = (await ok("run", "job", "bytes-nightly", "--json")).json();
    expect(r).toEqual({ ok: "scheduled", task_uuid: expect.any(String) });
    const followed = await run("show", "task", r.task_uuid.slice(0, 8), "--follow");
    expect(followed.status).toBe(0);
    const shown = (await ok("show", "task", r.task_uuid)).stdout;
    expect(shown).toContain("Status:     done");
    expect(shown).toMatch(/Log:\n  \d{4}-/);
    expect((await ok("show", "task", r.task_uuid, "--json")).json()).toEqual(await api("GET", `/v1/task/${r.task_uuid}`));
    expect((await ok("list", "tasks", "--job", "bytes-nightly", "--status", "done", "--json")).json()).toHaveLength(2);
    // Nothing runs now: plain `list tasks` shows the latest finished ones.
    expect((await ok("list", "tasks")).stdout).toMatch(new RegExp(`${r.task_uuid.slice(0, 8)}\\s+backup\\s+done\\s+admin\\s+bytes-nightly`));
  });

  test("annotate, restore (--to another target) and delete an archive", async () => {
    const prefix = archiveUuid.slice(0, 7);
    expect((await ok("edit", "archive", prefix, "--notes", "before change #422", "--json")).json()).toEqual({ ok: "updated" });
    expect((await ok("show", "archive", prefix)).stdout).toContain("Notes:        before change #422");
    const out2 = join(dir, "restored-elsewhere");
    await ok("create", "target", "--name", "bytes2", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 1, out: out2 }));
    const r = await run("restore", "archive", prefix, "--to", "bytes2", "--follow");
    expect(r.status).toBe(0);
    expect(readFileSync(out2).length).toBe(200000);
    // Not simply the first: the backup of the test before can fall in the same second
    // (requested_at has whole seconds), and then the order between the two is the uuids'.
    const task = (await ok("list", "tasks", "--all", "--json")).json().find((t: any) => t.type === "restore");
    expect(task).toMatchObject({ type: "restore", status: "done", archive_uuid: archiveUuid, owner: "admin" });
    expect((await ok("list", "tasks", "--archive", prefix, "--all", "--json")).json().map((t: any) => t.type)).toContain("restore");
    expect((await ok("delete", "archive", prefix, "--json")).json()).toEqual({ ok: "deleted" });
    expect((await api("GET", `/v1/archive/${archiveUuid}`)).status).not.toBe("valid");
  });

  test("cancel a running task; following it exits 5", async () => {
    await ok("create", "target", "--name", "slow", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 100000, sleep: 30 }));
    await ok("create", "job", "--name", "slow", "--target", "slow", "--store", "disk", "--schedule", "nightly", "--retention", "week", "--paused");
    const { task_uuid } = (await ok("run", "job", "slow", "--json")).json();
    for (let i = 0; i < 100 && (await api("GET", `/v1/task/${task_uuid}`)).status !== "running"; i++) await Bun.sleep(50);
    expect((await ok("list", "tasks", "--json")).json().map((t: any) => t.uuid)).toContain(task_uuid);
    expect((await ok("cancel", "task", task_uuid.slice(0, 8), "-y", "--json")).json()).toEqual({ ok: "canceled" });
    const followed = await run("show", "task", task_uuid, "--follow");
    expect(followed.status).toBe(5);
    expect(followed.stderr).toContain("canceled");
    // Canceling it again: the API's 409 comes through.
    const again = await run("cancel", "task", task_uuid, "-y");
    expect(again.status).toBe(3);
    expect(again.stderr).toMatch(/^shield: .+\n$/);
  });

  test("a failing backup: --follow exits 4", async () => {
    await ok("create", "target", "--name", "dies", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 100000, fail_after: 1000 }));
    await ok("create", "job", "--name", "dies", "--target", "dies", "--store", "disk", "--schedule", "nightly", "--retention", "week", "--paused");
    const r = await run("run", "job", "dies", "--follow");
    expect(r.status).toBe(4);
    expect(r.stdout).toContain("died mid-stream");
    expect(r.stderr).toMatch(/task [0-9a-f]{8} failed/);
  });

  test("job health: last and next run in list jobs, show job, the failed task's error, statistics, archive search", async () => {
    const listed = (await ok("list", "jobs")).stdout.split("\n");
    expect(listed[0]).toMatch(/Last run \(UTC\)\s+Next run \(UTC\)\s+OK \(30d\)\s+Last error$/);
    const error = "target backup failed (exit 1): died mid-stream";
    // Last run: status, when, how long, what it stored; next run; a failure's error line.
    expect(listed.find((l) => l.includes("dies"))).toMatch(/FAILED \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d+s\s+- \(paused\)\s+0%\s+target backup failed \(exit 1\): died mid-stream$/);
    expect(listed.find((l) => l.includes("bytes-nightly"))).toMatch(/done \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d+s, \d+ KiB\s+- \(paused\)\s+100%\s+-$/);
    expect((await ok("show", "job", "dies")).stdout).toContain(`Last error:   ${error}\n`);
    const failed = (await ok("list", "tasks", "--job", "dies", "--all", "--json")).json()[0];
    expect(failed.error).toBe(error);
    expect((await ok("show", "task", failed.uuid)).stdout).toContain(`Error:      ${error}\n`);
    const stats = (await ok("statistics", "--json")).json();
    expect(stats.failing_jobs.map((j: any) => [j.name, j.error])).toEqual([["dies", error]]);
    expect(stats.stores.map((s: any) => s.name)).toContain("disk");
    const text = (await ok("statistics", "--window", "7d")).stdout;
    expect(text).toMatch(/^\d+ archives held, .+; 3 jobs, 1 failing\n/);
    expect(text).toMatch(/\ndisk\s+fs\s+\d+\s+/);
    expect(text).toContain("Failing jobs (their last backup failed):");
    expect(text).toContain(error);
    const bad = await run("statistics", "--window", "soon");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("--window");
    expect((await ok("list", "archives", "--search", "CHANGE #422", "--json")).json().map((a: any) => a.uuid)).toEqual([archiveUuid]);
    expect((await ok("list", "archives", "--job", "bytes-nightly", "--sort", "size", "--asc", "--json")).json()).toHaveLength(2);
    expect((await ok("list", "archives", "--min-size", "999999999", "--json")).json()).toEqual([]);
  });

  test("delete a job", async () => {
    expect((await ok("delete", "job", "dies", "-y")).stdout).toMatch(/^deleted job dies/);
    expect((await api("GET", "/v1/jobs")).map((j: any) => j.name).sort()).toEqual(["bytes-nightly", "slow"]);
  });
});

describe("plugins", () => {
  test("list and show, with the endpoint's fields", async () => {
    expect((await ok("list", "plugins", "--json")).json()).toEqual(await api("GET", "/v1/plugins"));
    expect((await ok("list", "plugins")).stdout).toMatch(/postgres\s+target\s+\S+\s+builtin/);
    const pg = (await ok("show", "plugin", "postgres")).stdout;
    expect(pg).toMatch(/pg_user\s+string\s+yes/);
    expect((await ok("show", "plugin", "fs", "--json")).json().info.fields[0].name).toBe("base_dir");
    const missing = await run("show", "plugin", "nope");
    expect([missing.status, missing.stderr]).toEqual([3, expect.stringContaining("nope")]);
  });
});

describe("names and UUID prefixes", () => {
  test("names differing only in case: the exact one wins; another case is ambiguous and lists both", async () => {
    await ok("create", "schedule", "--name", "Weekly", "--when", "sundays 2am");
    await ok("create", "schedule", "--name", "weekly", "--when", "sundays 3am");
    expect((await ok("show", "schedule", "weekly", "--json")).json().when).toBe("sundays 3am");
    expect((await ok("show", "schedule", "Weekly", "--json")).json().when).toBe("sundays 2am");
    const r = await run("show", "schedule", "WEEKLY");
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('"WEEKLY" is ambiguous: it matches 2 schedules');
    const uuids = (await api("GET", "/v1/schedules")).filter((s: any) => s.name.toLowerCase() === "weekly").map((s: any) => s.uuid);
    for (const u of uuids) expect(r.stderr).toContain(u);
  });

  test("an ambiguous UUID prefix lists the candidates; a longer one resolves", async () => {
    // 17 policies: two of them must share a first hex digit.
    for (let i = 0; i < 17; i++) await api("POST", "/v1/retention", { name: `bulk-${i}`, expires: 3600 + i });
    const all = await api("GET", "/v1/retention");
    const byDigit = new Map<string, any[]>();
    for (const p of all) byDigit.set(p.uuid[0], [...(byDigit.get(p.uuid[0]) ?? []), p]);
    const [digit, group] = [...byDigit].find(([, g]) => g.length > 1)!;
    const r = await run("show", "retention", "policy", digit);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`"${digit}" is ambiguous`);
    for (const p of group) expect(r.stderr).toContain(`${p.uuid}  ${p.name}`);
    const one = group[0];
    expect((await ok("show", "retention", "policy", one.uuid.slice(0, 13), "--json")).json().uuid).toBe(one.uuid);
    expect((await ok("show", "retention", "policy", one.uuid.toUpperCase(), "--json")).json().uuid).toBe(one.uuid);
  });

  test("no match names what was looked for", async () => {
    const r = await run("show", "job", "no-such-job");
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('shield: no job named "no-such-job" or with a UUID starting "no-such-job" (see shield list jobs)\n');
    const full = await run("show", "job", "00000000-0000-4000-8000-000000000000");
    expect(full.status).toBe(3);
    expect(full.stderr).toMatch(/^shield: .*00000000-0000-4000-8000-000000000000.*\n$/);
  });
});

describe("suggestions, names and candidates", () => {
  test("a mistyped command, noun or flag: did you mean", async () => {
    const cases: [string[], unknown][] = [
      [["lsit", "jobs"], 'shield: unknown command "lsit jobs"; did you mean `list jobs`?\n'],
      [["deamon"], 'shield: unknown command "deamon"; did you mean `daemon`?\n'],
      [["list", "jbos"], expect.stringMatching(/^shield: shield list what\? One of: target, store, .*; did you mean `list jobs`\?\n$/)],
      [["craete", "target"], 'shield: unknown command "craete target"; did you mean `create target`?\n'],
      [["shwo", "job", "slow"], 'shield: unknown command "shwo job slow"; did you mean `show job`?\n'],
      [["run", "job", "slow", "--folow"], "shield: unknown option --folow; did you mean --follow?\n"],
      [["list", "tasks", "--stauts", "failed"], "shield: unknown option --stauts; did you mean --status?\n"],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 1, stderr: message as string });
    }
    // Nothing near: no guess.
    expect((await run("frobnicate")).stderr).toBe(`shield: unknown command "frobnicate"; run 'shield help'\n`);
  });

  test("show task names the job, target and store", async () => {
    // A backup: the restore of the test before (into bytes2) is the job's task too, and
    // can be the newest.
    const task = (await ok("list", "tasks", "--job", "bytes-nightly", "--status", "done", "--json")).json().find((t: any) => t.type === "backup");
    const shown = (await ok("show", "task", task.uuid.slice(0, 8))).stdout;
    expect(shown).toContain(`Job:        bytes-nightly (${task.job_uuid})\n`);
    expect(shown).toContain(`Target:     bytes (${task.target_uuid})\n`);
    expect(shown).toContain(`Store:      disk (${task.store_uuid})\n`);
  });

  test("list tasks: what runs, then the latest finished; --status picks one state", async () => {
    const plain = (await ok("list", "tasks")).stdout.split("\n");
    expect(plain[0]).toMatch(/^UUID\s+Type\s+Status/);
    expect(plain.some((l) => /\sdone\s/.test(l))).toBe(true);
    expect(plain.filter((l) => /^[0-9a-f]{8}/.test(l)).length).toBeLessThanOrEqual(10);
    const failed = (await ok("list", "tasks", "--status", "canceled", "--json")).json();
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((t: any) => t.status === "canceled")).toBe(true);
    expect((await ok("list", "tasks", "--status", "canceled")).stdout).not.toMatch(/\sdone\s/);
  });

  test("a name that is not one: every command lists the names like it, and never picks one", async () => {
    const a = (await ok("create", "job", "--name", "uxdemo-a", "--target", "bytes", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused", "--json")).json().uuid;
    const b = (await ok("create", "job", "--name", "uxdemo-b", "--target", "bytes", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused", "--json")).json().uuid;
    for (const args of [["show", "job", "uxdemo"], ["run", "job", "uxdemo"], ["delete", "job", "uxdemo", "-y"], ["pause", "job", "UXDEMO"], ["list", "tasks", "--job", "uxdemo"]]) {
      const r = await run(...args);
      expect({ args, status: r.status }).toEqual({ args, status: 3 });
      expect(r.stderr).toStartWith('shield: no job is named "');
      expect(r.stderr).toContain("2 jobs have names like it; give the exact name:\n");
      expect(r.stderr).toContain(`  ${a}  uxdemo-a (bytes → disk)\n`);
      expect(r.stderr).toContain(`  ${b}  uxdemo-b (bytes → disk)\n`);
    }
    expect((await api("GET", "/v1/jobs")).map((j: any) => j.name)).toContain("uxdemo-a");
    // One like it: named, not taken.
    const typo = await run("show", "target", "byets");
    expect([typo.status, typo.stderr]).toEqual([3, expect.stringMatching(/^shield: no target is named "byets"; did you mean "bytes"\?\n  [0-9a-f-]{36}  bytes \(bytes-target\)\n$/)]);
    await ok("delete", "job", "uxdemo-a", "-y");
    await ok("delete", "job", "uxdemo-b", "-y");
  });
});

describe("errors", () => {
  test("an unreachable core: one line, exit 3", async () => {
    const port = await freePort();
    const r = await run("list", "jobs", "--core", `http://127.0.0.1:${port}`);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe(`shield: cannot reach the Shield core at http://127.0.0.1:${port}: connection refused (set it with --core, SHIELD_CORE or shield login)\n`);
    expect(r.stdout).toBe("");
  });

  test("a bad token, and no token at all", async () => {
    const bad = await cli.run(["list", "jobs"], { env: { SHIELD_TOKEN: "shield_not-a-real-token" } });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/^shield: the core at http:\/\/127\.0\.0\.1:\d+ refused the token from SHIELD_TOKEN: invalid or revoked API token; run 'shield login' for a new one\n$/);
    const none = await cli.run(["list", "jobs"], { env: { SHIELD_TOKEN: undefined } });
    expect(none.status).toBe(3);
    expect(none.stderr).toContain("not signed in to");
    // --token wins over SHIELD_TOKEN.
    expect((await cli.run(["list", "jobs", "--token", token], { env: { SHIELD_TOKEN: "wrong" } })).status).toBe(0);
  });

  test("validation errors of the API come through with the field", async () => {
    const short = await run("create", "retention", "--name", "tiny", "--expires", "60");
    expect(short.status).toBe(3);
    expect(short.stderr).toBe("shield: invalid request body: expires: must be at least 3600 (one hour)\n");
    const badDir = await run("create", "store", "--name", "rel", "--plugin", "fs", "--endpoint", '{"base_dir":"relative"}');
    expect(badDir.status).toBe(3);
    expect(badDir.stderr).toContain("base_dir");
    const taken = await run("create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }));
    expect(taken.stderr).toMatch(/^shield: a store named "disk" already exists/);
  });

  test("bad flags are usage errors (exit 1) naming the flag, before anything is sent", async () => {
    const cases: [string[], string][] = [
      [["create", "retention", "--name", "x", "--expires", "soon"], '--expires: "soon" is not a duration'],
      [["create", "store", "--name", "x", "--plugin", "fs", "--endpoint", "{nope"], "--endpoint: not JSON"],
      [["create", "store", "--name", "x", "--plugin", "fs", "--endpoint", "[1]"], "--endpoint: must be a JSON object"],
      [["create", "target", "--summary", "x"], "missing --name, --plugin, --endpoint (there is no terminal to ask on)"],
      [["edit", "job", "slow"], "nothing to change: give one or more of --name"],
      [["list", "jobs", "--bogus"], "unknown option --bogus"],
      [["list", "archives", "--after", "yesterday"], "--after: must be a date as YYYYMMDD"],
      [["list", "jobs", "--paused", "--unpaused"], "--paused and --unpaused exclude each other"],
      [["show", "job"], "missing JOB; usage: shield show job JOB"],
      [["show"], "shield show what? One of: target, store"],
      [["frobnicate", "jobs"], 'unknown command "frobnicate'],
      [["create", "job", "--name", "x", "--priority", "101", "--target", "a", "--store", "b", "--schedule", "c", "--retention", "d"], "--priority: must be a whole number from 0 to 100"],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 1, stderr: expect.stringContaining(message) });
      expect(r.stderr.startsWith("shield: ")).toBe(true);
    }
  });

});

describe("users and tokens", () => {
  test("an admin creates, lists, edits and deletes users; passwords come from stdin, never argv", async () => {
    const made = await cli.run(["create", "user", "--name", "viv", "--role", "viewer", "--password-stdin", "--json"], { input: "viewer-password\n" });
    expect(made.status).toBe(0);
    const { uuid } = made.json();
    expect((await ok("list", "users", "--json")).json()).toEqual(await api("GET", "/v1/users"));
    expect((await ok("show", "user", "viv", "--json")).json()).toMatchObject({ uuid, name: "viv", role: "viewer" });
    // The new user signs in with that password and is a viewer: a create is refused, naming the role.
    const vivToken = (await fetch(`${d.url}/v1/auth/tokens`, {
      method: "POST", body: '{"name":"t"}',
      headers: { authorization: `Basic ${Buffer.from("viv:viewer-password").toString("base64")}`, "content-type": "application/json" },
    }).then((r) => r.json()) as any).token;
    const refused = await cli.run(["create", "schedule", "--name", "x", "--when", "daily"], { env: { SHIELD_TOKEN: vivToken } });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/^shield: POST \/v1\/schedules needs the operator role; user "viv" is viewer\n$/);
    expect((await cli.run(["list", "users"], { env: { SHIELD_TOKEN: vivToken } })).stderr).toContain("needs the admin role");
    await ok("edit", "user", "viv", "--role", "operator");
    expect((await cli.run(["whoami", "--json"], { env: { SHIELD_TOKEN: vivToken } })).json()).toMatchObject({ name: "viv", role: "operator" });
    const pw = await cli.run(["edit", "user", "viv", "--password-stdin"], { input: "another-password\n" });
    expect(pw.status).toBe(0);
    const basic = (p: string) => fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Basic ${Buffer.from(`viv:${p}`).toString("base64")}` } }).then((r) => r.status);
    expect(await basic("another-password")).toBe(200);
    expect(await basic("viewer-password")).toBe(401);
    const noPw = await run("create", "user", "--name", "nopw", "--role", "viewer");
    expect([noPw.status, noPw.stderr]).toEqual([1, expect.stringContaining("--password-stdin")]);
    const tooShort = await cli.run(["create", "user", "--name", "short", "--role", "viewer", "--password-stdin"], { input: "abc\n" });
    expect([tooShort.status, tooShort.stderr]).toEqual([3, expect.stringContaining("password: must be at least 8 characters")]);
    expect((await ok("delete", "user", "viv", "-y", "--json")).json()).toEqual({ ok: "deleted" });
    expect((await api("GET", "/v1/users")).map((u: any) => u.name)).toEqual(["admin"]);
    // The last admin stays: the API's 409 comes through.
    const last = await run("delete", "user", "admin", "-y");
    expect([last.status, last.stderr]).toEqual([3, expect.stringContaining("admin")]);
  });

  test("tokens: create prints the token once, list shows names only, delete revokes", async () => {
    const made = await ok("create", "token", "--name", "script");
    const newToken = made.stdout.trim();
    expect(newToken).toMatch(/^shield_/);
    expect(made.stderr).toContain("shown this once");
    expect((await cli.run(["whoami", "--json"], { env: { SHIELD_TOKEN: newToken } })).json().name).toBe("admin");
    const list = await ok("list", "tokens", "--json");
    expect(list.json().map((t: any) => t.name)).toContain("script");
    expect(list.stdout).not.toContain(newToken);
    expect((await ok("revoke", "token", "script", "-y", "--json")).json()).toEqual({ ok: "deleted" });
    expect((await cli.run(["whoami"], { env: { SHIELD_TOKEN: newToken } })).status).toBe(3);
  });
});

describe("help", () => {
  test("shield help lists every command; --help on each has usage and examples", async () => {
    const all = (await ok("help")).stdout;
    for (const line of ["shield list targets", "shield create retention policy", "shield restore archive ARCHIVE", "shield paused job JOB", "shield timespec", "shield login", "shield create user", "shield delete token TOKEN", "shield daemon"]) {
      expect(all).toContain(line);
    }
    const h = (await ok("run", "job", "--help")).stdout;
    expect(h).toContain("Usage: shield run job JOB [--follow]");
    expect(h).toContain("Examples:\n  shield run job");
    expect((await ok("help", "create", "store")).stdout).toContain("--endpoint ENDPOINT");
    expect((await ok("list", "--help")).stdout).toContain("shield list archives");
  });

  test("every command answers --help with its usage and at least one example, without a core", async () => {
    const { COMMANDS } = await import("../../src/cli/index.ts");
    expect(COMMANDS.length).toBeGreaterThan(45);
    const results = await Promise.all(COMMANDS.map(async (c) => {
      const words = [c.verb, ...(c.noun ? c.noun.split(" ") : [])];
      const r = await shield([...words, "--help"], { env: { SHIELD_CORE: "http://127.0.0.1:1" } });
      return { words, status: r.status, usage: r.stdout.startsWith(`Usage: shield ${c.usage}\n`), example: /Examples:\n  shield /.test(r.stdout) };
    }));
    for (const r of results) expect(r).toEqual({ words: r.words, status: 0, usage: true, example: true });
  });
});
