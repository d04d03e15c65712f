// The example external plugins in plain shell (plugins/examples/): they speak the
// protocol on their own, mix with the built-ins in a shell pipeline, and register
// with the daemon's plugin registry like any executable in a plugin directory.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginFailed, PluginRegistry } from "../../src/plugin-host/index.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const EXAMPLES = join(ROOT, "plugins/examples");
const SHELL_DIR = join(EXAMPLES, "shell-dir");
const SHELL_FILE = join(EXAMPLES, "shell-file");

interface Run { code: number; stdout: Buffer; stderr: string }

async function run(argv: string[], stdin?: Uint8Array): Promise<Run> {
  const proc = Bun.spawn(argv, { cwd: ROOT, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

let work: string;
let store: string;
let ep: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "shield-examples-"));
  store = join(work, "blobs");
  mkdirSync(store);
  ep = JSON.stringify({ dir: store });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe("the examples are plain executables", () => {
  test("POSIX shell, executable, documented", () => {
    for (const f of [SHELL_DIR, SHELL_FILE]) {
      expect(readFileSync(f, "utf8")).toStartWith("#!/bin/sh\n");
      expect(statSync(f).mode & 0o111).toBe(0o111);
    }
    const readme = readFileSync(join(EXAMPLES, "README.md"), "utf8");
    for (const word of ["info", "validate", "backup", "restore", "store", "retrieve", "purge", "endpoint_from", "SHIELD_ENDPOINT", "| 13 |"]) expect(readme).toContain(word);
  });

  test.each([["shell-dir", "store"], ["shell-file", "target"]])("%s info", async (name, role) => {
    const r = await run([join(EXAMPLES, name), "info"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout.toString());
    expect(info.features[role]).toBe("yes");
    expect(info.fields[0].required).toBe(true);
  });
});

describe("shell-dir, a store", () => {
  test("store, retrieve, purge: binary data survives, keys are generated", async () => {
    const data = randomBytes(2 << 20);
    const s = await run([SHELL_DIR, "store", "--endpoint", ep], data);
    expect(s.code).toBe(0);
    const { key, size } = JSON.parse(s.stdout.toString());
    expect(key).toMatch(/^\d{8}-\d{6}-[0-9a-f]{16}$/);
    expect(size).toBe(data.byteLength);
    expect(readdirSync(store)).toEqual([key]);
    const r = await run([SHELL_DIR, "retrieve", "-e", ep, "-k", key]);
    expect(r.code).toBe(0);
    expect(Buffer.compare(r.stdout, data)).toBe(0);
    expect((await run([SHELL_DIR, "purge", "-e", ep, "-k", key])).code).toBe(0);
    expect(readdirSync(store)).toEqual([]);
    expect((await run([SHELL_DIR, "purge", "-e", ep, "-k", key])).code).toBe(0);
    const gone = await run([SHELL_DIR, "retrieve", "-e", ep, "-k", key]);
    expect(gone.code).toBe(4);
    expect(gone.stderr.trim()).toBe(`shell-dir: no blob under key ${key}`);
  });

  test("a store killed under a partial id (SHIELD_PARTIAL_ID) leaves a file that purge --key partial:ID removes, idempotently", async () => {
    const id = crypto.randomUUID();
    const proc = Bun.spawn([SHELL_DIR, "store", "-e", ep], { cwd: ROOT, stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, SHIELD_PARTIAL_ID: id } });
    (proc.stdin as import("bun").FileSink).write(randomBytes(1 << 16));
    await (proc.stdin as import("bun").FileSink).flush();
    for (let i = 0; i < 200 && !readdirSync(store).length; i++) await Bun.sleep(10);
    proc.kill("SIGKILL");
    await proc.exited;
    await (proc.stdin as import("bun").FileSink).end(); // its cat goes too
    expect(readdirSync(store)).toEqual([`.${id}.partial`]);
    for (let i = 0; i < 2; i++) expect((await run([SHELL_DIR, "purge", "-e", ep, "-k", `partial:${id}`])).code).toBe(0);
    expect(readdirSync(store)).toEqual([]);
    expect((await run([SHELL_DIR, "purge", "-e", ep, "-k", "partial:../x"])).code).toBe(13);
  });

  test("the protocol's exit codes", async () => {
    expect((await run([SHELL_DIR])).code).toBe(1);
    expect((await run([SHELL_DIR, "backup", "-e", ep])).code).toBe(2);
    expect((await run([SHELL_DIR, "validate", "-e", "not json"])).code).toBe(10);
    expect((await run([SHELL_DIR, "retrieve", "-e", ep])).code).toBe(11);
    expect((await run([SHELL_DIR, "validate", "-e", "{}"])).code).toBe(12);
    expect((await run([SHELL_DIR, "validate", "-e", `{"dir": "relative"}`])).code).toBe(13);
    expect((await run([SHELL_DIR, "validate", "-e", JSON.stringify({ dir: join(work, "missing") })])).code).toBe(13);
    writeFileSync(join(work, "outside"), "secret");
    for (const key of ["../outside", "/etc/passwd", "a/b", "-rf"]) {
      const r = await run([SHELL_DIR, "retrieve", "-e", ep, "-k", key]);
      expect(r.code).toBe(13);
      expect(r.stdout.byteLength).toBe(0);
    }
    const v = await run([SHELL_DIR, "validate", "--endpoint", `{ "dir" : "${store}" }`]);
    expect(v.code).toBe(0);
    expect(v.stdout.toString()).toContain(store);
    expect((await run([SHELL_DIR, "test", "-e", ep])).code).toBe(0);
  });
});

describe("shell-file, a target", () => {
  test("backup and restore one file, replacing it whole", async () => {
    const file = join(work, "app.conf");
    writeFileSync(file, "v1\n");
    const fep = JSON.stringify({ path: file });
    const b = await run([SHELL_FILE, "backup", "-e", fep]);
    expect(b.code).toBe(0);
    expect(b.stdout.toString()).toBe("v1\n");
    writeFileSync(file, "v2 changed\n");
    expect((await run([SHELL_FILE, "restore", "-e", fep], b.stdout)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("v1\n");
    expect(readdirSync(work).sort()).toEqual(["app.conf", "blobs"]);
    const missing = await run([SHELL_FILE, "backup", "-e", JSON.stringify({ path: join(work, "nope") })]);
    expect(missing.code).toBe(4);
    expect((await run([SHELL_FILE, "store", "-e", fep])).code).toBe(2);
  });
});

describe("examples and built-ins in one shell pipeline", () => {
  test("shield plugin files backup | shell-dir store, then shell-dir retrieve | shield plugin files restore", async () => {
    const src = join(work, "tree");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "sub/a.bin"), randomBytes(100_000));
    writeFileSync(join(src, "b.txt"), "hello\n");
    const dst = join(work, "restored");
    const shield = `"${process.execPath}" "${MAIN}" plugin`;
    const backup = await run(["bash", "-c", `set -o pipefail; SHIELD_ENDPOINT='${JSON.stringify({ base_dir: src })}' ${shield} files backup | "${SHELL_DIR}" store --endpoint '${ep}'`]);
    expect(backup.code).toBe(0);
    const { key } = JSON.parse(backup.stdout.toString());
    const restore = await run(["bash", "-c", `set -o pipefail; "${SHELL_DIR}" retrieve --endpoint '${ep}' --key ${key} | SHIELD_ENDPOINT='${JSON.stringify({ base_dir: dst })}' ${shield} files restore`]);
    expect(restore.code).toBe(0);
    expect(readFileSync(join(dst, "sub/a.bin"))).toEqual(readFileSync(join(src, "sub/a.bin")));
    expect(readFileSync(join(dst, "b.txt"), "utf8")).toBe("hello\n");
  });
});

describe("registered from a plugin directory", () => {
  const registry = () => new PluginRegistry({ dirs: [EXAMPLES], self: [process.execPath, MAIN], builtins: builtinNames() });

  test("listed with their info next to the built-ins", async () => {
    const all = await registry().list();
    const byName = new Map(all.map((p) => [p.name, p]));
    expect(byName.get("shell-dir")?.source).toBe(SHELL_DIR);
    expect(byName.get("shell-dir")?.info.features.store).toBe("yes");
    expect(byName.get("shell-file")?.info.features.target).toBe("yes");
    expect(byName.get("fs")?.source).toBe("builtin");
    expect(byName.has("README.md")).toBe(false);
  });

  test("validate speaks through the registry: valid words back, invalid ones in the error", async () => {
    const reg = registry();
    expect(await (await reg.store({ plugin: "shell-dir", endpoint: ep })).validate()).toContain(store);
    const bad = await (await reg.store({ plugin: "shell-dir", endpoint: JSON.stringify({ dir: "relative" }) })).validate().catch((e) => e);
    expect(bad).toBeInstanceOf(PluginFailed);
    expect(bad.exitCode).toBe(13);
    expect(bad.message).toContain(`must be an absolute path, not "relative"`);
  });
});
