// The plugin protocol as every built-in speaks it: `shield plugin NAME ACTION ...`
// run as a real subprocess (from source: the same code the binary embeds).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EndpointInvalid, EndpointMissing, exec, ExecFailure, port, str, strList } from "../../plugins/protocol.ts";
import { builtinNames } from "../../plugins/index.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

interface Run { code: number; stdout: string; stderr: string }

async function shield(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "SHIELD_ENDPOINT") env[k] = v;
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: ROOT, env: { ...env, ...opts.env }, stdout: "pipe", stderr: "pipe",
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
const plugin = (args: string[], opts?: Parameters<typeof shield>[1]) => shield(["plugin", ...args], opts);

describe("shield plugin", () => {
  test("without a name lists the built-ins", async () => {
    const r = await plugin([]);
    expect(r.code).toBe(0);
    for (const name of ["fs", "files", "postgres", "rabbitmq", "redis", "script"]) expect(r.stdout).toMatch(new RegExp(`^\\s+${name}\\s`, "m"));
    expect(r.stdout).toMatch(/fs\s+store/);
    expect(r.stdout).toMatch(/postgres\s+target/);
    expect((await shield(["help"])).stdout).toContain("plugin");
  });

  test("an unknown plugin is one clear line and exit 1", async () => {
    const r = await plugin(["nosuch", "info"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`shield: no built-in plugin named "nosuch" (built-ins: ${builtinNames().join(", ")})`);
    expect(builtinNames()).toEqual(expect.arrayContaining(["files", "fs", "postgres", "rabbitmq", "azure", "script", "s3"]));
  });

  test.each(["fs", "files", "postgres", "rabbitmq", "redis", "script", "s3"])("%s info: JSON on stdout, endpoint from the environment, fields for forms", async (name) => {
    const r = await plugin([name, "info"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const info = JSON.parse(r.stdout);
    expect(info.name).toBe(name);
    expect(info.endpoint_from).toBe("env");
    expect(typeof info.version).toBe("string");
    expect(typeof info.author).toBe("string");
    expect(["yes", "no"]).toContain(info.features.target);
    expect(["yes", "no"]).toContain(info.features.store);
    expect(info.features.target === "yes" || info.features.store === "yes").toBe(true);
    expect(info.fields.length).toBeGreaterThan(0);
    for (const f of info.fields) {
      for (const k of ["name", "type", "title", "help"]) expect(typeof f[k]).toBe("string");
      expect(typeof f.required).toBe("boolean");
    }
  });

  test("usage errors: no action, stray argument, unknown option → exit 1", async () => {
    const none = await plugin(["fs"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("usage: shield plugin fs ACTION");
    const stray = await plugin(["fs", "validate", "extra", "-e", "{}"]);
    expect(stray.code).toBe(1);
    expect(stray.stderr.trim()).toBe(`fs: unexpected argument "extra"`);
    const opt = await plugin(["fs", "validate", "--frob", "x"]);
    expect(opt.code).toBe(1);
    expect(opt.stderr.trim()).toBe("fs: unknown option --frob");
    const help = await plugin(["fs", "help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("13 endpoint value invalid");
  });

  test("an action the plugin does not implement, or an unknown one → exit 2", async () => {
    const e = { env: { SHIELD_ENDPOINT: JSON.stringify({ base_dir: "/tmp" }) } };
    for (const [name, action] of [["fs", "backup"], ["fs", "restore"], ["postgres", "store"], ["files", "retrieve"], ["files", "test"], ["fs", "frobnicate"]] as const) {
      const r = await plugin([name, action], e);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`${name}: the action "${action}" is not supported by this plugin`);
      expect(r.stdout).toBe("");
    }
  });

  test("no endpoint at all → exit 1", async () => {
    const r = await plugin(["fs", "validate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("validate needs an endpoint: --endpoint JSON, or SHIELD_ENDPOINT");
  });

  test("bad JSON → exit 10, without echoing the endpoint (it may hold a password)", async () => {
    for (const bad of [`{"pg_user":"u","pg_password":"hunter2-secret"`, `not json hunter2-secret`]) {
      const r = await plugin(["postgres", "validate", "-e", bad]);
      expect(r.code).toBe(10);
      expect(r.stderr).toStartWith("postgres: the endpoint is not valid JSON");
      expect(r.stderr).not.toContain("hunter2");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    for (const notObject of ["[1,2]", "42", "null", `"s"`]) {
      const r = await plugin(["fs", "validate", "--endpoint", notObject]);
      expect(r.code).toBe(10);
      expect(r.stderr.trim()).toBe("fs: the endpoint must be a JSON object");
    }
  });

  test("a missing required key → 12; a wrong value → 13", async () => {
    const missing = await plugin(["fs", "validate", "-e", "{}"]);
    expect(missing.code).toBe(12);
    expect(missing.stderr.trim()).toBe(`fs: the endpoint lacks "base_dir", which is required`);
    const empty = await plugin(["postgres", "validate", "-e", `{"pg_user":""}`]);
    expect(empty.code).toBe(12);
    const wrongType = await plugin(["fs", "validate", "-e", `{"base_dir":["/tmp"]}`]);
    expect(wrongType.code).toBe(13);
    expect(wrongType.stderr.trim()).toBe(`fs: endpoint "base_dir" must be a string, not a list`);
    const badPort = await plugin(["postgres", "validate", "-e", `{"pg_user":"u","pg_port":"http"}`]);
    expect(badPort.code).toBe(13);
    expect(badPort.stderr.trim()).toBe(`postgres: endpoint "pg_port" must be a port number (1-65535)`);
  });

  test("retrieve and purge without --key → 11", async () => {
    const e = { env: { SHIELD_ENDPOINT: JSON.stringify({ base_dir: "/tmp" }) } };
    for (const action of ["retrieve", "purge"]) {
      const r = await plugin(["fs", action], e);
      expect(r.code).toBe(11);
      expect(r.stderr.trim()).toBe(`fs: ${action} needs the blob's key: --key KEY`);
    }
  });

  test("the endpoint comes from SHIELD_ENDPOINT, and --endpoint wins over it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-proto-"));
    const fromEnv = await plugin(["fs", "validate"], { env: { SHIELD_ENDPOINT: JSON.stringify({ base_dir: dir }) } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain(dir);
    const both = await plugin(["fs", "validate", "--endpoint", JSON.stringify({ base_dir: dir })], { env: { SHIELD_ENDPOINT: "{broken" } });
    expect(both.code).toBe(0);
    const short = await plugin(["fs", "validate", `--endpoint=${JSON.stringify({ base_dir: dir })}`]);
    expect(short.code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  test("validate writes lines for a human on stdout and never a secret", async () => {
    const r = await plugin(["postgres", "validate"], {
      env: { SHIELD_ENDPOINT: JSON.stringify({ pg_host: "db.invalid", pg_port: 5432, pg_user: "app", pg_password: "pw-never-shown", pg_database: "app" }) },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pg_host: db.invalid");
    expect(r.stdout).toContain("pg_port: 5432");
    expect(r.stdout).toContain("pg_password: (set)");
    expect(r.stdout + r.stderr).not.toContain("pw-never-shown");
  });
});

describe("endpoint values", () => {
  test("strings, with numbers accepted and empty counted as absent", () => {
    expect(str({ a: "x" }, "a")).toBe("x");
    expect(str({ a: 5432 }, "a")).toBe("5432");
    expect(str({ a: "" }, "a", { default: "d" })).toBe("d");
    expect(str({ a: null }, "a")).toBeUndefined();
    expect(() => str({}, "a", { required: true })).toThrow(EndpointMissing);
    expect(() => str({ a: true }, "a")).toThrow(EndpointInvalid);
    expect(() => str({ a: { b: 1 } }, "a")).toThrow('endpoint "a" must be a string, not object');
  });

  test("lists: a JSON array or one item a line", () => {
    expect(strList({ l: ["a", "b"] }, "l")).toEqual(["a", "b"]);
    expect(strList({ l: "a\n b \n\n" }, "l")).toEqual(["a", "b"]);
    expect(strList({}, "l")).toEqual([]);
    expect(() => strList({ l: [1] }, "l")).toThrow(EndpointInvalid);
  });

  test("ports", () => {
    expect(port({ p: 5432 }, "p")).toBe(5432);
    expect(port({ p: "6543" }, "p")).toBe(6543);
    expect(port({}, "p", 5432)).toBe(5432);
    for (const bad of ["0", "65536", "12a", "-1", 3.5]) expect(() => port({ p: bad }, "p")).toThrow(EndpointInvalid);
  });
});

describe("exec: the tools a plugin runs are checked", () => {
  test("a non-zero exit, a signal, a missing tool are ExecFailures (exit 3)", async () => {
    await expect(exec(["sh", "-c", "exit 7"], { stdout: "ignore", stderr: "pipe" })).rejects.toThrow("sh failed (exit 7)");
    await expect(exec(["sh", "-c", "kill -9 $$"], { stdout: "ignore" })).rejects.toThrow("sh was killed by SIGKILL");
    const missing = exec(["/nonexistent/pg_dump"], {}).catch((e) => e);
    expect(await missing).toBeInstanceOf(ExecFailure);
    expect((await missing).code).toBe(3);
    expect(((await missing) as Error).message).toContain("cannot run /nonexistent/pg_dump");
    expect((await exec(["sh", "-c", "exit 1"], { okCodes: [1] })).code).toBe(1);
  });

  test("feeds a stream through stdin, and reports the tool's failure when it stops reading early", async () => {
    const big = new Uint8Array(8 << 20).fill(120);
    const ok = await exec(["wc", "-c"], { stdin: new Response(big).body!, stdout: "pipe" });
    expect(ok.stdout.trim()).toBe(String(big.byteLength));
    await expect(exec(["sh", "-c", "head -c 10 >/dev/null; exit 3"], { stdin: new Response(big).body!, stdout: "ignore" })).rejects.toThrow("sh failed (exit 3)");
    // Exiting 0 without reading everything is a failure too: the data did not all arrive.
    await expect(exec(["sh", "-c", "head -c 10 >/dev/null"], { stdin: new Response(big).body!, stdout: "ignore" })).rejects.toThrow("sh stopped reading its input");
  });

  test("an error of the input stream is reported as ours, and the tool is stopped", async () => {
    let n = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (++n > 3) ctl.error(new Error("upstream broke"));
        else ctl.enqueue(new Uint8Array(1024));
      },
    });
    const started = Date.now();
    await expect(exec(["sh", "-c", "cat >/dev/null; sleep 30"], { stdin: failing, stdout: "ignore" })).rejects.toThrow("upstream broke");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
