// The compiled CLI's retention commands against a real daemon: --keep-* flags on
// create/edit retention policy (and --force on edit), `shield preview retention`
// over a job's real archives, and pin/unpin archive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor } from "../helpers/cli.ts";

const PASSWORD = "cli-admin-password";
let d: DaemonProcess;
let cli: ReturnType<typeof cliFor>;
let dir: string;
const run = (...args: string[]) => cli.run(args);
async function ok(...args: string[]) {
  const r = await run(...args);
  expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: expect.any(String) });
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-cli-gfs-"));
  d = await startShieldDaemon({
    args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins"), "--retention-max-purge-share", "25%"],
    env: { SHIELD_ADMIN_PASSWORD: PASSWORD, TZ: "Europe/Berlin" },
  });
  cli = cliFor(d, await adminToken(d, PASSWORD));
  await ok("create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }));
  await ok("create", "target", "--name", "bytes", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 1000 }));
  await ok("create", "schedule", "--name", "nightly", "--when", "daily at 4am");
}, 60_000);
afterAll(async () => {
  await d?.stop();
  cli?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("retention rules in the CLI", () => {
  test("create and edit a policy with --keep-* flags; show and list say the rules", async () => {
    const created = (await ok("create", "retention", "policy", "--name", "gfs", "--expires", "1h", "--keep-last", "3", "--keep-daily", "7", "--keep-within", "30d", "--json")).json();
    const shown = (await ok("show", "retention", "policy", "gfs", "--json")).json();
    expect(shown).toMatchObject({ uuid: created.uuid, expires: 3600, keep_last: 3, keep_daily: 7, keep_within: 30 * 86400, keep_weekly: 0 });
    expect((await ok("show", "policy", "gfs")).stdout).toMatch(/Rules:\s+last 3, daily 7, within 30d/);
    await ok("edit", "retention", "policy", "gfs", "--keep-monthly", "12", "--keep-within", "0", "--force");
    expect((await ok("show", "policy", "gfs", "--json")).json()).toMatchObject({ keep_last: 3, keep_daily: 7, keep_monthly: 12, keep_within: 0 });
    expect((await ok("list", "retention", "policies")).stdout).toMatch(/gfs\s+1h\s+last 3, daily 7, monthly 12/);
    const bad = await run("create", "policy", "--name", "x", "--expires", "1h", "--keep-daily", "many");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--keep-daily: must be a whole number from 0 to 100000, not "many"');
    // --force is for edit only.
    expect((await run("create", "policy", "--name", "y", "--expires", "1h", "--force")).status).not.toBe(0);
  });

  test("preview retention over a job's real archives; pin and unpin archive", async () => {
    await ok("create", "job", "--name", "bytes-gfs", "--target", "bytes", "--store", "disk", "--schedule", "nightly", "--retention", "gfs", "--paused");
    for (let i = 0; i < 3; i++) await ok("run", "job", "bytes-gfs", "--follow");
    const p = (await ok("preview", "retention", "gfs", "--job", "bytes-gfs", "--keep-last", "1", "--json")).json();
    expect(p).toMatchObject({ job_name: "bytes-gfs", zone: "Europe/Berlin", keep: 3, expire: 0, rules: { keep_last: 1, keep_daily: 7 } });
    // Fresh archives are all before their expiry; the newest is also the last one and the day's and month's;
    // the oldest is kept by the rules that still have slots left (as restic does).
    expect(p.archives.map((a: any) => a.kept_by)).toEqual([["not_expired", "keep_last", "keep_daily", "keep_monthly"], ["not_expired"], ["not_expired", "keep_daily", "keep_monthly"]]);
    const table = (await ok("preview", "retention", "gfs", "--job", "bytes-gfs")).stdout;
    expect(table).toMatch(/Kept by/);
    expect(table).toContain("rules: last 3, daily 7, monthly 12; periods in Europe/Berlin");
    expect(table).toContain("keeps 3, expires 0 of 3 archives of job bytes-gfs; 0 of them the job's current policy keeps");
    // A policy not saved yet.
    expect((await ok("preview", "retention", "--job", "bytes-gfs", "--keep-within", "12h", "--json")).json()).toMatchObject({ policy_uuid: null, rules: { keep_within: 43200, keep_last: 0 } });
    expect((await run("preview", "retention", "gfs")).stderr).toContain("--job is required");

    // Moving the job to a policy of a bare hour would purge nothing yet (the archives are fresh): no --force needed;
    // the flag is passed through all the same.
    await ok("create", "policy", "--name", "bare", "--expires", "1h");
    await ok("edit", "job", "bytes-gfs", "--retention", "bare", "--force");
    await ok("edit", "job", "bytes-gfs", "--retention", "gfs");

    const newest = p.archives[0].uuid;
    await ok("pin", "archive", newest, "--reason", "release 1.0");
    expect((await ok("show", "archive", newest)).stdout).toMatch(/Pinned:\s+yes: release 1.0 \(never expired\)/);
    const refused = await run("delete", "archive", newest, "-y");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("is pinned (release 1.0); unpin it first");
    await ok("unpin", "archive", newest);
    expect((await ok("show", "archive", newest, "--json")).json()).toMatchObject({ pinned: false, pin_reason: "" });
  }, 60_000);
});
