// A plugin bound to an endpoint, as a Store or a Target: what each action runs
// (argv, environment), the same for a built-in and an external plugin, and the
// reference a built-in store gives its guard. Then the guard's side of that
// reference: it runs the built-in by name, and refuses a name it does not have.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { builtinNames } from "../../plugins/index.ts";
import { PluginRegistry, PluginUnfit } from "../../src/plugin-host/index.ts";
import { guardCommand } from "../../src/pipeline/guard.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = resolve(ROOT, "src/main.ts");
const FIXTURES = resolve(ROOT, "test/fixtures/plugins");
const SELF = [process.execPath, MAIN];
const registry = (opts: { allowPaths?: string[] } = {}) => new PluginRegistry({ dirs: [FIXTURES], self: SELF, builtins: builtinNames(), ...opts });
const secret = "s3cr3t-value";

describe("a built-in store (fs)", () => {
  const endpoint = JSON.stringify({ base_dir: "/srv/backups", note: secret });

  test("store, retrieve and purge run `shield plugin fs ACTION`, the endpoint in SHIELD_ENDPOINT, never in argv", async () => {
    const fs = await registry().store({ plugin: "fs", endpoint });
    const store = fs.store();
    expect(store.argv).toEqual([...SELF, "plugin", "fs", "store"]);
    expect(store.env.SHIELD_ENDPOINT).toBe(endpoint);
    expect(fs.retrieve("k1").argv).toEqual([...SELF, "plugin", "fs", "retrieve", "--key", "k1"]);
    expect(fs.purge("k1").argv).toEqual([...SELF, "plugin", "fs", "purge", "--key", "k1"]);
    // Without a key: the guard adds `--key KEY` to it itself.
    expect(fs.purge().argv).toEqual([...SELF, "plugin", "fs", "purge"]);
    for (const c of [store, fs.retrieve("k1"), fs.purge()]) expect(c.argv.join(" ")).not.toContain(secret);
  });

  test("it says what it is: a reference to run it in its guard, and the partial-blob contract from its info", async () => {
    const fs = await registry().store({ plugin: "fs", endpoint });
    expect(fs.inProcess).toBe(true);
    // Its blobs are local files: a restore's unsealing guard runs its retrieve and reads the file itself.
    expect(fs.localBlobs).toBe(true);
    expect(fs.partialBlobs).toBe(true);
    expect(fs.store().builtin).toEqual({ name: "fs", args: ["store"] });
    expect(fs.plugin.source).toBe("builtin");
    // A cloud store runs in its guard too, but its blobs are not files here: its retrieve stays a process in a restore.
    const s3 = await registry().store({ plugin: "s3", endpoint: JSON.stringify({ bucket: "b" }) });
    expect(s3.inProcess).toBe(true);
    expect(s3.localBlobs).toBe(false);
  });

  test("a plugin sees none of the daemon's own environment but the allow-listed, plus SHIELD_ALLOW_PATH when confined", async () => {
    process.env.SHIELD_MASTER_KEY = "never-to-a-plugin";
    try {
      const fs = await registry({ allowPaths: ["/srv/backups", "/data"] }).store({ plugin: "fs", endpoint });
      const { env } = fs.store();
      expect(env.SHIELD_MASTER_KEY).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH!);
      expect(env.SHIELD_ALLOW_PATH).toBe("/srv/backups:/data");
      expect((await registry().store({ plugin: "fs", endpoint })).store().env.SHIELD_ALLOW_PATH).toBeUndefined();
    } finally {
      delete process.env.SHIELD_MASTER_KEY;
    }
  });

  test("validate and test speak through the Store", async () => {
    const fs = await registry().store({ plugin: "fs", endpoint: JSON.stringify({ base_dir: "relative" }) });
    const err = await fs.validate().catch((e) => e);
    expect(err.exitCode).toBe(13);
    expect(err.message).toStartWith("plugin fs says the endpoint is invalid:");
  });
});

describe("an external plugin", () => {
  const endpoint = JSON.stringify({ dir: "/tmp/x" });

  test("an external store gets its endpoint by --endpoint (its info asks for nothing else) and no built-in reference", async () => {
    const dir = await registry().store({ plugin: "dir-store", endpoint });
    expect(dir.store().argv).toEqual([`${FIXTURES}/dir-store`, "store", "--endpoint", endpoint]);
    expect(dir.store().builtin).toBeUndefined();
    expect(dir.inProcess).toBe(false);
    expect(dir.localBlobs).toBe(false);
    expect(dir.partialBlobs).toBe(true);
  });

  test("a target's backup and restore; a plugin that cannot play a role is refused as that role", async () => {
    const t = await registry().target({ plugin: "bytes-target", endpoint });
    expect(t.backup().argv).toEqual([`${FIXTURES}/bytes-target`, "backup", "--endpoint", endpoint]);
    expect(t.restore().argv).toEqual([`${FIXTURES}/bytes-target`, "restore", "--endpoint", endpoint]);
    expect(await registry().target({ plugin: "dir-store", endpoint }).catch((e) => e)).toBeInstanceOf(PluginUnfit);
    expect(await registry().store({ plugin: "bytes-target", endpoint }).catch((e) => e)).toBeInstanceOf(PluginUnfit);
  });
});

describe("the guard runs a built-in store by reference", () => {
  test("--in-process NAME with no built-in store of that name: refused (exit 3), nothing run", async () => {
    for (const name of ["nosuch", "postgres"]) {
      const proc = Bun.spawn([...guardCommand(), "--held-fifo", "/tmp/shield-no-such-dir/fifo", "--seal", "--in-process", name, "--store", "--", "store"], {
        stdin: "ignore", stdout: "ignore", stderr: "pipe", ipc: () => {}, serialization: "json",
      });
      expect(await proc.exited).toBe(3);
      expect(await new Response(proc.stderr).text()).toContain(`--in-process ${name}: no built-in store of that name`);
    }
  });
});
