// The CLI's notification and drill commands against the compiled daemon: secrets
// only on stdin (never argv), the test action against a real receiver, the
// deliveries list, and a drill set, shown and refused for a job's own target.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";

const PASSWORD = "cli-notify-password";
let d: DaemonProcess;
let cli: ReturnType<typeof cliFor>;
let hook: HttpReceiver;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-cli-notify-"));
  hook = await startHttpReceiver();
  d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  cli = cliFor(d, await adminToken(d, PASSWORD));
});
afterAll(async () => {
  await d?.stop();
  hook?.stop();
  cli?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("shield ... notification", () => {
  test("create with secrets on stdin; a secret in --setting is refused before anything is sent", async () => {
    const refused = await cli.run(["create", "notification", "--name", "hook", "--kind", "webhook", "--setting", `url=${hook.url}/x`]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("--settings-stdin");
    const r = await cli.run(["create", "notification", "--name", "hook", "--kind", "webhook", "--settings-stdin", "--event", "backup.failed", "--event", "drill.failed", "--json"],
      { input: JSON.stringify({ url: `${hook.url}/hook`, secret: "cli-secret" }) });
    expect(r.status).toBe(0);
    expect(r.json()).toMatchObject({ ok: "created" });
    const shown = await cli.run(["show", "notification", "hook"]);
    expect(shown.stdout).toContain("backup.failed, drill.failed");
    expect(shown.stdout).not.toContain("cli-secret");
    expect(shown.stdout).toContain("********");
    const list = await cli.run(["list", "notifications"]);
    expect(list.stdout).toMatch(/hook\s+webhook/);
  });

  test("edit keeps the secrets not given; test sends a signed message; deliveries list", async () => {
    expect((await cli.run(["edit", "notification", "hook", "--event", "backup.failed"])).status).toBe(0);
    const t = await cli.run(["test", "notification", "hook"]);
    expect(t.stdout).toContain("sent a test message");
    expect(hook.received.length).toBe(1);
    const got = hook.received[0]!;
    expect(got.headers["x-shield-signature"]).toBe(`sha256=${createHmac("sha256", "cli-secret").update(got.body).digest("hex")}`);
    hook.status = 500;
    const failed = await cli.run(["test", "notification", "hook"]);
    expect(failed.status).toBe(3);
    expect(failed.stderr).toContain("answered 500");
    hook.status = 200;
    expect((await cli.run(["list", "deliveries"])).stdout).toContain("(no deliveries)");
  });
});

describe("shield ... drill", () => {
  test("edit drill refuses the job's own target, sets a scratch one; show drill says it never ran", async () => {
    const mk = async (...args: string[]) => {
      const r = await cli.run([...args, "--json"]);
      expect(r.status).toBe(0);
      return r.json().uuid as string;
    };
    await mk("create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: dir }));
    await mk("create", "target", "--name", "src", "--plugin", "files", "--endpoint", JSON.stringify({ base_dir: dir }));
    await mk("create", "target", "--name", "scratch", "--plugin", "files", "--endpoint", JSON.stringify({ base_dir: join(dir, "scratch") }));
    await mk("create", "schedule", "--name", "weekly", "--when", "weekly at 3am on sunday");
    await mk("create", "retention", "--name", "week", "--expires", "7d");
    await mk("create", "job", "--name", "files-job", "--target", "src", "--store", "disk", "--schedule", "weekly", "--retention", "week", "--paused");
    const own = await cli.run(["edit", "drill", "files-job", "--target", "src", "--schedule", "weekly"]);
    expect(own.status).toBe(3);
    expect(own.stderr).toContain("never the job's own target");
    expect((await cli.run(["edit", "drill", "files-job", "--target", "scratch", "--schedule", "weekly"])).status).toBe(0);
    const shown = await cli.run(["show", "drill", "files-job"]);
    expect(shown.stdout).toContain("(never ran)");
    expect((await cli.run(["list", "drills", "files-job"])).stdout).toContain("(no drills yet)");
  });

  test("a drill of a files archive counts the files and their bytes, then empties the scratch directory", async () => {
    await Bun.write(join(dir, "a.txt"), "hello");
    await Bun.write(join(dir, "sub", "b.bin"), new Uint8Array(1000));
    expect((await cli.run(["run", "job", "files-job", "--follow"])).status).toBe(0);
    expect((await cli.run(["run", "drill", "files-job"])).status).toBe(0);
    let rows: any[] = [];
    for (let i = 0; i < 300 && !rows.length; i++) {
      rows = (await cli.run(["list", "drills", "files-job", "--json"])).json();
      if (!rows.length) await Bun.sleep(100);
    }
    expect(rows[0]).toMatchObject({ ok: true, error: null });
    expect(rows[0].rto_ms).toBeGreaterThan(0);
    // The store's own directory is part of the tree backed up: count what the source holds besides it.
    expect(rows[0].figures.files).toBeGreaterThanOrEqual(2);
    expect(rows[0].figures.bytes).toBeGreaterThanOrEqual(1005);
    expect((await cli.run(["show", "drill", "files-job"])).stdout).toMatch(/RTO:\s+\d+\.\d s/);
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(join(dir, "scratch"))).toEqual([]);
  });
});
