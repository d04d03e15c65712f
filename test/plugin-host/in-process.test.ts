// The built-ins a guard may run in its own process (plugin-host/in-process.ts) are
// loaded one by one (plugins/one.ts): that list must be index.ts's, plugin for plugin.
import { describe, expect, test } from "bun:test";
import { builtinNames, builtins } from "../../plugins/index.ts";
import { loadableBuiltins, loadBuiltin, localBlobStores } from "../../plugins/one.ts";
import { inProcessAction, inProcessRetrieve, inProcessStore } from "../../src/plugin-host/in-process.ts";

describe("built-ins run inside a guard", () => {
  test("plugins/one.ts loads exactly the built-ins of plugins/index.ts", async () => {
    expect([...loadableBuiltins].sort()).toEqual(builtinNames());
    for (const name of builtinNames()) expect(await loadBuiltin(name)).toBe(builtins.get(name)!);
    expect(await loadBuiltin("nope")).toBeUndefined();
    expect(await loadBuiltin("toString")).toBeUndefined();
  });

  test("plugins/one.ts lists as having local blobs exactly the built-in stores that say so, and only their retrieve hands a file over", async () => {
    const local = builtinNames().filter((n) => builtins.get(n)!.localBlobs);
    expect([...localBlobStores].sort()).toEqual(local);
    expect(local).toEqual(["fs"]);
    const handOver = async () => {};
    expect(await inProcessRetrieve("fs", ["retrieve", "--key", "k"], handOver)).toBeDefined();
    expect(await inProcessRetrieve("fs", ["store"], handOver)).toBeUndefined();
    expect(await inProcessRetrieve("s3", ["retrieve", "--key", "k"], handOver)).toBeUndefined();
    expect(await inProcessRetrieve("nope", ["retrieve", "--key", "k"], handOver)).toBeUndefined();
  });

  test("a target's backup and restore, a store's retrieve and a store's store run in process; nothing else does", async () => {
    expect(await inProcessAction("postgres", ["backup"])).toBeDefined();
    expect(await inProcessAction("postgres", ["restore"])).toBeUndefined();
    expect(await inProcessAction("fs", ["backup"])).toBeUndefined(); // a store has no backup
    expect(await inProcessAction("fs", ["retrieve", "--key", "k"])).toBeDefined();
    expect(await inProcessAction("s3", ["retrieve", "--key", "k"])).toBeDefined();
    expect(await inProcessAction("postgres", ["retrieve", "--key", "k"])).toBeUndefined(); // a target has no retrieve
    expect(await inProcessAction("fs", ["purge", "--key", "k"])).toBeUndefined();
    // On a held input: a target's restore, and nothing else.
    expect(await inProcessAction("postgres", ["restore"], { held: true })).toBeDefined();
    expect(await inProcessAction("mysql", ["restore"], { held: true })).toBeDefined();
    expect(await inProcessAction("postgres", ["backup"], { held: true })).toBeUndefined();
    expect(await inProcessAction("fs", ["retrieve", "--key", "k"], { held: true })).toBeUndefined();
    expect(await inProcessAction("nope", ["backup"])).toBeUndefined();
    expect(await inProcessStore("fs", ["store"])).toBeDefined();
    expect(await inProcessStore("postgres", ["store"])).toBeUndefined();
  });
});
