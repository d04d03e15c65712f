// The drill's actions as the plugin host runs them: `verify` answers figures
// (files: a real directory), a plugin without `verify` or `clean` is
// "unsupported" (exit 2), and the postgres `clean` refuses a database that is no
// scratch database before touching anything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginFailed, PluginRegistry } from "../../src/plugin-host/index.ts";

const ROOT = resolve(import.meta.dir, "../..");
const registry = () => new PluginRegistry({ dirs: [resolve(ROOT, "test/fixtures/plugins")], self: [process.execPath, resolve(ROOT, "src/main.ts")], builtins: builtinNames() });

describe("drill actions", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "shield-test-drill-actions-"));
    mkdirSync(join(dir, "a/b"), { recursive: true });
    writeFileSync(join(dir, "one"), "12345");
    writeFileSync(join(dir, "a/b/two"), new Uint8Array(300));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("files: verify counts files and bytes; clean empties the directory and keeps it", async () => {
    const t = await registry().target({ plugin: "files", endpoint: JSON.stringify({ base_dir: dir }) });
    expect(await t.verify()).toEqual({ summary: "2 files, 305 bytes, 2 directories, 0 symlinks", figures: { files: 2, bytes: 305, directories: 2, symlinks: 0 } });
    expect(await t.clean()).toContain("removed 2 entries");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("an external plugin without verify or clean: unsupported, not a failure", async () => {
    const t = await registry().target({ plugin: "bytes-target", endpoint: JSON.stringify({ size: 10, out: join(dir, "x") }) });
    expect(await t.verify()).toBe("unsupported");
    expect(await t.clean()).toBe("unsupported");
  });

  test("postgres: clean refuses the postgres and template databases, and a whole cluster", async () => {
    for (const db of ["postgres", "template1"]) {
      const t = await registry().target({ plugin: "postgres", endpoint: JSON.stringify({ pg_user: "x", pg_database: db, pg_host: "127.0.0.1", pg_port: 1 }) });
      const err = await t.clean().then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(PluginFailed);
      expect(err.message).toContain(`refuses database "${db}"`);
    }
    const cluster = await registry().target({ plugin: "postgres", endpoint: JSON.stringify({ pg_user: "x", pg_host: "127.0.0.1", pg_port: 1 }) });
    expect((await cluster.clean().then(() => undefined, (e) => e)).message).toContain("never a whole cluster");
  });
});
