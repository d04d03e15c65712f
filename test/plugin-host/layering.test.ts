// The plugin host (src/plugin-host) is the daemon's one way to plugins. Only the
// core, the supervisor, the pipeline and the daemon import it; the API reaches
// plugins through the core, and the web UI and CLI (clients of the API) never
// load it at all, not even through other modules.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const HOST = join(ROOT, "src/plugin-host");
// The agent (src/agent) runs plugins on a data host, as the daemon does here.
const MAY_IMPORT = ["src/core/", "src/supervisor/", "src/pipeline/", "src/daemon/", "src/agent/", "src/plugin-host/"];

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(ts|tsx)$/.test(f)).map((f) => join(dir, f));
}

/** Every import of a module, `import type` included (`types`), or value imports only. */
function imports(file: string, types: boolean): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']/gms)) if (types || !m[2]) found.push(m[3]!);
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts")]) {
    if (existsSync(candidate) && /\.(ts|tsx)$/.test(candidate)) return candidate;
  }
  return undefined;
}

/** Follows value imports from the roots; returns the chains that end in the plugin host. */
function chainsToHost(roots: string[]): { reached: string[]; seen: number } {
  const seen = new Map<string, string | undefined>();
  const queue = roots.map((f) => [f, undefined] as [string, string | undefined]);
  const reached: string[] = [];
  while (queue.length) {
    const [file, via] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.set(file, via);
    if (file.startsWith(HOST + "/")) {
      const chain = [relative(ROOT, file)];
      for (let v = via; v; v = seen.get(v)) chain.unshift(relative(ROOT, v));
      reached.push(chain.join(" → "));
      continue;
    }
    for (const spec of imports(file, false)) {
      const next = resolveLocal(file, spec);
      if (next) queue.push([next, file]);
    }
  }
  return { reached, seen: seen.size };
}

describe("layering of the plugin host", () => {
  test("only the core, supervisor, pipeline and daemon import src/plugin-host (types included)", () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "views"))]) {
      const rel = relative(ROOT, file);
      if (MAY_IMPORT.some((p) => rel.startsWith(p))) continue;
      for (const spec of imports(file, true)) {
        const target = resolveLocal(file, spec);
        if (target?.startsWith(HOST + "/")) offenders.push(`${rel} imports ${relative(ROOT, target)}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the web UI and the CLI do not load it through any other module either", () => {
    const roots = [...sources(join(ROOT, "src/web")), ...sources(join(ROOT, "views")), join(ROOT, "src/cli/index.ts")];
    const { reached, seen } = chainsToHost(roots);
    expect(reached).toEqual([]);
    expect(seen).toBeGreaterThan(roots.length);
  });

  test("the plugin host imports nothing of the daemon's other parts (it is below them all)", () => {
    const offenders: string[] = [];
    for (const file of sources(HOST)) {
      for (const spec of imports(file, true)) {
        const target = resolveLocal(file, spec);
        const rel = target && relative(ROOT, target);
        if (rel && rel.startsWith("src/") && !rel.startsWith("src/plugin-host/")) offenders.push(`${relative(ROOT, file)} imports ${rel}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the checks see what they must catch", () => {
    // The daemon loads the host; so does the API, through the core.
    expect(chainsToHost([join(ROOT, "src/daemon/index.ts")]).reached.length).toBeGreaterThan(0);
    expect(chainsToHost([join(ROOT, "src/api/index.ts")]).reached.some((c) => c.includes("src/core/"))).toBe(true);
  });
});
