// `shield run job … --follow` draws the task's live progress: a bar with bytes,
// percentage, rate and ETA on a terminal, redrawn in place; plain lines (one per
// phase, then one every few seconds) when stderr is not a terminal. And
// `shield test target|store X`, the plugin's live test, on the same daemon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SHIELD_BIN, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { openTerminal, tmuxAvailable, type Terminal } from "../helpers/terminal.ts";

const PASSWORD = "cli-progress-password";
const PIECE = 65536;

describe("--follow draws the live progress", () => {
  let d: DaemonProcess;
  let cli: ReturnType<typeof cliFor>;
  let token: string;
  let storeDir: string;
  let term: Terminal | undefined;
  const run = (...args: string[]) => cli.run(args, { timeoutMs: 60_000 });

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "shield-test-cli-progress-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    token = await adminToken(d, PASSWORD);
    cli = cliFor(d, token);
    for (const args of [
      ["create", "store", "--name", "disk", "--plugin", "fs", "--endpoint", JSON.stringify({ base_dir: storeDir })],
      // 48 pieces of 64 KiB, 0.1 s apart: about 5 s.
      ["create", "target", "--name", "slow", "--plugin", "bytes-target", "--endpoint", JSON.stringify({ size: 48 * PIECE, trickle: "0.1" })],
      ["create", "schedule", "--name", "nightly", "--when", "daily at 4am"],
      ["create", "retention", "policy", "--name", "month", "--expires", "30d"],
      ["create", "job", "--name", "slow", "--target", "slow", "--store", "disk", "--schedule", "nightly", "--retention", "month", "--paused", "--compression", "gzip"],
    ]) {
      const r = await run(...args);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: "" });
    }
  }, 60_000);
  afterAll(async () => {
    term?.close();
    await d?.stop();
    cli?.cleanup();
    rmSync(storeDir, { recursive: true, force: true });
  });

  test("not a terminal: plain progress lines, phase first, then every few seconds", async () => {
    const r = await run("run", "job", "slow", "--follow");
    expect(r.status).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l.includes("dumping"));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    // No terminal codes: a log file gets lines.
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("\x1b[");
    expect(lines[0]).toMatch(/^task [0-9a-f]{8} running · \d+ s · dumping [\d.]+ (B|KiB|MiB)/);
    expect(r.stderr).toMatch(/task [0-9a-f]{8} done: archive/);
  }, 60_000);

  test.skipIf(!tmuxAvailable)("on a terminal: a bar with bytes of the estimated total, percentage, rate and ETA, redrawn in place", async () => {
    term = openTerminal([SHIELD_BIN, "run", "job", "slow", "--follow"], {
      SHIELD_CORE: d.url, SHIELD_TOKEN: token, XDG_CONFIG_HOME: cli.config, TERM: "xterm",
    });
    // The second run estimates from the first: 3.0 MiB.
    const screen = await term.waitFor(/\[#+\.*\] dumping [\d.]+ (KiB|MiB) of ~3\.0 MiB \(\d+ %\) · [\d.]+ (KiB|MiB)\/s · about \d+ s left/, 30_000);
    // Drawn in place: one progress line on the screen, not one per poll.
    expect(screen.split("\n").filter((l) => l.includes("dumping")).length).toBe(1);
    const end = await term.waitFor(/task [0-9a-f]{8} done: archive/, 30_000);
    expect(end).not.toMatch(/dumping/);
    expect(await term.exit()).toBe(0);
  }, 60_000);

  test("shield test store / target: the plugin's lines; exit 0 when it works, 3 when the test failed", async () => {
    const ok = await run("test", "store", "disk");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("store disk: connection ok");
    const json = await run("test", "store", "disk", "--json");
    expect(json.json()).toMatchObject({ ok: true });
    // The bytes-target fixture has no `test` action.
    const failed = await run("test", "target", "slow");
    expect(failed.status).toBe(3);
    expect(failed.stdout).toContain("'test' failed");
    expect(failed.stdout).toContain("target slow: connection test FAILED");
    const missing = await run("test", "store", "nope");
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain("nope");
  }, 60_000);
});
