// What a start of the compiled binary evaluates before its role runs (issue 20: every
// stage of every backup starts `shield guard`, and some `shield plugin NAME`; their CPU
// is most of a small backup's fixed cost).
// - The build splits the bundle (package.json: --format=esm --splitting). Without it,
//   --bytecode writes CommonJS: one file for every module, import() included, whose top
//   level declares every module's functions at each start (~4.5 ms of CPU a start).
// - What the entry loads before it knows its role is main.ts's own few modules.
// - The roles started per stage load node:crypto only to encrypt (~2.5 ms a start),
//   and `shield plugin NAME` / `guard --in-process NAME` load that one plugin.
// Measured in bench/DATAPATH.md's fixed-cost table ("CPU of each kind of process").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

interface Metafile {
  inputs: Record<string, { imports: { path: string; kind: string; original?: string; external?: boolean }[] }>;
  outputs: Record<string, { inputs: Record<string, unknown>; imports: { path: string; kind: string }[]; entryPoint?: string }>;
}

let out: string;
let meta: Metafile;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "shield-startup-"));
  // As package.json's build bundles (less --compile and --bytecode, which do not change the chunks).
  const built = await Bun.build({ entrypoints: [join(ROOT, "src/main.ts")], root: ROOT, target: "bun", format: "esm", splitting: true, outdir: out, metafile: true });
  expect(built.success).toBe(true);
  meta = built.metafile as unknown as Metafile;
});

afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The chunk holding `input`, and every chunk it imports statically: what loading it evaluates. */
function loadedWith(input: string): { inputs: string[]; builtins: string[] } {
  const first = Object.entries(meta.outputs).find(([, o]) => input in o.inputs);
  if (!first) throw new Error(`${input} is in no chunk`);
  const seen = new Set<string>();
  const queue = [first[0]];
  while (queue.length) {
    const chunk = queue.pop()!;
    if (seen.has(chunk)) continue;
    seen.add(chunk);
    for (const i of meta.outputs[chunk]!.imports) if (i.kind === "import-statement") queue.push(i.path);
  }
  const inputs = [...seen].flatMap((c) => Object.keys(meta.outputs[c]!.inputs));
  const builtins = inputs.flatMap((i) => (meta.inputs[i]?.imports ?? [])
    .filter((x) => x.external && x.kind === "import-statement" && !x.path.startsWith("."))
    .map((x) => x.original ?? x.path));
  return { inputs, builtins: [...new Set(builtins)] };
}

const CRYPTO = ["node:crypto", "crypto"];

describe("what a start of the binary loads", () => {
  test("the build splits the bundle into chunks, ESM", () => {
    const build: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.build;
    expect(build).toContain("--compile");
    expect(build).toContain("--format=esm");
    expect(build).toContain("--splitting");
    expect(Object.keys(meta.outputs).length).toBeGreaterThan(10);
  });

  test("the entry, before its role: main.ts's own modules, no role's", () => {
    const { inputs } = loadedWith("src/main.ts");
    expect(inputs.filter((i) => !/^(src\/(main|version|args|edit-distance)\.ts|package\.json)$/.test(i))).toEqual([]);
  });

  test("shield guard: no node:crypto, no package, no plugin, unless it seals or runs one", () => {
    const { inputs, builtins } = loadedWith("src/pipeline/guard.ts");
    expect(builtins.filter((b) => CRYPTO.includes(b))).toEqual([]);
    expect(inputs.filter((i) => i.includes("node_modules/") || i.startsWith("plugins/") && i !== "plugins/one.ts")).toEqual([]);
  });

  test("the postgres target and the fs store: their own modules, no node:crypto", () => {
    for (const name of ["postgres", "fs"]) {
      const { inputs, builtins } = loadedWith(`plugins/${name}/index.ts`);
      expect(builtins.filter((b) => CRYPTO.includes(b))).toEqual([]);
      const others = inputs.filter((i) => i.startsWith("plugins/") && i.split("/").length > 2 && !i.startsWith(`plugins/${name}/`));
      expect(others).toEqual([]);
    }
  });
});
