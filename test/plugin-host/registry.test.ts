// The plugin registry's choice of a plugin for a role: an external plugin may take
// a built-in's name, and when it cannot play the role the built-in could, the
// refusal names both (the backup, restore and purge paths resolve through it too).
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { PluginRegistry, PluginUnfit } from "../../src/plugin-host/index.ts";
import { builtinNames } from "../../plugins/index.ts";

const ROOT = resolve(import.meta.dir, "../..");
// Fakes of the original Shield's plugins: its fs is a target only.
const ORIGINAL = resolve(ROOT, "test/fixtures/plugins/original");

describe("PluginRegistry.resolveAs", () => {
  const registry = new PluginRegistry({ dirs: [ORIGINAL], self: [process.execPath, resolve(ROOT, "src/main.ts")], builtins: builtinNames() });

  test("an external target-only fs asked for as a store: the error names it and the built-in fs store it shadows", async () => {
    const err = await registry.resolveAs("fs", "store").catch((e) => e);
    expect(err).toBeInstanceOf(PluginUnfit);
    expect(err.message).toBe(`plugin fs is ${ORIGINAL}/fs, which can only be a target; it shadows the built-in fs store: remove or rename ${ORIGINAL}/fs to use the built-in`);
  });

  test("as the role it can play, the external plugin is the one chosen", async () => {
    expect((await registry.resolveAs("fs", "target")).source).toBe(`${ORIGINAL}/fs`);
  });

  test("when the built-in could not play the role either, the refusal is the plain one", async () => {
    // The built-in postgres is no store, and neither is the original one shadowing it.
    expect((await registry.resolveAs("postgres", "store").catch((e) => e)).message).toBe("plugin postgres cannot be used as a store");
    expect((await registry.resolveAs("redis-broker", "store").catch((e) => e)).message).toBe("plugin redis-broker cannot be used as a store");
  });
});
